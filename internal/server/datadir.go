package server

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/slipway-dev/slipway/internal/pki"
)

// dataDir is the layout of --data-dir: everything Slipway generates at first
// start and keeps across restarts.
type dataDir string

func (d dataDir) path(name string) string  { return filepath.Join(string(d), name) }
func (d dataDir) pki() pki.Files           { return pki.FilesIn(string(d)) }
func (d dataDir) etcd() string             { return d.path("etcd") }
func (d dataDir) etcdPKI() string          { return d.path("etcd-pki") }
func (d dataDir) adminToken() string       { return d.path("admin.token") }
func (d dataDir) adminKubeconfig() string  { return d.path("admin.kubeconfig") }
func (d dataDir) encryptionConfig() string { return d.path("encryption-config.yaml") }

// prepare creates the directory, certificates, admin token and encryption
// key on first start and returns the admin token.
func (d dataDir) prepare(listen string) (string, error) {
	if err := os.MkdirAll(string(d), 0o700); err != nil {
		return "", err
	}
	// Keys, tokens and etcd's data are inside: only the server's user
	// may look in.
	if fi, err := os.Stat(string(d)); err != nil {
		return "", err
	} else if fi.Mode().Perm()&0o077 != 0 {
		slog.Warn("data directory was open to other users; now 0700", "dir", string(d), "mode", fi.Mode().Perm().String())
		if err := os.Chmod(string(d), 0o700); err != nil {
			return "", err
		}
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return "", err
	}
	hosts := []string{"127.0.0.1", "localhost", "::1"}
	if host != "" && host != "0.0.0.0" && host != "::" {
		hosts = append(hosts, host)
	}
	if name, err := os.Hostname(); err == nil && name != "" {
		hosts = append(hosts, name)
	}
	if err := pki.Ensure(d.pki(), hosts); err != nil {
		return "", fmt.Errorf("certificates in %s: %w", d, err)
	}
	token, err := readOrCreate(d.adminToken(), func() (string, error) { return randomToken(32) })
	if err != nil {
		return "", err
	}
	if _, err := readOrCreate(d.encryptionConfig(), newEncryptionConfig); err != nil {
		return "", err
	}
	return token, nil
}

// writeAdminKubeconfig writes a kubeconfig for the admin, pointing at server.
func (d dataDir) writeAdminKubeconfig(server, token string) error {
	ca, err := os.ReadFile(d.pki().CACert)
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cluster := clusterNick(server)
	user := "system:admin/" + cluster
	ctx := "default/" + cluster + "/system:admin"
	cfg.Clusters[cluster] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[ctx] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: user, Namespace: "default"}
	cfg.CurrentContext = ctx
	return clientcmd.WriteToFile(*cfg, d.adminKubeconfig())
}

// clusterNick names a cluster as oc does: the host:port with dots and
// colons turned into dashes ("127-0-0-1:8443").
func clusterNick(server string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
	return strings.ReplaceAll(s, ".", "-")
}

func readOrCreate(path string, create func() (string, error)) (string, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(data)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	value, err := create()
	if err != nil {
		return "", err
	}
	return value, os.WriteFile(path, []byte(value+"\n"), 0o600)
}

func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// newEncryptionConfig encrypts secrets with AES-CBC under a fresh key;
// identity stays as a read-only fallback for data written before.
func newEncryptionConfig() (string, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	return fmt.Sprintf(`apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources:
  - secrets
  providers:
  - aescbc:
      keys:
      - name: key1
        secret: %s
  - identity: {}
`, base64.StdEncoding.EncodeToString(key)), nil
}

// layoutVersion is the data directory's layout: 1 was Slipway's own core
// API on etcd; 2 is the Kubernetes control plane with the OpenShift API
// server aggregated. Objects of layout 1 are read by the kube-apiserver
// where they are (same keys, JSON, the same encryption key) but for
// ReplicationControllers and Services, which are moved (layout1.go);
// service account tokens of layout 1 are not signed and are replaced by
// the service account controller.
const layoutVersion = 2

func (d dataDir) layoutFile() string { return d.path("layout") }

// checkLayout reports whether the data directory's objects must be migrated
// from layout 1 before they are served (a new directory's etcd is simply
// empty); it refuses a directory written by a newer Slipway. The layout is
// recorded by recordLayout once the migration is done.
func (d dataDir) checkLayout() (migrate bool, err error) {
	data, err := os.ReadFile(d.layoutFile())
	switch {
	case errors.Is(err, os.ErrNotExist):
		if _, statErr := os.Stat(d.etcd()); statErr == nil {
			slog.Info("data directory of layout 1 found: its objects are served by the Kubernetes control plane from now on; service account tokens are issued again", "dir", string(d))
		}
		return true, nil
	case err != nil:
		return false, err
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || v < 1 {
		return false, fmt.Errorf("%s: not a layout version: %q", d.layoutFile(), data)
	}
	if v > layoutVersion {
		return false, fmt.Errorf("%s was written by a newer Slipway (layout %d; this one knows up to %d): run that version, or start with a new --data-dir", string(d), v, layoutVersion)
	}
	return v < layoutVersion, nil
}

// recordLayout writes the current layout into the data directory.
func (d dataDir) recordLayout() error {
	return os.WriteFile(d.layoutFile(), fmt.Appendf(nil, "%d\n", layoutVersion), 0o600)
}

// openshiftListener listens for the OpenShift API server on loopback: on
// the port it had at the previous start when that is free (the
// APIServices and the webhook name it until they are updated), else on a
// new one, which it records.
func (d dataDir) openshiftListener() (net.Listener, error) {
	file := d.path("controlplane/openshift-apiserver.port")
	if data, err := os.ReadFile(file); err == nil {
		if ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strings.TrimSpace(string(data)))); err == nil {
			return ln, nil
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		ln.Close()
		return nil, err
	}
	if err := os.WriteFile(file, []byte(port+"\n"), 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}
