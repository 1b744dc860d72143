package etcd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/slipway-dev/slipway/internal/pki"
)

// TestOnlyItsOwnClientsGetIn: a build step or container on the host can
// reach the member's loopback port (the attack: `nc 127.0.0.1 <port>`
// answered etcd's version and any key). Plain HTTP, TLS without a client
// certificate, and a certificate of another CA (the cluster's, which
// nodes and users hold) are all refused; the API servers' certificate
// reads and writes.
func TestOnlyItsOwnClientsGetIn(t *testing.T) {
	dir := t.TempDir()
	member, err := Start(filepath.Join(dir, "etcd"), filepath.Join(dir, "pki"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer member.Stop()
	if !strings.HasPrefix(member.ClientURL, "https://127.0.0.1:") {
		t.Fatalf("client URL %s, want https on loopback", member.ClientURL)
	}
	if fi, err := os.Stat(filepath.Join(dir, "pki")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("pki dir: %v, mode %v; want 0700", err, fi.Mode())
	}

	plain := "http://" + strings.TrimPrefix(member.ClientURL, "https://") + "/version"
	if resp, err := http.Get(plain); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), "etcdserver") {
			t.Fatalf("plain HTTP GET /version answered %d: %s", resp.StatusCode, body)
		}
	}

	caPEM, err := os.ReadFile(member.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if resp, err := noCert.Get(member.ClientURL + "/version"); err == nil {
		resp.Body.Close()
		t.Fatalf("TLS without a client certificate: %d, want the handshake refused", resp.StatusCode)
	}

	other, err := pki.LoadOrCreateCA(filepath.Join(dir, "other-ca.crt"), filepath.Join(dir, "other-ca.key"), "slipway-ca")
	if err != nil {
		t.Fatal(err)
	}
	otherCert, otherKey := filepath.Join(dir, "node.crt"), filepath.Join(dir, "node.key")
	if err := other.EnsureClientCert(otherCert, otherKey, "system:node:x", []string{"system:nodes"}); err != nil {
		t.Fatal(err)
	}
	if err := put(member, otherCert, otherKey); err == nil {
		t.Fatal("a certificate of another CA wrote to etcd")
	}
	if err := put(member, member.ClientCert, member.ClientKey); err != nil {
		t.Fatalf("the API servers' certificate: %v", err)
	}
}

// put writes one key through a client presenting cert/key.
func put(member *Embedded, cert, key string) error {
	tlsConfig, err := transport.TLSInfo{CertFile: cert, KeyFile: key, TrustedCAFile: member.CAFile}.ClientConfig()
	if err != nil {
		return err
	}
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{member.ClientURL}, TLS: tlsConfig, DialTimeout: 3 * time.Second})
	if err != nil {
		return err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = client.Put(ctx, "/registry/probe", "x")
	return err
}
