// Package benchserver runs a real `slipway server` for the benchmarks under
// bench/: the binary built from this checkout, a temporary data directory,
// free loopback ports, and the CLI run as the admin.
package benchserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slipway-dev/slipway/internal/testserver"
)

// RepoRoot is the module root above the working directory.
func RepoRoot(b testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		b.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			b.Fatal("repository root (go.mod) not found")
		}
		dir = parent
	}
}

// BuildSlipway builds ./cmd/slipway of the checkout at root.
func BuildSlipway(b testing.TB, root string) string {
	bin := filepath.Join(b.TempDir(), "slipway")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/slipway")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build ./cmd/slipway: %v\n%s", err, out)
	}
	return bin
}

// Server is one running `slipway server`, as test/e2e's harness runs it.
type Server struct {
	Bin     string
	DataDir string
	Listen  string
	home    string
	// kubeconfig is the CLI's copy of admin.kubeconfig (new-project
	// switches its context).
	kubeconfig string
	cmd        *exec.Cmd
	logs       *testserver.LockedBuffer
	done       chan struct{}
}

// Start runs `bin server` with extraArgs on free loopback ports and waits
// until it is ready; it is stopped when b ends.
func Start(b testing.TB, bin string, extraArgs ...string) *Server {
	// A short path: buildkitd's socket lives under the data dir and a unix
	// socket path must fit in 108 bytes.
	dataDir, err := os.MkdirTemp("", "swb")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = os.RemoveAll(dataDir) })
	s := &Server{Bin: bin, DataDir: dataDir, Listen: freePort(b), home: b.TempDir(), logs: &testserver.LockedBuffer{}, done: make(chan struct{})}
	// The benchmarks' git repositories are file:// ones under b.TempDir().
	args := append([]string{"server", "--data-dir", dataDir, "--listen", s.Listen, "--registry-listen", freePort(b),
		"--local-git-root", os.TempDir()}, extraArgs...)
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	b.Cleanup(func() { s.Stop(b) })
	s.waitReady(b)
	data, err := os.ReadFile(s.Kubeconfig())
	if err != nil {
		b.Fatal(err)
	}
	s.kubeconfig = filepath.Join(s.home, "kubeconfig")
	if err := os.WriteFile(s.kubeconfig, data, 0o600); err != nil {
		b.Fatal(err)
	}
	return s
}

func freePort(b testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Stop interrupts the server and waits for it (it stops its pods first);
// stopping a stopped server does nothing.
func (s *Server) Stop(b testing.TB) {
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	if b.Failed() {
		b.Logf("server logs:\n%s", Tail(s.logs.String(), 60))
	}
}

// Kubeconfig is the server's admin.kubeconfig.
func (s *Server) Kubeconfig() string { return filepath.Join(s.DataDir, "admin.kubeconfig") }

// AdminToken is the admin's bearer token.
func (s *Server) AdminToken(b testing.TB) string {
	data, err := os.ReadFile(filepath.Join(s.DataDir, "admin.token"))
	if err != nil {
		b.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// waitReady waits until /readyz answers 200 to the admin token.
func (s *Server) waitReady(b testing.TB) {
	deadline := time.Now().Add(2 * time.Minute)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			b.Fatalf("slipway server exited early:\n%s", Tail(s.logs.String(), 60))
		default:
		}
		if token, err := os.ReadFile(filepath.Join(s.DataDir, "admin.token")); err == nil {
			req, _ := http.NewRequest("GET", "https://"+s.Listen+"/readyz", nil)
			req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.Fatalf("slipway server not ready after 2m:\n%s", Tail(s.logs.String(), 60))
}

// Run runs `slipway args...` as the admin and returns stdout; it fails the
// benchmark when the command fails.
func (s *Server) Run(b testing.TB, args ...string) string {
	out, errOut, err := s.Exec(args...)
	if err != nil {
		b.Fatalf("slipway %s: %v\nstdout:\n%s\nstderr:\n%s\nserver logs:\n%s", strings.Join(args, " "), err, out, errOut, Tail(s.logs.String(), 40))
	}
	return out
}

// Exec runs `slipway args...` as the admin.
func (s *Server) Exec(args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+s.kubeconfig, "HOME="+s.home)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// Tail is the last lines of s.
func Tail(s string, lines int) string {
	all := strings.Split(s, "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// Median is the median of ds (0 for none).
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// Logs is what the server printed so far.
func (s *Server) Logs() string { return s.logs.String() }

// Pid is the server process's id (for its memory, threads and open files
// under /proc).
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// SaveProfile writes the server's Go profile /debug/pprof/<name> (query
// included, e.g. "profile?seconds=10" or "heap") to out, for `go tool
// pprof`. The server must run with --profiling.
func (s *Server) SaveProfile(b testing.TB, name, out string) error {
	req, err := http.NewRequest(http.MethodGet, "https://"+s.Listen+"/debug/pprof/"+name, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.AdminToken(b))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile %s: HTTP %d (is the server run with --profiling?)", name, resp.StatusCode)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	return errors.Join(err, f.Close())
}
