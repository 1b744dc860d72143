// Package buildtest starts the real parts a build test needs: Debian's
// docker-registry with htpasswd auth and TLS from a test CA, a busybox base
// image made from Debian's busybox-static, and buildkitd under the
// supervisor. Used by the build and builder tests and by bench/.
package buildtest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/slipway-dev/slipway/internal/buildkit"
)

// Registry is a running docker-registry with htpasswd auth and TLS.
type Registry struct {
	// Host is 127.0.0.1:<port>.
	Host     string
	CAFile   string
	User     string
	Password string
	pool     *x509.CertPool
}

// RequireRoot skips tests that need buildkitd's runc worker.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("buildkitd's runc worker needs root; run the build tests as root")
	}
}

// FreePort returns a loopback host:port nobody listens on right now.
func FreePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// StartRegistry runs Debian's docker-registry on a free loopback port, with
// TLS from a fresh test CA and htpasswd auth for user/password.
func StartRegistry(t testing.TB, user, password string) *Registry {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatalf("docker-registry not installed (apt-get install docker-registry; hack/install-deps.sh): %v", err)
	}
	dir := t.TempDir()
	host := FreePort(t)
	caPEM, certPEM, keyPEM := Certificates(t)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile := write("ca.pem", caPEM)
	certFile := write("server.pem", certPEM)
	keyFile := write("server-key.pem", keyPEM)
	htpasswd, err := exec.Command("htpasswd", "-Bbn", user, password).Output()
	if err != nil {
		t.Fatalf("htpasswd (apt-get install apache2-utils): %v", err)
	}
	htpasswdFile := write("htpasswd", htpasswd)
	config := write("config.yml", []byte(fmt.Sprintf(`version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
  tls:
    certificate: %s
    key: %s
auth:
  htpasswd:
    realm: test-registry
    path: %s
`, filepath.Join(dir, "storage"), host, certFile, keyFile, htpasswdFile)))
	logFile, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", config)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting docker-registry: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logFile.Close()
	})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	r := &Registry{Host: host, CAFile: caFile, User: user, Password: password, pool: pool}
	client := r.HTTPClient()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get("https://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return r
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile.Name())
			t.Fatalf("docker-registry on %s did not answer: %v\n%s", host, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// HTTPClient trusts the registry's CA.
func (r *Registry) HTTPClient() *http.Client {
	return &http.Client{Transport: r.Transport(), Timeout: 30 * time.Second}
}

// Transport trusts the registry's CA.
func (r *Registry) Transport() http.RoundTripper {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: r.pool}
	return tr
}

// Options are go-containerregistry options with the registry's login.
func (r *Registry) Options() []remote.Option {
	return []remote.Option{
		remote.WithTransport(r.Transport()),
		remote.WithAuth(&authn.Basic{Username: r.User, Password: r.Password}),
	}
}

// DockerConfig is a .dockerconfigjson for the registry with password.
func (r *Registry) DockerConfig(password string) []byte {
	return fmt.Appendf(nil, `{"auths":{"https://%s":{"auth":%q}}}`, r.Host,
		base64.StdEncoding.EncodeToString([]byte(r.User+":"+password)))
}

// Image fetches an image from the registry.
func (r *Registry) Image(t testing.TB, ref string) v1.Image {
	t.Helper()
	parsed, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(parsed, r.Options()...)
	if err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	return img
}

// PushBusybox pushes a busybox image made from Debian's busybox-static
// (/bin/busybox plus one symlink per applet) to <registry>/library/busybox:latest
// and returns that reference.
func PushBusybox(t testing.TB, r *Registry) string {
	t.Helper()
	// Config first, then the layer: AppendLayers fills rootfs and history.
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: "amd64",
		OS:           "linux",
		Config: v1.Config{
			Cmd: []string{"sh"},
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.AppendLayers(img, busyboxLayer(t))
	if err != nil {
		t.Fatal(err)
	}
	ref := r.Host + "/library/busybox:latest"
	parsed, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(parsed, img, r.Options()...); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return ref
}

func busyboxLayer(t testing.TB) v1.Layer {
	t.Helper()
	bin, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("reading /bin/busybox (apt-get install busybox-static): %v", err)
	}
	list, err := exec.Command("/bin/busybox", "--list-full").Output()
	if err != nil {
		t.Fatalf("busybox --list-full: %v", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Unix(0, 0)
	dirs := map[string]bool{}
	dir := func(d string) {
		for _, part := range parents(d) {
			if dirs[part] {
				continue
			}
			dirs[part] = true
			must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: part + "/", Mode: 0o755, ModTime: now}))
		}
	}
	dir("bin")
	dir("tmp")
	must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bin)), ModTime: now}))
	_, err = tw.Write(bin)
	must(t, err)
	for _, applet := range strings.Fields(string(list)) {
		if applet == "bin/busybox" {
			continue
		}
		dir(filepath.Dir(applet))
		must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: applet, Linkname: "/bin/busybox", Mode: 0o777, ModTime: now}))
	}
	must(t, tw.Close())
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return layer
}

// parents lists d and its parents, outermost first ("usr", "usr/bin").
func parents(d string) []string {
	var out []string
	for d != "." && d != "/" && d != "" {
		out = append([]string{d}, out...)
		d = filepath.Dir(d)
	}
	return out
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// BuildkitdBinary finds bin/buildkitd: $SLIPWAY_BUILDKITD, else bin/ at the
// repository root above the working directory (`make bin/buildkitd`).
func BuildkitdBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SLIPWAY_BUILDKITD"); p != "" {
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "hack", "tools", "buildkitd")); err == nil {
				p := filepath.Join(dir, "bin", "buildkitd")
				if _, err := os.Stat(p); err != nil {
					t.Fatalf("%s missing: run `make bin/buildkitd` first", p)
				}
				return p
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repository root not found; set SLIPWAY_BUILDKITD")
		}
		dir = parent
	}
}

// StartBuildkitd starts buildkitd under the supervisor in a temp data dir,
// trusting the registries' CAs, and stops it at cleanup.
func StartBuildkitd(t testing.TB, registries ...*Registry) *buildkit.Daemon {
	t.Helper()
	RequireRoot(t)
	cfg := buildkit.Config{Binary: BuildkitdBinary(t), DataDir: shortTempDir(t)}
	for _, r := range registries {
		cfg.RegistryCAs = append(cfg.RegistryCAs, r.Host+"="+r.CAFile)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := buildkit.Start(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("starting buildkitd: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		<-d.Done()
	})
	return d
}

// shortTempDir is a temp dir with a short path: buildkitd's unix socket
// path must fit in 108 bytes.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "bk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// Certificates makes a CA and a server certificate for 127.0.0.1/localhost.
func Certificates(t testing.TB) (caPEM, certPEM, keyPEM []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "slipway test registry CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	must(t, err)
	ca, err := x509.ParseCertificate(caDER)
	must(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	must(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}
