// Package testserver runs the real `slipway server` for tests, in its
// API-only mode: embedded etcd, the Kubernetes control plane
// (kube-apiserver, controller manager, scheduler) and Slipway's OpenShift
// API server aggregated on it, on free loopback ports with a fresh data
// directory, stopped when the test ends. Slipway's own controllers, the
// node agent, the registry and BuildKit do not run: tests run the part they
// test themselves, against this server. Only tests import it.
//
// The server is the slipway binary: $SLIPWAY_TEST_BINARY when set (the
// Makefile points it at bin/slipway), else one built once into a shared
// cache directory. Test binaries thus do not link Kubernetes.
package testserver

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/slipway-dev/slipway/internal/pki"
)

// Options tune the server.
type Options struct {
	// RegistryHostname is the internal registry's host:port the image
	// streams report; empty gives a free port nobody listens on.
	RegistryHostname string
	// Args are more `slipway server` flags.
	Args []string
}

// Server is a running API server.
type Server struct {
	// Admin is a client configuration authenticating with the admin token
	// (system:admin, system:masters) and verifying the serving certificate.
	Admin *rest.Config
	// AdminToken is the admin's bearer token.
	AdminToken string
	// CABundle is the PEM CA that signed the serving certificate; CAFile
	// and CAKeyFile are its files (ClientConfig signs with them).
	CABundle          []byte
	CAFile, CAKeyFile string
	// DataDir is the server's data directory.
	DataDir string
	// Listen is the API's host:port.
	Listen string
	// NodeName is the server's --node-name.
	NodeName string
	logs     *LockedBuffer
}

// NodeName is the node name every test server is given.
const NodeName = "slipway-test-node"

// Start runs a server for t and stops it when t ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s, stop, err := start(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("slipway server logs (last lines):\n%s", tail(s.logs.String(), 40))
		}
		stop()
	})
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

// ClientConfig returns a client configuration for user in groups: a client
// certificate signed by the server's CA, as the kube-apiserver accepts.
func (s *Server) ClientConfig(t testing.TB, user string, groups ...string) *rest.Config {
	t.Helper()
	ca, err := pki.LoadOrCreateCA(s.CAFile, s.CAKeyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
	if err := ca.EnsureClientCert(cert, key, user, groups); err != nil {
		t.Fatal(err)
	}
	return &rest.Config{
		Host:            "https://" + s.Listen,
		TLSClientConfig: rest.TLSClientConfig{CAData: s.CABundle, CertFile: cert, KeyFile: key},
		QPS:             100,
		Burst:           200,
	}
}

// Logs is what the server printed so far.
func (s *Server) Logs() string { return s.logs.String() }

func start(dir string, o Options) (*Server, func(), error) {
	bin, err := Binary()
	if err != nil {
		return nil, nil, err
	}
	listen, err := freeAddr()
	if err != nil {
		return nil, nil, err
	}
	registry := o.RegistryHostname
	if registry == "" {
		if registry, err = freeAddr(); err != nil {
			return nil, nil, err
		}
	}
	args := append([]string{"server", "--api-only", "--data-dir", dir, "--listen", listen,
		"--registry-listen", registry, "--node-name", NodeName}, o.Args...)
	cmd := exec.Command(bin, args...)
	logs := &LockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	// The server dies with the test binary, even when it is killed.
	cmd.SysProcAttr = &unix.SysProcAttr{Pdeathsig: unix.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	stopped := make(chan struct{})
	go func() { _ = cmd.Wait(); close(stopped) }()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-stopped:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-stopped
		}
	}
	s := &Server{DataDir: dir, Listen: listen, NodeName: NodeName, logs: logs,
		CAFile: filepath.Join(dir, "ca.crt"), CAKeyFile: filepath.Join(dir, "ca.key")}
	if err := s.waitReady(stopped); err != nil {
		stop()
		return nil, nil, err
	}
	return s, stop, nil
}

// waitReady waits for the admin token, then for /readyz (which includes
// the OpenShift APIs being available through the aggregator).
func (s *Server) waitReady(stopped <-chan struct{}) error {
	deadline := time.Now().Add(3 * time.Minute)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-stopped:
			return fmt.Errorf("slipway server exited while starting (last readiness error: %v):\n%s", lastErr, tail(s.logs.String(), 40))
		default:
		}
		if s.Admin == nil {
			token, err1 := os.ReadFile(filepath.Join(s.DataDir, "admin.token"))
			ca, err2 := os.ReadFile(s.CAFile)
			// The token file is created, then written: empty is not yet.
			if err1 != nil || err2 != nil || len(bytes.TrimSpace(token)) == 0 {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			s.AdminToken = strings.TrimSpace(string(token))
			s.CABundle = ca
			s.Admin = &rest.Config{
				Host:            "https://" + s.Listen,
				BearerToken:     s.AdminToken,
				TLSClientConfig: rest.TLSClientConfig{CAData: ca},
				QPS:             100,
				Burst:           200,
			}
		}
		client, err := kubernetes.NewForConfig(s.Admin)
		if err != nil {
			return err
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
	return fmt.Errorf("slipway server not ready within 3m: %v\n%s", lastErr, tail(s.logs.String(), 40))
}

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// Binary returns the slipway binary tests run: $SLIPWAY_TEST_BINARY, or
// one `go build` makes once per test binary into a cache directory shared
// by the packages' tests (a file lock keeps concurrent builds apart; the go
// command relinks only when a source changed).
func Binary() (string, error) {
	if bin := os.Getenv("SLIPWAY_TEST_BINARY"); bin != "" {
		return bin, nil
	}
	buildOnce.Do(func() { built, buildErr = buildBinary() })
	return built, buildErr
}

// versionFlags are the Makefile's LDFLAGS: the Kubernetes version the
// embedded control plane reports.
const versionFlags = "-X k8s.io/component-base/version.gitVersion=v1.37.2 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37"

func buildBinary() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "slipway-testserver")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "slipway")
	cmd := exec.Command("go", "build", "-ldflags", versionFlags, "-o", bin, "github.com/slipway-dev/slipway/cmd/slipway")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building slipway for the test server: %v\n%s", err, out)
	}
	return bin, nil
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

// LockedBuffer collects a process's output from several goroutines (its
// stdout and stderr) while tests read it.
type LockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write implements io.Writer.
func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
