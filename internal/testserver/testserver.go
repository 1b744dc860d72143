// Package testserver starts Slipway's real API server in-process for tests:
// an embedded etcd member and the apiserver package's server on free
// loopback ports, with a fresh CA and admin token, torn down when the test
// ends. Only tests import it.
package testserver

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/slipway-dev/slipway/internal/apiserver"
	"github.com/slipway-dev/slipway/internal/etcd"
	"github.com/slipway-dev/slipway/internal/pki"
)

// Options tune the server.
type Options struct {
	// RegistryHostname is the internal registry's host:port the image
	// streams report; empty for none.
	RegistryHostname string
}

// Server is a running API server.
type Server struct {
	// Server is the apiserver package's server (its Loopback config and
	// KubeInformers are there for in-process controllers).
	*apiserver.Server
	// Admin is a client configuration authenticating with the admin token
	// and verifying the serving certificate with the test CA.
	Admin *rest.Config
	// AdminToken is the admin's bearer token.
	AdminToken string
	// CABundle is the PEM CA that signed the serving certificate.
	CABundle []byte
	// DataDir is the server's scratch directory.
	DataDir string
}

// Start runs an API server for t and stops it (and its etcd) when t ends.
// Kubernetes' server keeps some process-wide state (metrics), so start one
// per test binary when you can (e.g. in TestMain through StartForMain).
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	dir := t.TempDir()
	s, stop, err := start(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return s
}

// StartForMain is Start for a TestMain: the server works in a scratch
// directory of its own, and stop ends the server and removes it.
func StartForMain(o Options) (s *Server, stop func(), err error) {
	dir, err := os.MkdirTemp("", "slipway-testserver-")
	if err != nil {
		return nil, nil, err
	}
	s, stopServer, err := start(dir, o)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return s, func() { stopServer(); os.RemoveAll(dir) }, nil
}

// Main is a whole TestMain for packages whose tests share one server: it
// starts the server, hands it to use, runs the tests, stops the server and
// exits with the tests' code.
func Main(m *testing.M, o Options, use func(*Server)) {
	s, stop, err := StartForMain(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the test API server:", err)
		os.Exit(1)
	}
	use(s)
	code := m.Run()
	stop()
	os.Exit(code)
}

func start(dir string, o Options) (*Server, func(), error) {
	files := pki.FilesIn(filepath.Join(dir, "pki"))
	if err := os.MkdirAll(filepath.Join(dir, "pki"), 0o700); err != nil {
		return nil, nil, err
	}
	if err := pki.Ensure(files, []string{"127.0.0.1", "localhost"}); err != nil {
		return nil, nil, fmt.Errorf("test certificates: %w", err)
	}
	caBundle, err := os.ReadFile(files.CACert)
	if err != nil {
		return nil, nil, err
	}
	member, err := etcd.Start(filepath.Join(dir, "etcd"), time.Minute)
	if err != nil {
		return nil, nil, err
	}
	listen, err := freeAddr()
	if err != nil {
		member.Stop()
		return nil, nil, err
	}
	token := randomToken()
	s, err := apiserver.New(apiserver.Config{
		Listen:           listen,
		CertFile:         files.ServingCert,
		KeyFile:          files.ServingKey,
		EtcdServers:      []string{member.ClientURL},
		AdminToken:       token,
		RegistryHostname: o.RegistryHostname,
	})
	if err != nil {
		member.Stop()
		return nil, nil, fmt.Errorf("building the API server: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	prepared := s.Generic.PrepareRun()
	go func() {
		defer close(stopped)
		_ = prepared.RunWithContext(ctx)
	}()
	stop := func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(30 * time.Second):
		}
		member.Stop()
	}
	admin := &rest.Config{
		Host:            "https://" + listen,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: caBundle},
		QPS:             100,
		Burst:           200,
	}
	if err := waitReady(admin, stopped); err != nil {
		stop()
		return nil, nil, err
	}
	return &Server{Server: s, Admin: admin, AdminToken: token, CABundle: caBundle, DataDir: dir}, stop, nil
}

// waitReady polls /readyz until the server answers ok.
func waitReady(cfg *rest.Config, stopped <-chan struct{}) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Minute)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-stopped:
			return fmt.Errorf("API server stopped while starting (last readiness error: %v)", lastErr)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		cancel()
		if err == nil && string(body) == "ok" {
			return nil
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("API server not ready within 2m: %v", lastErr)
}

// FreeAddr returns a free 127.0.0.1:port (free when asked; tests use it at
// once).
func FreeAddr(t testing.TB) string {
	t.Helper()
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
