// Package standby starts processes of this executable ahead of need. A
// standby process has done the Go runtime's and every package's
// initialisation (most of the ~0.1 s a slipway command takes before it
// does anything) and waits for the command it is to run: its arguments,
// environment, working directory and stdio. The node agent hands
// host-process pods (the builder, the deployer) to one, so that a build
// starts working at once, and readies the next standby in the background.
//
// The handover is one message on a unix socket inherited as fd 3: an
// 8-byte length with the stdio descriptors attached (SCM_RIGHTS), then the
// request as JSON. The standby answers one byte once it has taken the
// request. An idle standby exits when its parent closes the socket (or
// dies), so none is ever left behind.
package standby

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Arg is the one argument that makes the executable a standby process.
const Arg = "__standby"

// handoverFD is the socket's descriptor in the standby process.
const handoverFD = 3

// ackTimeout bounds the wait for a standby to take a request: a live one
// answers in microseconds.
const ackTimeout = 5 * time.Second

// maxRequest bounds a request's JSON (the environment carries the Build
// as JSON, which is small; this is a sanity limit).
const maxRequest = 16 << 20

// Request is the command a standby process runs.
type Request struct {
	// Args are the command's arguments after the executable's name.
	Args []string `json:"args"`
	// Argv0 is the command's name, os.Args[0] in the process.
	Argv0 string `json:"argv0"`
	// Env is the complete environment, "KEY=value".
	Env []string `json:"env"`
	// Dir is the working directory.
	Dir string `json:"dir"`
}

// Files are the standby's new stdin, stdout and stderr; nil means
// /dev/null.
type Files struct {
	Stdin, Stdout, Stderr *os.File
}

// Pool keeps one standby process of an executable ready.
type Pool struct {
	exe string

	mu     sync.Mutex
	ready  *process
	closed bool
	// starting is closed when the background start in flight ends.
	starting chan struct{}
}

// process is a started standby and the parent's end of its socket.
type process struct {
	cmd  *exec.Cmd
	conn *net.UnixConn
	// idle is set while it runs under SCHED_IDLE.
	idle bool
}

// NewPool returns a pool for exe; the first standby starts at once, in
// the background.
func NewPool(exe string) *Pool {
	p := &Pool{exe: exe}
	p.refill()
	return p
}

// Start runs req in a standby process and returns it, started, as an
// exec.Cmd to Wait for. The process is the leader of its own process
// group. When no standby is ready, one is started now. Errors mean the
// command did not start; the caller may then run it the ordinary way.
//
// The next standby starts at once, under SCHED_IDLE (priority.go): ready
// for the next pod (a rollout's deployer follows its build closely), and
// taking only CPU time the running command leaves idle. Starting it when
// the command ended instead measured ~100 ms slower rollouts and no
// faster builds.
func (p *Pool) Start(req Request, files Files) (*exec.Cmd, error) {
	defer p.refill()
	proc, err := p.take()
	if err != nil {
		return nil, err
	}
	if err := proc.hand(req, files); err != nil {
		// The ready one may have died since (killed by someone, out of
		// memory): one more try with a fresh process.
		proc.kill()
		if proc, err = start(p.exe, false); err != nil {
			return nil, err
		}
		if err := proc.hand(req, files); err != nil {
			proc.kill()
			return nil, fmt.Errorf("handing the command to a standby process: %w", err)
		}
	}
	return proc.cmd, nil
}

// Close stops the idle standby; commands already handed over go on.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	ready := p.ready
	p.ready = nil
	starting := p.starting
	p.mu.Unlock()
	if ready != nil {
		ready.kill()
	}
	if starting != nil {
		<-starting
		p.mu.Lock()
		ready, p.ready = p.ready, nil
		p.mu.Unlock()
		if ready != nil {
			ready.kill()
		}
	}
}

// take returns the ready standby, waiting for one being started, or
// starts one now.
func (p *Pool) take() (*process, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errors.New("standby pool is closed")
	}
	ready, starting := p.ready, p.starting
	p.ready = nil
	p.mu.Unlock()
	if ready == nil && starting != nil {
		<-starting
		p.mu.Lock()
		ready, p.ready = p.ready, nil
		p.mu.Unlock()
	}
	if ready != nil {
		return ready, nil
	}
	return start(p.exe, false)
}

// refill starts the next standby in the background unless one is ready
// or on its way.
func (p *Pool) refill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.ready != nil || p.starting != nil {
		return
	}
	done := make(chan struct{})
	p.starting = done
	go func() {
		defer close(done)
		proc, err := start(p.exe, true)
		p.mu.Lock()
		defer p.mu.Unlock()
		p.starting = nil
		if err != nil {
			return // the next Start starts one itself and reports the error
		}
		if p.closed {
			proc.kill()
			return
		}
		p.ready = proc
	}()
}

// start starts a standby process of exe, with idle, under SCHED_IDLE
// (see priority.go).
func start(exe string, idle bool) (*process, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("standby socket: %w", err)
	}
	parentEnd := os.NewFile(uintptr(fds[0]), "standby")
	childEnd := os.NewFile(uintptr(fds[1]), "standby-child")
	defer childEnd.Close()
	conn, err := net.FileConn(parentEnd)
	parentEnd.Close()
	if err != nil {
		return nil, fmt.Errorf("standby socket: %w", err)
	}
	cmd := exec.Command(exe, Arg)
	cmd.ExtraFiles = []*os.File{childEnd} // fd 3
	// An idle standby under SCHED_IDLE on a busy machine may take a minute
	// to finish its start-up and see the socket close when its parent is
	// killed (SIGKILL): the parent's death kills it instead. Serve clears
	// this once it is handed a command, which then outlives the parent as
	// any host process does (the next agent stops it).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("starting a standby process: %w", err)
	}
	proc := &process{cmd: cmd, conn: conn.(*net.UnixConn)}
	if idle {
		// Best effort: a standby at the normal priority only competes for
		// the CPU, and hand restores the policy of every thread.
		_ = setPolicy(cmd.Process.Pid, unix.SCHED_IDLE)
		proc.idle = true
	}
	return proc, nil
}

// kill stops a standby that has not taken a command.
func (s *process) kill() {
	s.conn.Close()
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// hand sends req and the stdio files and waits for the standby to take
// them.
func (s *process) hand(req Request, files Files) error {
	if s.idle {
		// The command runs at the normal priority, and so does the rest
		// of the start-up when the standby is not done with it yet.
		if err := setPolicy(s.cmd.Process.Pid, unix.SCHED_NORMAL); err != nil {
			return fmt.Errorf("restoring the standby's scheduling policy: %w", err)
		}
		s.idle = false
	}
	payload, err := json.Marshal(req)
	if err != nil {
		return err
	}
	devNull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devNull.Close()
	fdOf := func(f *os.File) int {
		if f == nil {
			return int(devNull.Fd())
		}
		return int(f.Fd())
	}
	header := make([]byte, 8)
	binary.BigEndian.PutUint64(header, uint64(len(payload)))
	rights := syscall.UnixRights(fdOf(files.Stdin), fdOf(files.Stdout), fdOf(files.Stderr))
	deadline := time.Now().Add(ackTimeout)
	_ = s.conn.SetDeadline(deadline)
	if _, _, err := s.conn.WriteMsgUnix(header, rights, nil); err != nil {
		return err
	}
	if _, err := s.conn.Write(payload); err != nil {
		return err
	}
	ack := make([]byte, 1)
	if _, err := io.ReadFull(s.conn, ack); err != nil {
		return fmt.Errorf("no answer: %w", err)
	}
	if ack[0] != 'k' {
		return fmt.Errorf("standby refused the command (%q)", ack)
	}
	return s.conn.Close()
}
