// Package testregistry runs Debian's docker-registry (CNCF distribution
// 2.8) for tests: on a free loopback port, with or without htpasswd auth,
// TLS from a fresh test CA or plain HTTP, and notification endpoints; plus
// helpers that push random images, images with a given config, and
// two-platform manifest lists with go-containerregistry.
package testregistry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Endpoint is a notification endpoint the registry posts event envelopes
// to, with "Authorization: Bearer <Token>" when Token is set.
type Endpoint struct {
	URL   string
	Token string
}

// Options say how the registry runs.
type Options struct {
	// User and Password enable htpasswd auth; an empty User means none.
	User, Password string
	// TLS serves HTTPS with a certificate from a fresh test CA (CAFile,
	// Pool); otherwise plain HTTP.
	TLS bool
	// Notify lists notification endpoints (threshold 1, 1 s timeout and
	// backoff, so tests see events at once).
	Notify []Endpoint
	// Address is the IP the registry listens on; default 127.0.0.1. A
	// non-loopback one makes the "remote" registry imports may reach over
	// plain HTTP only when named insecure.
	Address string
	// Env is added to the registry process's environment (e.g.
	// SSL_CERT_FILE, so that notifications trust an endpoint's CA).
	Env []string
}

// Registry is a running docker-registry.
type Registry struct {
	// Host is 127.0.0.1:<port>.
	Host string
	// CAFile is the PEM file of the CA that signed the TLS certificate
	// (empty without TLS); Pool holds the same CA.
	CAFile string
	Pool   *x509.CertPool
	// User and Password are the htpasswd login (empty without auth).
	User, Password string
	// TLS is whether the registry speaks HTTPS.
	TLS bool
	// Dir holds the config, storage and registry.log.
	Dir string
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

// Start runs Debian's docker-registry on a free loopback port and stops it
// at cleanup.
func Start(t testing.TB, o Options) *Registry {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatalf("docker-registry not installed (apt-get install docker-registry; hack/install-deps.sh): %v", err)
	}
	dir := t.TempDir()
	host := FreePort(t)
	if o.Address != "" {
		l, err := net.Listen("tcp", net.JoinHostPort(o.Address, "0"))
		if err != nil {
			t.Fatalf("listening on %s: %v", o.Address, err)
		}
		host = l.Addr().String()
		l.Close()
	}
	r := &Registry{Host: host, User: o.User, Password: o.Password, TLS: o.TLS, Dir: dir}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n",
		filepath.Join(dir, "storage"), r.Host)
	if o.TLS {
		caPEM, certPEM, keyPEM := Certificates(t)
		r.CAFile = write("ca.pem", caPEM)
		r.Pool = x509.NewCertPool()
		r.Pool.AppendCertsFromPEM(caPEM)
		fmt.Fprintf(&cfg, "  tls:\n    certificate: %s\n    key: %s\n", write("server.pem", certPEM), write("server-key.pem", keyPEM))
	}
	if o.User != "" {
		htpasswd, err := exec.Command("htpasswd", "-Bbn", o.User, o.Password).Output()
		if err != nil {
			t.Fatalf("htpasswd (apt-get install apache2-utils): %v", err)
		}
		fmt.Fprintf(&cfg, "auth:\n  htpasswd:\n    realm: test-registry\n    path: %s\n", write("htpasswd", htpasswd))
	}
	if len(o.Notify) > 0 {
		cfg.WriteString("notifications:\n  endpoints:\n")
		for i, e := range o.Notify {
			fmt.Fprintf(&cfg, "    - name: endpoint%d\n      url: %q\n      timeout: 1s\n      threshold: 1\n      backoff: 1s\n", i, e.URL)
			if e.Token != "" {
				fmt.Fprintf(&cfg, "      headers:\n        Authorization: [%q]\n", "Bearer "+e.Token)
			}
		}
	}
	config := write("config.yml", []byte(cfg.String()))
	logFile, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", config)
	cmd.Env = append(os.Environ(), o.Env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting docker-registry: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logFile.Close()
	})
	client := r.HTTPClient()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(r.URL() + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return r
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile.Name())
			t.Fatalf("docker-registry on %s did not answer: %v\n%s", r.Host, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// URL is https://Host or http://Host.
func (r *Registry) URL() string {
	if r.TLS {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// Log returns what the registry logged so far, for failure messages.
func (r *Registry) Log() string {
	b, _ := os.ReadFile(filepath.Join(r.Dir, "registry.log"))
	return string(b)
}

// HTTPClient trusts the registry's CA.
func (r *Registry) HTTPClient() *http.Client {
	return &http.Client{Transport: r.Transport(), Timeout: 30 * time.Second}
}

// Transport trusts the registry's CA.
func (r *Registry) Transport() http.RoundTripper {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: r.Pool}
	return tr
}

// DockerConfig is a .dockerconfigjson for the registry's user with password.
func (r *Registry) DockerConfig(password string) []byte {
	return fmt.Appendf(nil, `{"auths":{"%s":{"auth":%q}}}`, r.URL(),
		base64.StdEncoding.EncodeToString([]byte(r.User+":"+password)))
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

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
