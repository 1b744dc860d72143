package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	remotecommandserver "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/slipway-dev/slipway/internal/node/cni"
)

// errContainerNotRunning is a container that has no running runc
// container on this node (not started yet, or ended).
var errContainerNotRunning = errors.New("container not running")

// runningContainer is the runc ID of the current run of the pod's
// container: of the containers <uid>-<name>-<attempt> runc knows, the
// one of the highest attempt, if it runs.
func (r *runcRuntime) runningContainer(ctx context.Context, uid, name string) (string, error) {
	entries, err := os.ReadDir(r.root)
	if err != nil {
		return "", err
	}
	prefix := uid + "-" + name + "-"
	id, attempt := "", -1
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		// "web" is not "web-1": the rest is the attempt alone.
		n, err := strconv.Atoi(rest)
		if err != nil || n < 0 || n <= attempt {
			continue
		}
		id, attempt = e.Name(), n
	}
	if id == "" {
		return "", errContainerNotRunning
	}
	// A container is reported running once runc has created it; "runc
	// run" starts it a moment later. A request in that moment waits for
	// the start rather than being told the container is not running.
	deadline := time.Now().Add(createdGrace)
	for {
		out, err := exec.CommandContext(ctx, r.binary, "--root", r.root, "state", id).Output()
		if err != nil {
			return "", errContainerNotRunning
		}
		var state struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal(out, &state); err != nil {
			return "", fmt.Errorf("runc state %s: %w", id, err)
		}
		switch {
		case state.Status == "running":
			return id, nil
		case state.Status != "created" || time.Now().After(deadline):
			return "", errContainerNotRunning
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// createdGrace is how long a streaming request waits for a created
// container to start.
const createdGrace = 10 * time.Second

// execStreams runs argv in the runc container id with "runc exec", its
// stdio the given streams (nil for none), as a CRI runtime's streaming
// exec does. With tty, the process gets a terminal of its own (runc's)
// and resize sizes it. A non-zero exit is a utilexec.ExitError; ctx
// ending kills the process.
func (r *runcRuntime) execStreams(ctx context.Context, id string, argv []string, in io.Reader, out, errOut io.Writer, tty bool, resize <-chan remotecommandserver.TerminalSize) error {
	if len(argv) == 0 {
		return errors.New("no command given")
	}
	dir, err := os.MkdirTemp("", "slipway-exec-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	pidFile := filepath.Join(dir, "pid")
	args := []string{"--root", r.root, "exec", "--pid-file", pidFile}
	if tty {
		args = append(args, "--tty")
	}
	cmd := exec.CommandContext(ctx, r.binary, append(append(args, id), argv...)...)
	// The process runc started goes first: runc then ends with its exit
	// status (SIGKILL is not one runc can forward).
	cmd.Cancel = func() error {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		return cmd.Process.Signal(syscall.SIGTERM)
	}
	// A process the command left in the background may hold its stdout:
	// the streams end shortly after the command, whatever it left.
	cmd.WaitDelay = 2 * time.Second

	var copyOut <-chan struct{}
	var stdin *os.File // the write end the client's input goes to
	if tty {
		master, slave, err := openPTY()
		if err != nil {
			return fmt.Errorf("allocating a terminal: %w", err)
		}
		defer master.Close()
		// runc copies between its terminal (this one) and the
		// container's; it resizes the container's on SIGWINCH, which the
		// kernel sends when this one is resized. Its session's terminal.
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		err = cmd.Start()
		slave.Close()
		if err != nil {
			return fmt.Errorf("starting runc exec: %w", err)
		}
		done := make(chan struct{})
		copyOut = done
		go func() {
			defer close(done)
			if out != nil {
				// Ends with EIO once runc, the terminal's last user, is gone.
				_, _ = io.Copy(out, master)
			} else {
				_, _ = io.Copy(io.Discard, master)
			}
		}()
		go func() {
			if resize == nil {
				return // a protocol without resizing
			}
			for size := range resize {
				_ = unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: size.Height, Col: size.Width})
			}
		}()
		stdin = master
	} else {
		var pr *os.File
		if in != nil {
			if pr, stdin, err = os.Pipe(); err != nil {
				return err
			}
			cmd.Stdin = pr
			defer stdin.Close()
		}
		cmd.Stdout, cmd.Stderr = out, errOut
		err = cmd.Start()
		if pr != nil {
			pr.Close()
		}
		if err != nil {
			return fmt.Errorf("starting runc exec: %w", err)
		}
	}
	if in != nil {
		w := stdin
		go func() {
			_, _ = io.Copy(w, in)
			if !tty {
				// The client's EOF is the process's.
				w.Close()
			}
		}()
	}
	err = cmd.Wait()
	if copyOut != nil {
		<-copyOut
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code := exit.ExitCode()
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		return utilexec.CodeExitError{Err: fmt.Errorf("error executing command %v, exit code %d", argv, code), Code: code}
	}
	if errors.Is(err, exec.ErrWaitDelay) {
		// It ended; only its streams were still held.
		return nil
	}
	return err
}

// openPTY allocates a pseudo-terminal pair, the follower in raw mode: it
// carries the client's terminal's bytes as they are (runc puts the
// container's terminal in the mode its program asks for).
func openPTY() (master, slave *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*os.File, *os.File, error) {
		master.Close()
		return nil, nil, err
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		return fail(fmt.Errorf("unlocking the terminal: %w", err))
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		return fail(fmt.Errorf("terminal number: %w", err))
	}
	slave, err = os.OpenFile("/dev/pts/"+strconv.FormatUint(uint64(n), 10), os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fail(err)
	}
	t, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err == nil {
		// cfmakeraw(3)
		t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		t.Oflag &^= unix.OPOST
		t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		t.Cflag &^= unix.CSIZE | unix.PARENB
		t.Cflag |= unix.CS8
		t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
		err = unix.IoctlSetTermios(int(slave.Fd()), unix.TCSETS, t)
	}
	if err != nil {
		slave.Close()
		return fail(fmt.Errorf("raw terminal: %w", err))
	}
	return master, slave, nil
}

// dialInPod connects to port on the pod's loopback, from inside its
// network namespace, as a CRI runtime's port-forward does: a server
// listening on 127.0.0.1 only is reached too.
func (r *runcRuntime) dialInPod(ctx context.Context, uid string, port int32) (net.Conn, error) {
	nsPath := cni.NetNSPath(netnsName(uid))
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		conn, err := dialInNetNS(ctx, nsPath, port)
		done <- result{conn, err}
	}()
	res := <-done
	return res.conn, res.err
}

// dialInNetNS switches its thread to the namespace at nsPath, creates the
// socket there (a socket stays in the namespace it was made in) and
// switches back. A thread that cannot switch back is not returned to Go's
// scheduler: it ends with the goroutine.
func dialInNetNS(ctx context.Context, nsPath string, port int32) (net.Conn, error) {
	target, err := os.Open(nsPath)
	if err != nil {
		return nil, fmt.Errorf("the pod's network namespace: %w", err)
	}
	defer target.Close()
	runtime.LockOSThread()
	own, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer own.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("entering the pod's network namespace: %w", err)
	}
	defer func() {
		if unix.Setns(int(own.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err4 := d.DialContext(ctx, "tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err4 == nil {
		return conn, nil
	}
	conn, err6 := d.DialContext(ctx, "tcp6", net.JoinHostPort("::1", strconv.Itoa(int(port))))
	if err6 == nil {
		return conn, nil
	}
	return nil, fmt.Errorf("dialing port %d in the pod: %w", port, errors.Join(err4, err6))
}
