package node

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"syscall"

	corev1 "k8s.io/api/core/v1"

	"github.com/slipway-dev/slipway/internal/standby"
)

// Runtime runs the containers of the pods it handles. The agent picks one
// per pod: host processes for build pods, runc (a SandboxRuntime) for
// every other pod.
type Runtime interface {
	// Name names the runtime in container IDs ("host-process://1234").
	Name() string
	// Handles reports whether this runtime runs pod.
	Handles(pod *corev1.Pod) bool
	// Start starts one container; its stdout and stderr go to spec.Log.
	Start(spec ContainerSpec) (Process, error)
}

// ContainerSpec is one container ready to start: its pod, its environment
// with volume paths already rewritten, and where its files go.
type ContainerSpec struct {
	Pod       *corev1.Pod
	Container *corev1.Container
	// Env is the complete environment, "KEY=value".
	Env []string
	// WorkDir is the process's working directory.
	WorkDir string
	// Log receives stdout and stderr (the agent copies it into the
	// container's log).
	Log *os.File
	// Stdin, when set, is the container's stdin (a container with
	// stdin: true); nil means no stdin.
	Stdin *os.File
	// Files is the pod's directory (volumes, /etc files).
	Files podFiles
	// Sandbox is the pod's sandbox from SandboxRuntime.Prepare; nil for
	// other runtimes.
	Sandbox Sandbox
	// Attempt numbers the container's starts, from 0.
	Attempt int
}

// Process is a started container.
type Process interface {
	// PID is the host process ID (the process group leader).
	PID() int
	// Wait waits for the container's main process to exit and returns its
	// exit code (128+signal when killed by a signal).
	Wait() (int, error)
	// Signal sends sig to every process of the container.
	Signal(sig syscall.Signal) error
}

// HostProcessAnnotation marks a pod whose one container runs as a process
// of this machine rather than in a container: build pods, which need the
// agent's privileges to drive BuildKit.
const HostProcessAnnotation = "slipway.dev/host-process"

// hostProcess runs host-process pods: argv[0] is looked up in a fixed map
// of allowed programs (so a pod cannot run arbitrary host commands), each
// container in its own process group so that stopping it stops its
// children too.
type hostProcess struct {
	programs map[string]string
	// standby holds, by program path, the pool of standby processes of
	// programs that are this executable (nil when not used).
	standby map[string]*standby.Pool
}

// host is the agent's host-process runtime.
func host(a *Agent) hostProcess {
	for _, rt := range a.runtimes {
		if h, ok := rt.(hostProcess); ok {
			return h
		}
	}
	return hostProcess{}
}

func (hostProcess) Name() string { return "host-process" }

func (hostProcess) Handles(pod *corev1.Pod) bool {
	return pod.Annotations[HostProcessAnnotation] == "true"
}

func (h hostProcess) Start(spec ContainerSpec) (Process, error) {
	argv := append(append([]string{}, spec.Container.Command...), spec.Container.Args...)
	if len(argv) == 0 {
		return nil, errors.New("a host-process container needs a command")
	}
	program, ok := h.programs[argv[0]]
	if !ok {
		return nil, fmt.Errorf("host-process pods may not run %q", argv[0])
	}
	if pool := h.standby[program]; pool != nil {
		cmd, err := pool.Start(standby.Request{Argv0: argv[0], Args: argv[1:], Env: spec.Env, Dir: spec.WorkDir},
			standby.Files{Stdin: spec.Stdin, Stdout: spec.Log, Stderr: spec.Log})
		if err == nil {
			return &hostProc{cmd: cmd}, nil
		}
		// Not fatal: the program starts the ordinary way below.
		slog.Warn("no standby process, starting the program", "program", program, "err", err)
	}
	cmd := exec.Command(program, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env = spec.Env
	cmd.Dir = spec.WorkDir
	cmd.Stdout = spec.Log
	cmd.Stderr = spec.Log
	if spec.Stdin != nil {
		cmd.Stdin = spec.Stdin
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", program, err)
	}
	return &hostProc{cmd: cmd}, nil
}

type hostProc struct{ cmd *exec.Cmd }

func (p *hostProc) PID() int { return p.cmd.Process.Pid }

func (p *hostProc) Wait() (int, error) {
	err := p.cmd.Wait()
	// Children left behind by the main process (a git or a helper it
	// started) go with it: the group is the container.
	_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit):
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return exit.ExitCode(), nil
	default:
		return -1, err
	}
}

func (p *hostProc) Signal(sig syscall.Signal) error {
	err := syscall.Kill(-p.PID(), sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}
