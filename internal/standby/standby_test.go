package standby

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMain makes the test binary its own standby executable: started with
// Arg it serves one command from the little set below.
func TestMain(m *testing.M) {
	if Requested() {
		if os.Getenv(slowEnv) != "" {
			// Still starting up, as under SCHED_IDLE on a busy machine.
			time.Sleep(time.Hour)
		}
		os.Exit(Serve(testCommand))
	}
	if os.Getenv(parentEnv) != "" {
		os.Exit(parent())
	}
	os.Exit(m.Run())
}

// parentEnv makes the test binary a pool's parent (parent); slowEnv
// makes a standby take an hour to start up.
const (
	parentEnv = "STANDBY_TEST_PARENT"
	slowEnv   = "STANDBY_TEST_SLOW_START"
)

// parent hands "sleep" to a standby of a pool, starts an idle standby
// that is slow to start up, prints "<handed pid> <idle pid>" and waits to
// be killed.
func parent() int {
	exe, err := os.Executable()
	if err != nil {
		return 1
	}
	pool := NewPool(exe)
	cmd, err := pool.Start(Request{Args: []string{"sleep"}}, Files{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	pool.Close()
	os.Setenv(slowEnv, "1")
	idle, err := start(exe, true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%d %d\n", cmd.Process.Pid, idle.cmd.Process.Pid)
	time.Sleep(time.Hour)
	return 0
}

// testCommand is what a standby of this test binary runs: "report" prints
// its view of the process, "cat" copies stdin to stdout, "exit N" exits
// N, "sleep" sleeps until killed.
func testCommand(args []string) int {
	switch args[0] {
	case "report":
		wd, _ := os.Getwd()
		fmt.Printf("args=%s\n", strings.Join(os.Args, ","))
		fmt.Printf("dir=%s\n", wd)
		fmt.Printf("env=%s\n", strings.Join(os.Environ(), ","))
		fmt.Printf("pgid-is-pid=%v\n", syscall.Getpgrp() == os.Getpid())
		fmt.Fprintln(os.Stderr, "to stderr")
		return 0
	case "cat":
		_, _ = io.Copy(os.Stdout, os.Stdin)
		return 0
	case "exit":
		n, _ := strconv.Atoi(args[1])
		return n
	case "sleep":
		time.Sleep(time.Hour)
	case "policy":
		// The scheduling policy of each of its threads.
		tasks, _ := os.ReadDir("/proc/self/task")
		for _, task := range tasks {
			tid, _ := strconv.Atoi(task.Name())
			policy, err := policyOf(tid)
			fmt.Printf("%d %d %v\n", tid, policy, err)
		}
		return 0
	}
	return 2
}

func self(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

func tempFile(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func readFile(t *testing.T, f *os.File) string {
	t.Helper()
	data, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Wait()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	t.Fatalf("wait: %v", err)
	return -1
}

func TestStartHandsOverTheCommand(t *testing.T) {
	pool := NewPool(self(t))
	t.Cleanup(pool.Close)
	dir := t.TempDir()
	stdout, stderr := tempFile(t, "out"), tempFile(t, "err")
	cmd, err := pool.Start(Request{Argv0: "slipway", Args: []string{"report"}, Env: []string{"A=1", "B=two=2"}, Dir: dir},
		Files{Stdout: stdout, Stderr: stderr})
	if err != nil {
		t.Fatal(err)
	}
	if code := exitCode(t, cmd); code != 0 {
		t.Fatalf("exit %d", code)
	}
	out := readFile(t, stdout)
	for _, want := range []string{"args=slipway,report\n", "dir=" + dir + "\n", "env=A=1,B=two=2\n", "pgid-is-pid=true\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if got := readFile(t, stderr); got != "to stderr\n" {
		t.Errorf("stderr %q", got)
	}
}

func TestStartPassesStdinAndExitCodes(t *testing.T) {
	pool := NewPool(self(t))
	t.Cleanup(pool.Close)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := tempFile(t, "out")
	cmd, err := pool.Start(Request{Args: []string{"cat"}}, Files{Stdin: r, Stdout: stdout})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	fmt.Fprint(w, "through stdin")
	w.Close()
	if code := exitCode(t, cmd); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if got := readFile(t, stdout); got != "through stdin" {
		t.Errorf("stdout %q", got)
	}
	// Several in a row: each gets a fresh standby.
	for i := range 3 {
		cmd, err := pool.Start(Request{Args: []string{"exit", strconv.Itoa(i + 3)}}, Files{})
		if err != nil {
			t.Fatal(err)
		}
		if code := exitCode(t, cmd); code != i+3 {
			t.Errorf("exit %d, want %d", code, i+3)
		}
	}
}

func TestStartReplacesADeadStandby(t *testing.T) {
	pool := NewPool(self(t))
	t.Cleanup(pool.Close)
	ready := waitReady(t, pool)
	// Killed behind the pool's back (and reaped by no one yet).
	if err := ready.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	stdout := tempFile(t, "out")
	cmd, err := pool.Start(Request{Args: []string{"report"}}, Files{Stdout: stdout})
	if err != nil {
		t.Fatal(err)
	}
	if cmd == ready.cmd {
		t.Fatal("the dead standby was used")
	}
	if code := exitCode(t, cmd); code != 0 || !strings.Contains(readFile(t, stdout), "args=") {
		t.Fatalf("exit %d, stdout %q", code, readFile(t, stdout))
	}
}

func TestSignalReachesTheProcessGroup(t *testing.T) {
	pool := NewPool(self(t))
	t.Cleanup(pool.Close)
	cmd, err := pool.Start(Request{Args: []string{"sleep"}}, Files{})
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("wait: %v", err)
	}
}

func TestCloseStopsTheIdleStandby(t *testing.T) {
	pool := NewPool(self(t))
	ready := waitReady(t, pool)
	pid := ready.cmd.Process.Pid
	pool.Close()
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("standby %d still exists after Close (%v)", pid, err)
	}
	if _, err := pool.Start(Request{Args: []string{"report"}}, Files{}); err == nil {
		t.Error("Start after Close succeeded")
	}
}

func TestIdleStandbyExitsWhenItsSocketCloses(t *testing.T) {
	proc, err := start(self(t), false)
	if err != nil {
		t.Fatal(err)
	}
	proc.conn.Close() // as when the parent dies
	done := make(chan error, 1)
	go func() { done <- proc.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("standby exited with %v, want 0", err)
		}
	case <-time.After(10 * time.Second):
		_ = proc.cmd.Process.Kill()
		t.Fatal("standby did not exit when its socket closed")
	}
}

// An idle standby that cannot see its socket close (still starting up, as
// under SCHED_IDLE on a busy machine) dies with its parent
// all the same, while a command handed to a standby outlives it.
func TestIdleStandbyDiesWithItsParent(t *testing.T) {
	cmd := exec.Command(self(t))
	cmd.Env = append(os.Environ(), parentEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var handed, idle int
	if _, err := fmt.Fscan(out, &handed, &idle); err != nil {
		_ = cmd.Process.Kill()
		t.Fatalf("reading the parent's standbys: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-handed, syscall.SIGKILL)
		_ = syscall.Kill(idle, syscall.SIGKILL)
	})
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for running(idle) {
		if time.Now().After(deadline) {
			t.Fatalf("idle standby %d still exists 5s after its parent was killed", idle)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !running(handed) {
		t.Errorf("the command handed to standby %d died with the parent", handed)
	}
}

// running reports whether pid exists and is not a zombie.
func running(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// waitReady waits for the pool's background standby and returns it.
func waitReady(t *testing.T, p *Pool) *process {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		ready := p.ready
		p.mu.Unlock()
		if ready != nil {
			return ready
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no standby became ready")
	return nil
}

// A standby readied in the background waits under SCHED_IDLE, and the
// command handed to it runs under the normal policy, all its threads.
func TestStandbyWaitsIdleAndRunsNormal(t *testing.T) {
	pool := NewPool(self(t))
	t.Cleanup(pool.Close)
	ready := waitReady(t, pool)
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", ready.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		if policy, err := policyOf(tid); err != nil || policy != unix.SCHED_IDLE {
			t.Errorf("waiting standby thread %d: policy %d (%v), want SCHED_IDLE", tid, policy, err)
		}
	}

	stdout := tempFile(t, "out")
	cmd, err := pool.Start(Request{Args: []string{"policy"}}, Files{Stdout: stdout})
	if err != nil {
		t.Fatal(err)
	}
	if cmd != ready.cmd {
		t.Fatal("the command did not go to the ready standby")
	}
	if code := exitCode(t, cmd); code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(readFile(t, stdout)), "\n")
	if len(lines) < 2 {
		t.Fatalf("policy report %q: want a line per thread", lines)
	}
	for _, line := range lines {
		if f := strings.Fields(line); len(f) != 3 || f[1] != strconv.Itoa(unix.SCHED_NORMAL) || f[2] != "<nil>" {
			t.Errorf("thread of the handed command: %q, want policy SCHED_NORMAL", line)
		}
	}
}

// Taking a standby readies the next one at once, waiting under
// SCHED_IDLE.
func TestStartReadiesTheNextStandbyIdle(t *testing.T) {
	pool := NewPool(self(t))
	t.Cleanup(pool.Close)
	waitReady(t, pool)
	cmd, err := pool.Start(Request{Args: []string{"sleep"}}, Files{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	next := waitReady(t, pool)
	if next.cmd == cmd {
		t.Fatal("the used standby came back")
	}
	if policy, err := policyOf(next.cmd.Process.Pid); err != nil || policy != unix.SCHED_IDLE {
		t.Fatalf("next standby: policy %d (%v), want SCHED_IDLE", policy, err)
	}
}
