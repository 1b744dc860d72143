// Package e2e runs the real slipway binary on loopback ports chosen at random,
// with a temporary data directory, and drives it the way users do: with the
// slipway CLI, kubectl and the client-go/openshift client-go typed clients.
package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/slipway-dev/slipway/internal/testserver"
)

// slipwayBin is the binary under test, built once by TestMain.
var slipwayBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "slipway-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	slipwayBin, err = testserver.Binary()
	if err != nil {
		fmt.Fprintln(os.Stderr, "building slipway:", err)
		os.Exit(1)
	}
	buildkitdBin, buildkitdErr = buildBuildkitd()
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildkitdBin is bin/buildkitd at the repository root, made by TestMain
// with `make bin/buildkitd`; buildkitdErr says why it could not be.
var (
	buildkitdBin string
	buildkitdErr error
)

// buildBuildkitd runs `make bin/buildkitd` at the repository root (a no-op
// when it is up to date) and returns the binary's path.
func buildBuildkitd() (string, error) {
	root, err := filepath.Abs("../..")
	if err != nil {
		return "", err
	}
	make := exec.Command("make", "bin/buildkitd")
	make.Dir = root
	var out bytes.Buffer
	make.Stdout, make.Stderr = &out, &out
	if err := make.Run(); err != nil {
		return "", fmt.Errorf("make bin/buildkitd: %v\n%s", err, tail(out.String(), 20))
	}
	return filepath.Join(root, "bin", "buildkitd"), nil
}

// server is one running `slipway server`.
type server struct {
	t       *testing.T
	dataDir string
	listen  string
	// registry is the internal registry's host:port (--registry-listen).
	registry string
	// serviceCIDR is its own, so that servers of other tests on this
	// machine (whose cluster IPs and DNS address are local addresses of
	// the host) do not answer for it.
	serviceCIDR string
	args        []string
	cmd         *exec.Cmd
	logs        *testserver.LockedBuffer
	done        chan struct{}
}

// startServer runs slipway server with a fresh data directory on a free port.
func startServer(t *testing.T, extraArgs ...string) *server {
	t.Helper()
	return startServerIn(t, t.TempDir(), extraArgs...)
}

// startServerIn runs slipway server on a free port with data directory
// dir, which may hold what an earlier server left.
func startServerIn(t *testing.T, dir string, extraArgs ...string) *server {
	t.Helper()
	s := &server{t: t, dataDir: dir, listen: freeAddr(t), registry: freeAddr(t), serviceCIDR: freeServiceCIDR(), args: extraArgs}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *server) start() {
	s.t.Helper()
	// The tests' git repositories are file:// ones under t.TempDir().
	args := append([]string{"server", "--data-dir", s.dataDir, "--listen", s.listen, "--registry-listen", s.registry,
		"--service-cidr", s.serviceCIDR, "--local-git-root", os.TempDir()}, s.args...)
	s.cmd = exec.Command(slipwayBin, args...)
	s.logs = &testserver.LockedBuffer{}
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.done = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.done) }()
	s.waitReady()
}

func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
	default:
		s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	}
	if s.t.Failed() {
		s.t.Logf("server logs:\n%s", tail(s.logs.String(), 60))
	}
	// SLIPWAY_E2E_LOGS=DIR keeps every server's whole log.
	if dir := os.Getenv("SLIPWAY_E2E_LOGS"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, strings.ReplaceAll(s.t.Name(), "/", "_")+".log"), []byte(s.logs.String()), 0o644)
	}
	s.cmd = nil
}

func (s *server) restart() {
	s.t.Helper()
	s.stop()
	s.start()
}

func (s *server) url() string { return "https://" + s.listen }

func (s *server) adminToken() string {
	data, err := os.ReadFile(filepath.Join(s.dataDir, "admin.token"))
	if err != nil {
		s.t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

func (s *server) kubeconfig() string { return filepath.Join(s.dataDir, "admin.kubeconfig") }

// caFile is the CA that signed the server's certificate.
func (s *server) caFile() string { return filepath.Join(s.dataDir, "ca.crt") }

// restConfig is the admin's client configuration.
func (s *server) restConfig() *rest.Config {
	s.t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", s.kubeconfig())
	if err != nil {
		s.t.Fatal(err)
	}
	return cfg
}

// waitReady waits until /readyz answers 200 to the admin token.
func (s *server) waitReady() {
	s.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			s.t.Fatalf("slipway server exited early:\n%s", tail(s.logs.String(), 60))
		default:
		}
		if tokenBytes, err := os.ReadFile(filepath.Join(s.dataDir, "admin.token")); err == nil {
			req, _ := http.NewRequest("GET", s.url()+"/readyz", nil)
			req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tokenBytes)))
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.t.Fatalf("slipway server not ready after 2m:\n%s", tail(s.logs.String(), 60))
}

// cli runs slipway client verbs with their own kubeconfig file.
type cli struct {
	t          *testing.T
	kubeconfig string
	env        []string
}

// newCLI returns a client whose kubeconfig starts as a copy of the admin's.
func (s *server) newCLI() *cli {
	s.t.Helper()
	data, err := os.ReadFile(s.kubeconfig())
	if err != nil {
		s.t.Fatal(err)
	}
	path := filepath.Join(s.t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		s.t.Fatal(err)
	}
	return &cli{t: s.t, kubeconfig: path}
}

// run runs `slipway args...` and returns stdout and stderr; it fails the test
// when the command fails.
func (c *cli) run(args ...string) string {
	c.t.Helper()
	out, errOut, err := c.exec(nil, args...)
	if err != nil {
		c.t.Fatalf("slipway %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// fail runs a command that must fail and returns its stderr.
func (c *cli) fail(args ...string) string {
	c.t.Helper()
	out, errOut, err := c.exec(nil, args...)
	if err == nil {
		c.t.Fatalf("slipway %s succeeded, want failure\nstdout:\n%s", strings.Join(args, " "), out)
	}
	return errOut
}

func (c *cli) exec(stdin []byte, args ...string) (string, string, error) {
	return runBinary(c.t, slipwayBin, c.kubeconfig, c.env, stdin, args...)
}

func runBinary(t *testing.T, bin, kubeconfig string, env []string, stdin []byte, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+kubeconfig, "HOME="+filepath.Dir(kubeconfig)), env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func tail(s string, lines int) string {
	all := strings.Split(s, "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// fixture returns a seed-walkthrough file with its placeholders replaced.
func fixture(t *testing.T, name string, replace ...string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixturesDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	out := strings.NewReplacer(replace...).Replace(string(data))
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// fixturesDir finds ../shared/fixtures/seed-walkthrough from the repository,
// or the copy under testdata when shared/ is not beside the clone.
func fixturesDir(t *testing.T) string {
	t.Helper()
	for _, dir := range []string{"../../../shared/fixtures/seed-walkthrough", "testdata/seed-walkthrough"} {
		if _, err := os.Stat(filepath.Join(dir, "buildconfig.yaml")); err == nil {
			return dir
		}
	}
	t.Fatal("seed-walkthrough fixtures not found")
	return ""
}

// eventually retries f until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("after %s: %v", timeout, err)
}

// freeServiceCIDR picks a /24 for a server's Services in 10.100.0.0/14,
// away from the default range and the pod network.
func freeServiceCIDR() string {
	n := rand.IntN(1 << 10)
	return fmt.Sprintf("10.%d.%d.0/24", 100+n/256, n%256)
}
