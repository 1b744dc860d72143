package node

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// podRun is one running pod: the handle sync uses to stop it.
type podRun struct {
	uid       types.UID
	once      sync.Once
	stopCh    chan struct{}
	reason    string // the pod's status reason when stopped for one
	message   string
	removeDir atomic.Bool // the pod is deleted: remove its directory at the end
	// grace, when set, replaces the agent's grace period: the deletion's.
	grace atomic.Int64
	// refreshAt is when the pod's projected tokens are requested again
	// (Unix nanoseconds; zero for never).
	refreshAt atomic.Int64
	// ended is set before the pod's secrets are removed at its end: a
	// token renewal that wrote after that removes them again.
	ended atomic.Bool
	done  chan struct{}
	// forced is closed when the agent shuts down: containers still in
	// their grace period are killed at once.
	forceOnce sync.Once
	forced    chan struct{}
}

func newPodRun(uid types.UID) *podRun {
	return &podRun{uid: uid, stopCh: make(chan struct{}), done: make(chan struct{}), forced: make(chan struct{})}
}

// force kills what still runs of a stopped pod without waiting for the
// rest of its grace period.
func (r *podRun) force() { r.forceOnce.Do(func() { close(r.forced) }) }

// stop asks the pod's containers to stop (SIGTERM, then SIGKILL after the
// grace period); reason and message, if set, become the pod's status reason.
func (r *podRun) stop(reason, message string) {
	r.once.Do(func() {
		r.reason, r.message = reason, message
		close(r.stopCh)
	})
}

func (r *podRun) stopped() bool {
	select {
	case <-r.stopCh:
		return true
	default:
		return false
	}
}

// enforceDeadline stops run once pod has been active on the node for its
// activeDeadlineSeconds; the func it returns disarms it.
func enforceDeadline(pod *corev1.Pod, run *podRun) (disarm func()) {
	d := pod.Spec.ActiveDeadlineSeconds
	if d == nil {
		return func() {}
	}
	timer := time.AfterFunc(time.Duration(*d)*time.Second, func() {
		run.stop("DeadlineExceeded", "Pod was active on the node longer than the specified deadline")
	})
	return func() { timer.Stop() }
}

// start prepares the pod's directory (volumes, token, work dir) and starts
// its containers in the background. A preparation error leaves the pod
// Pending and is retried, as a kubelet retries a failed mount.
func (a *Agent) start(ctx context.Context, pod *corev1.Pod, rt Runtime) error {
	key := pod.Namespace + "/" + pod.Name
	files := podFiles(a.logs.PodDir(pod.Namespace, pod.Name))
	// A pod starting here starts clean: whatever an earlier pod of the same
	// name left (logs, termination message) is not this pod's.
	if err := removePodDir(string(files)); err != nil {
		return fmt.Errorf("clearing %s: %w", files, err)
	}
	for _, dir := range []string{string(files), files.work(), files.home()} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
	}
	refreshAt, err := a.materializeVolumes(ctx, pod, files)
	if err != nil {
		_ = files.removeSecrets()
		return fmt.Errorf("mounting volumes of %s: %w", key, err)
	}
	run := newPodRun(pod.UID)
	a.mu.Lock()
	a.running[key] = run
	a.mu.Unlock()
	a.scheduleTokenRefresh(key, run, refreshAt)
	a.watchEmptyDirs(pod, files, run)
	a.log.Info("starting pod", "pod", key, "runtime", rt.Name())
	if sr, ok := rt.(SandboxRuntime); ok {
		go a.executeApp(pod.DeepCopy(), sr, files, run)
	} else {
		go a.execute(pod.DeepCopy(), rt, files, run)
	}
	return nil
}

// finishRun is the end of a pod run, whatever its runtime: its secrets
// and pid file go, the agent forgets it, and sync sees it again (a
// terminating pod is deleted now that nothing runs).
func (a *Agent) finishRun(pod *corev1.Pod, files podFiles, run *podRun) {
	key := pod.Namespace + "/" + pod.Name
	_ = os.Remove(files.pidFile())
	run.ended.Store(true)
	if err := files.removeSecrets(); err != nil {
		a.log.Error("removing a finished pod's secrets", "pod", key, "error", err)
	}
	if err := unmountSubPaths(string(files)); err != nil {
		a.log.Error("unmounting a finished pod's subPaths", "pod", key, "error", err)
	}
	if run.removeDir.Load() {
		_ = os.RemoveAll(string(files))
	}
	a.mu.Lock()
	delete(a.running, key)
	a.finished[key] = pod.UID
	a.mu.Unlock()
	close(run.done)
	a.queue.Add(key)
}

// started is a launched container.
type started struct {
	container *corev1.Container
	proc      Process
	id        string
	startedAt metav1.Time
	exited    chan struct{}
	logPath   string
	exitCode  int
	err       error
}

// execute runs the pod to its end: init containers one after the other
// (the pod stays Pending), then all containers (Running), then writes the
// terminal phase with each container's exit code and message.
func (a *Agent) execute(pod *corev1.Pod, rt Runtime, files podFiles, run *podRun) {
	key := pod.Namespace + "/" + pod.Name
	ctx := a.ctx
	defer a.finishRun(pod, files, run)
	defer enforceDeadline(pod, run)()

	var initStatuses, statuses []corev1.ContainerStatus
	failed := false
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if failed || run.stopped() {
			initStatuses = append(initStatuses, notStarted(c))
			failed = true
			continue
		}
		s := a.launch(pod, rt, c, files, run, nil, 0)
		<-s.exited
		status := a.terminatedStatus(s, files)
		initStatuses = append(initStatuses, status)
		failed = status.State.Terminated.ExitCode != 0
	}

	var launched []*started
	if failed || run.stopped() {
		for i := range pod.Spec.Containers {
			statuses = append(statuses, notStarted(&pod.Spec.Containers[i]))
		}
		failed = true
	} else {
		for i := range pod.Spec.Containers {
			launched = append(launched, a.launch(pod, rt, &pod.Spec.Containers[i], files, run, nil, 0))
		}
		startTime := metav1.Now()
		err := a.updateStatus(ctx, pod, func(s *corev1.PodStatus) {
			s.Phase = corev1.PodRunning
			if s.StartTime == nil {
				s.StartTime = &startTime
			}
			s.InitContainerStatuses = initStatuses
			s.ContainerStatuses = nil
			for _, l := range launched {
				s.ContainerStatuses = append(s.ContainerStatuses, runningStatus(l))
			}
			setReady(s, true, startTime)
		})
		if err != nil {
			a.log.Error("writing Running status", "pod", key, "error", err)
		}
		var wg sync.WaitGroup
		for _, l := range launched {
			wg.Add(1)
			go func() { defer wg.Done(); <-l.exited }()
		}
		wg.Wait()
		for _, l := range launched {
			status := a.terminatedStatus(l, files)
			statuses = append(statuses, status)
			if status.State.Terminated.ExitCode != 0 {
				failed = true
			}
		}
	}

	// Nothing of the pod runs any more: its secrets go before anyone can
	// see it ended (finishRun would do it after the status write).
	run.ended.Store(true)
	if err := files.removeSecrets(); err != nil {
		a.log.Error("removing a finished pod's secrets", "pod", key, "error", err)
	}
	now := metav1.Now()
	err := a.updateStatus(ctx, pod, func(s *corev1.PodStatus) {
		s.Phase = corev1.PodSucceeded
		if failed {
			s.Phase = corev1.PodFailed
		}
		if run.reason != "" {
			s.Phase = corev1.PodFailed
			s.Reason, s.Message = run.reason, run.message
		}
		if s.StartTime == nil {
			s.StartTime = &now
		}
		s.InitContainerStatuses = initStatuses
		s.ContainerStatuses = statuses
		setReady(s, false, now)
	})
	if err != nil {
		a.log.Error("writing the final status", "pod", key, "error", err)
	}
	a.log.Info("pod finished", "pod", key, "failed", failed)
}

// launch starts container c (its attempt-th start, in sandbox when the
// runtime has them); a start failure is recorded as its exit.
func (a *Agent) launch(pod *corev1.Pod, rt Runtime, c *corev1.Container, files podFiles, run *podRun, sandbox Sandbox, attempt int) *started {
	s := &started{container: c, startedAt: metav1.Now(), exited: make(chan struct{}),
		logPath: a.logs.ContainerLog(pod.Namespace, pod.Name, c.Name)}
	fail := func(err error) *started {
		s.exitCode, s.err = 128, err
		close(s.exited)
		return s
	}
	var env []string
	var err error
	if _, ok := rt.(SandboxRuntime); ok {
		env, err = a.appEnv(a.ctx, pod, c)
	} else {
		env, err = a.containerEnv(a.ctx, pod, c, files)
	}
	if err != nil {
		return fail(err)
	}
	out, err := a.openOutput(pod.Namespace, pod.Name, c.Name, s.startedAt.Time)
	if err != nil {
		return fail(err)
	}
	var stdin *os.File
	var stdinFeed func(exited <-chan struct{})
	if c.Stdin {
		var err error
		stdin, stdinFeed, err = openStdin(a.logs.ContainerStdin(pod.Namespace, pod.Name, c.Name), c.StdinOnce)
		if err != nil {
			out.started()
			out.wait(outputDrainTimeout)
			return fail(fmt.Errorf("creating stdin: %w", err))
		}
	}
	proc, err := rt.Start(ContainerSpec{Pod: pod, Container: c, Env: env, WorkDir: files.work(), Log: out.w, Stdin: stdin,
		Files: files, Sandbox: sandbox, Attempt: attempt})
	// The child has its own copies of the pipes' ends.
	out.started()
	if stdin != nil {
		stdin.Close()
	}
	if err != nil {
		out.wait(outputDrainTimeout)
		if stdinFeed != nil {
			closed := make(chan struct{})
			close(closed)
			stdinFeed(closed)
		}
		return fail(err)
	}
	if stdinFeed != nil {
		go stdinFeed(s.exited)
	}
	s.proc = proc
	s.id = fmt.Sprintf("%s://%d", rt.Name(), proc.PID())
	if ider, ok := proc.(containerIDer); ok {
		s.id = ider.ContainerID()
	}
	if err := appendPID(files.pidFile(), proc.PID(), pod.UID, c.Name); err != nil {
		a.log.Error("recording a pid", "pod", pod.Namespace+"/"+pod.Name, "error", err)
	}
	go func() {
		s.exitCode, s.err = proc.Wait()
		// Its last words are in the log before anyone sees it ended.
		out.wait(outputDrainTimeout)
		close(s.exited)
	}()
	// Stopping the pod stops the container: SIGTERM, then SIGKILL.
	go func() {
		select {
		case <-run.stopCh:
			_ = proc.Signal(syscall.SIGTERM)
			grace := a.cfg.StopGracePeriod
			if g := run.grace.Load(); g > 0 {
				grace = time.Duration(g)
			}
			select {
			case <-s.exited:
			case <-time.After(grace):
				_ = proc.Signal(syscall.SIGKILL)
			case <-run.forced:
				_ = proc.Signal(syscall.SIGKILL)
			}
		case <-s.exited:
		}
	}()
	return s
}

func runningStatus(s *started) corev1.ContainerStatus {
	return corev1.ContainerStatus{
		Name:        s.container.Name,
		Image:       s.container.Image,
		ContainerID: s.id,
		Ready:       true,
		Started:     ptrBool(true),
		State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: s.startedAt}},
	}
}

// terminatedStatus is the container's end: exit code, "Completed" or
// "Error", and the termination message the process wrote (or the start
// error).
func (a *Agent) terminatedStatus(s *started, files podFiles) corev1.ContainerStatus {
	reason := "Completed"
	if s.exitCode != 0 || s.err != nil {
		reason = "Error"
	}
	message := ""
	if s.err != nil {
		reason = "ContainerCannotRun"
		message = s.err.Error()
	} else {
		message = terminationMessage(files.terminationLog())
		if message == "" && s.exitCode != 0 && s.container.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError {
			message = logTail(s.logPath, 2048)
		}
	}
	return corev1.ContainerStatus{
		Name:        s.container.Name,
		Image:       s.container.Image,
		ContainerID: s.id,
		Started:     ptrBool(false),
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode:    int32(s.exitCode),
			Reason:      reason,
			Message:     message,
			StartedAt:   s.startedAt,
			FinishedAt:  metav1.Now(),
			ContainerID: s.id,
		}},
	}
}

func notStarted(c *corev1.Container) corev1.ContainerStatus {
	now := metav1.Now()
	return corev1.ContainerStatus{
		Name:    c.Name,
		Image:   c.Image,
		Started: ptrBool(false),
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 1, Reason: "ContainerCannotRun", Message: "the pod ended before this container started",
			StartedAt: now, FinishedAt: now,
		}},
	}
}

// maxTerminationMessage is Kubernetes' limit on a termination message.
const maxTerminationMessage = 4096

func terminationMessage(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, maxTerminationMessage))
	return strings.TrimSpace(string(b))
}

func logTail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return ""
	}
	offset := max(info.Size()-n, 0)
	b := make([]byte, info.Size()-offset)
	_, _ = f.ReadAt(b, offset)
	return strings.TrimSpace(string(b))
}
