// Package buildkit supervises the one buildkitd that `slipway server` runs
// for every build: it writes buildkitd.toml, starts the daemon with its state
// under the data dir, waits until it answers, restarts it when it crashes and
// stops it when the server stops. Builders reach it at Daemon.Address().
package buildkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	bkclient "github.com/moby/buildkit/client"
)

// Timeouts of the supervisor; the defaults are written next to them.
var (
	// readyTimeout bounds how long a (re)started buildkitd may take to answer.
	readyTimeout = 2 * time.Minute
	// stopGrace is how long buildkitd gets between SIGTERM and SIGKILL.
	stopGrace = 10 * time.Second
	// restartBackoff grows from minBackoff to maxBackoff while buildkitd
	// keeps crashing within stableAfter of its start.
	minBackoff  = time.Second
	maxBackoff  = 30 * time.Second
	stableAfter = time.Minute
)

// Daemon is a supervised buildkitd.
type Daemon struct {
	root    string
	address string
	argv    []string
	env     []string
	logPath string
	log     *slog.Logger

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start writes buildkitd's config, starts it and returns once it answers
// ListWorkers. It keeps restarting buildkitd with backoff until ctx is done,
// then stops it (SIGTERM, SIGKILL after 10 s); Done is closed after that.
func Start(ctx context.Context, cfg Config) (*Daemon, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("buildkit: no data dir")
	}
	binary, err := findBinary(cfg.Binary)
	if err != nil {
		return nil, err
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("buildkit data dir: %w", err)
	}
	root := filepath.Join(dataDir, "buildkit")
	if err := os.MkdirAll(root, 0o711); err != nil {
		return nil, fmt.Errorf("creating buildkit root: %w", err)
	}
	toml, globalCAs, err := renderConfig(cfg)
	if err != nil {
		return nil, err
	}
	configPath := filepath.Join(root, "buildkitd.toml")
	if err := os.WriteFile(configPath, []byte(toml), 0o644); err != nil {
		return nil, fmt.Errorf("writing %s: %w", configPath, err)
	}
	env, err := trustEnv(root, globalCAs)
	if err != nil {
		return nil, err
	}
	socket := filepath.Join(root, "buildkitd.sock")
	d := &Daemon{
		root:    root,
		address: "unix://" + socket,
		argv: []string{binary,
			"--root", filepath.Join(root, "state"),
			"--addr", "unix://" + socket,
			"--config", configPath,
			"--oci-worker=true",
			"--containerd-worker=false",
		},
		env:     env,
		logPath: filepath.Join(root, "buildkitd.log"),
		log:     slog.Default().With("component", "buildkitd"),
		done:    make(chan struct{}),
	}
	exited, err := d.start(ctx)
	if err != nil {
		return nil, err
	}
	go d.supervise(ctx, exited)
	return d, nil
}

// Address is buildkitd's gRPC address, unix://<data-dir>/buildkit/buildkitd.sock.
func (d *Daemon) Address() string { return d.address }

// Done is closed once buildkitd has been stopped after ctx ended.
func (d *Daemon) Done() <-chan struct{} { return d.done }

// LogPath is the file buildkitd's own output goes to.
func (d *Daemon) LogPath() string { return d.logPath }

// findBinary resolves buildkitd: the flag, else next to our executable
// (bin/slipway and bin/buildkitd from `make build`), else PATH.
func findBinary(flag string) (string, error) {
	if flag != "" {
		p, err := exec.LookPath(flag)
		if err != nil {
			return "", fmt.Errorf("buildkitd binary %s: %w", flag, err)
		}
		return filepath.Abs(p)
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "buildkitd")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	p, err := exec.LookPath("buildkitd")
	if err != nil {
		return "", fmt.Errorf("buildkitd not found next to slipway nor on PATH (make build builds bin/buildkitd; or pass --buildkitd): %w", err)
	}
	return p, nil
}

// trustEnv gives buildkitd the global registry CAs through SSL_CERT_DIR,
// which Go's system pool reads in addition to the system bundle.
func trustEnv(root string, cas []string) ([]string, error) {
	env := os.Environ()
	if len(cas) == 0 {
		return env, nil
	}
	dir := filepath.Join(root, "certs")
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("clearing %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	for i, ca := range cas {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("reading registry CA: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("registry-ca-%d.pem", i)), pem, 0o644); err != nil {
			return nil, fmt.Errorf("copying registry CA %s: %w", ca, err)
		}
	}
	dirs := "/etc/ssl/certs:/etc/pki/tls/certs"
	out := env[:0:0]
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "SSL_CERT_DIR="); ok {
			dirs = v
			continue
		}
		out = append(out, kv)
	}
	return append(out, "SSL_CERT_DIR="+dirs+":"+dir), nil
}

// start launches buildkitd and waits until it answers; the returned channel
// receives the process's exit.
func (d *Daemon) start(ctx context.Context) (<-chan error, error) {
	socket := strings.TrimPrefix(d.address, "unix://")
	d.reapPrevious()
	// A socket left by a killed daemon would make the listen fail.
	if err := os.Remove(socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("removing stale socket: %w", err)
	}
	logFile, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening buildkitd log: %w", err)
	}
	cmd := exec.Command(d.argv[0], d.argv[1:]...)
	cmd.Env = d.env
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Own process group so terminal signals reach only us; Pdeathsig so a
	// crashed server does not leave buildkitd holding its root's lock.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", d.argv[0], err)
	}
	d.mu.Lock()
	d.cmd = cmd
	d.mu.Unlock()
	if err := os.WriteFile(d.pidFile(), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
		d.log.Warn("recording buildkitd's pid", "error", err)
	}
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		logFile.Close()
		exited <- err
	}()
	if err := d.waitReady(ctx, exited); err != nil {
		d.stop(exited)
		return nil, err
	}
	d.log.Info("buildkitd ready", "address", d.address, "pid", cmd.Process.Pid)
	return exited, nil
}

// waitReady polls ListWorkers until buildkitd has a worker.
func (d *Daemon) waitReady(ctx context.Context, exited chan error) error {
	deadline := time.Now().Add(readyTimeout)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err // keep it for stop
			return fmt.Errorf("buildkitd exited before it was ready (%v); see %s", err, d.logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		lastErr = ping(ctx, d.address)
		if lastErr == nil {
			return nil
		}
	}
	return fmt.Errorf("buildkitd did not answer within %s: %v; see %s", readyTimeout, lastErr, d.logPath)
}

// ping asks buildkitd for its workers once.
func ping(ctx context.Context, address string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := bkclient.New(ctx, address)
	if err != nil {
		return err
	}
	defer c.Close()
	workers, err := c.ListWorkers(ctx)
	if err != nil {
		return err
	}
	if len(workers) == 0 {
		return errors.New("no workers yet")
	}
	return nil
}

// supervise restarts buildkitd when it exits and stops it when ctx ends.
func (d *Daemon) supervise(ctx context.Context, exited <-chan error) {
	defer close(d.done)
	backoff := minBackoff
	started := time.Now()
	for {
		select {
		case <-ctx.Done():
			d.stop(exited)
			return
		case err := <-exited:
			if time.Since(started) > stableAfter {
				backoff = minBackoff
			}
			d.log.Error("buildkitd exited; restarting", "err", err, "in", backoff, "log", d.logPath)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, maxBackoff)
			started = time.Now()
			next, err := d.start(ctx)
			for err != nil {
				d.log.Error("restarting buildkitd", "err", err, "retry in", backoff)
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, maxBackoff)
				started = time.Now()
				next, err = d.start(ctx)
			}
			exited = next
		}
	}
}

// stop sends SIGTERM, then SIGKILL after stopGrace, and waits for the exit.
func (d *Daemon) stop(exited <-chan error) {
	d.mu.Lock()
	cmd := d.cmd
	d.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(stopGrace):
		_ = cmd.Process.Kill()
		<-exited
	}
}

func (d *Daemon) pidFile() string { return filepath.Join(d.root, "buildkitd.pid") }

// reapPrevious stops what a buildkitd of a killed server left on this
// root: the daemon, if it still runs (it may be finishing a build step,
// holding the root's lock), and the build step containers it started
// (runc's, found by their bundles under this root), so nothing of an
// interrupted build runs on.
func (d *Daemon) reapPrevious() {
	if data, err := os.ReadFile(d.pidFile()); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 0 {
			if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && strings.Contains(string(cmdline), d.root) {
				d.log.Info("stopping the buildkitd a previous server left", "pid", pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
					if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
						break
					}
				}
			}
		}
	}
	out, err := exec.Command("runc", "list", "-f", "json").Output()
	if err != nil {
		return
	}
	var containers []struct {
		ID     string `json:"id"`
		Bundle string `json:"bundle"`
	}
	if json.Unmarshal(out, &containers) != nil {
		return
	}
	roots := []string{d.root}
	if resolved, err := filepath.EvalSymlinks(d.root); err == nil && resolved != d.root {
		roots = append(roots, resolved)
	}
	for _, c := range containers {
		if !slices.ContainsFunc(roots, func(root string) bool { return strings.HasPrefix(c.Bundle, root+string(filepath.Separator)) }) {
			continue
		}
		d.log.Info("removing a build step container a previous server left", "id", c.ID)
		_ = exec.Command("runc", "kill", c.ID, "KILL").Run()
		_ = exec.Command("runc", "delete", "--force", c.ID).Run()
	}
	// Their root file systems stay mounted when buildkitd dies under them;
	// no step runs before buildkitd starts again, so every one goes.
	executors, _ := filepath.Glob(filepath.Join(d.root, "state", "runc-*", "executor", "*", "rootfs"))
	for _, rootfs := range executors {
		switch err := syscall.Unmount(rootfs, syscall.MNT_DETACH); {
		case err == nil:
			d.log.Info("unmounted a build step's root file system a previous server left", "path", rootfs)
		case !errors.Is(err, syscall.EINVAL):
			// Still mounted: removing would reach into the snapshot.
			d.log.Warn("a build step's root file system a previous server left stays mounted", "path", rootfs, "error", err)
			continue
		}
		_ = os.RemoveAll(filepath.Dir(rootfs))
	}
}
