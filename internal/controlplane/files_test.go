package controlplane

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

// The components' kubeconfigs ask for uncompressed responses: the server
// would otherwise gzip each watch event of a watch-list to a client in the
// same process (~5 ms of CPU per warm build, bench/startbuild profile).
func TestComponentKubeconfigDisablesCompression(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"ca.crt", "c.crt", "c.key"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("placeholder"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "c.kubeconfig")
	if err := writeKubeconfig(path, "https://127.0.0.1:6443", filepath.Join(dir, "ca.crt"), filepath.Join(dir, "c.crt"), filepath.Join(dir, "c.key")); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.DisableCompression {
		t.Error("a component's client config asks for compressed responses")
	}
	if cfg.Host != "https://127.0.0.1:6443" || cfg.CertFile != filepath.Join(dir, "c.crt") {
		t.Errorf("client config %s, cert %s; want the server and certificate written", cfg.Host, cfg.CertFile)
	}
}
