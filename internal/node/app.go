package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kubernetes' container restart back-off.
const (
	DefaultRestartBackoff    = 10 * time.Second
	DefaultMaxRestartBackoff = 5 * time.Minute
	DefaultBackoffReset      = 10 * time.Minute
)

// appState is the status of a sandboxed pod as its supervisors see it;
// one writer goroutine copies it to the API.
type appState struct {
	mu         sync.Mutex
	hostIP     string
	podIP      string
	startTime  metav1.Time
	started    bool // a container has run: the pod is Running
	init       []corev1.ContainerStatus
	containers []corev1.ContainerStatus
	// probedReady is each container's readiness probe verdict.
	probedReady []bool
	dirty       chan struct{}
}

func newAppState(pod *corev1.Pod, hostIP string) *appState {
	st := &appState{hostIP: hostIP, startTime: metav1.Now(), dirty: make(chan struct{}, 1)}
	if pod.Status.StartTime != nil {
		st.startTime = *pod.Status.StartTime
	}
	// A pod the previous agent ran keeps its restart counts.
	previous := map[string]corev1.ContainerStatus{}
	for _, cs := range append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		previous[cs.Name] = cs
	}
	waiting := func(c corev1.Container) corev1.ContainerStatus {
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, Started: ptrBool(false),
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}
		if p, ok := previous[c.Name]; ok {
			cs.RestartCount, cs.LastTerminationState = p.RestartCount, p.LastTerminationState
			if r := p.State.Running; r != nil {
				// Removed when the agent started again: it restarts.
				cs.RestartCount++
				cs.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
					ExitCode: 137, Reason: "ContainerStatusUnknown", Message: "The node agent restarted and removed the container",
					StartedAt: r.StartedAt, FinishedAt: metav1.Now(), ContainerID: p.ContainerID,
				}}
			}
		}
		return cs
	}
	for _, c := range pod.Spec.InitContainers {
		st.init = append(st.init, waiting(c))
	}
	for _, c := range pod.Spec.Containers {
		st.containers = append(st.containers, waiting(c))
		st.probedReady = append(st.probedReady, c.ReadinessProbe == nil)
	}
	return st
}

// slot is one container's place in the state.
type slot struct {
	st    *appState
	init  bool
	index int
}

func (s slot) status() *corev1.ContainerStatus {
	if s.init {
		return &s.st.init[s.index]
	}
	return &s.st.containers[s.index]
}

// update changes the container's status under the lock and schedules a
// write.
func (s slot) update(fn func(cs *corev1.ContainerStatus)) {
	s.st.mu.Lock()
	fn(s.status())
	if !s.init {
		cs := s.status()
		cs.Ready = cs.State.Running != nil && s.st.probedReady[s.index]
	}
	s.st.mu.Unlock()
	s.st.notify()
}

func (s slot) setProbedReady(ready bool) {
	s.st.mu.Lock()
	changed := s.st.probedReady[s.index] != ready
	s.st.probedReady[s.index] = ready
	s.st.mu.Unlock()
	if changed {
		s.update(func(*corev1.ContainerStatus) {})
	}
}

func (st *appState) notify() {
	select {
	case st.dirty <- struct{}{}:
	default:
	}
}

// apply copies the state into a pod status; final sets the terminal phase.
func (st *appState) apply(s *corev1.PodStatus, final bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := metav1.Now()
	s.HostIP = st.hostIP
	s.HostIPs = []corev1.HostIP{{IP: st.hostIP}}
	s.PodIP = st.podIP
	s.PodIPs = nil
	if st.podIP != "" {
		s.PodIPs = []corev1.PodIP{{IP: st.podIP}}
	}
	startTime := st.startTime
	s.StartTime = &startTime
	s.InitContainerStatuses = append([]corev1.ContainerStatus(nil), st.init...)
	s.ContainerStatuses = append([]corev1.ContainerStatus(nil), st.containers...)
	ready := len(st.containers) > 0
	for _, cs := range st.containers {
		ready = ready && cs.Ready
	}
	switch {
	case final:
		s.Phase = corev1.PodSucceeded
		for _, cs := range append(s.InitContainerStatuses, s.ContainerStatuses...) {
			if t := cs.State.Terminated; t == nil || t.ExitCode != 0 {
				s.Phase = corev1.PodFailed
			}
		}
		ready = false
	case st.started:
		s.Phase = corev1.PodRunning
	default:
		s.Phase = corev1.PodPending
	}
	setReady(s, ready, now)
}

// executeApp runs a pod of a SandboxRuntime to its end: the sandbox, init
// containers one after the other, then every container under its own
// supervisor (restart policy with back-off, probes), with the status
// written as it changes.
func (a *Agent) executeApp(pod *corev1.Pod, rt SandboxRuntime, files podFiles, run *podRun) {
	key := pod.Namespace + "/" + pod.Name
	ctx := a.ctx
	defer a.finishRun(pod, files, run)
	defer enforceDeadline(pod, run)()
	st := newAppState(pod, a.cfg.HostIP)
	writerDone := make(chan struct{})
	stopWriter := make(chan struct{})
	go func() {
		defer close(writerDone)
		for {
			select {
			case <-st.dirty:
				if err := a.updateStatus(ctx, pod, func(s *corev1.PodStatus) { st.apply(s, false) }); err != nil && ctx.Err() == nil {
					a.log.Error("writing pod status", "pod", key, "error", err)
				}
			case <-stopWriter:
				return
			}
		}
	}()
	defer func() {
		close(stopWriter)
		<-writerDone
		if ctx.Err() != nil {
			// The agent is stopping: the pod starts again with the next one.
			return
		}
		if err := a.updateStatus(ctx, pod, func(s *corev1.PodStatus) {
			st.apply(s, true)
			if run.reason != "" {
				s.Phase, s.Reason, s.Message = corev1.PodFailed, run.reason, run.message
			}
		}); err != nil {
			a.log.Error("writing the final status", "pod", key, "error", err)
		}
	}()

	sandbox, ok := a.prepareSandbox(pod, rt, files, st, run)
	if !ok {
		return
	}
	defer func() {
		release, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := rt.Release(release, string(pod.UID)); err != nil {
			a.log.Error("releasing the pod's sandbox", "pod", key, "error", err)
		}
	}()

	for i := range pod.Spec.InitContainers {
		if !a.supervise(pod, rt, files, sandbox, run, slot{st: st, init: true, index: i}, &pod.Spec.InitContainers[i]) {
			// The pod ends: its containers never start.
			for j := range pod.Spec.Containers {
				slot{st: st, index: j}.update(func(cs *corev1.ContainerStatus) { *cs = notStarted(&pod.Spec.Containers[j]) })
			}
			return
		}
	}
	var wg sync.WaitGroup
	for i := range pod.Spec.Containers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.supervise(pod, rt, files, sandbox, run, slot{st: st, index: i}, &pod.Spec.Containers[i])
		}()
	}
	wg.Wait()
}

// prepareSandbox creates the pod's sandbox, retrying with back-off until
// it works or the pod is stopped.
func (a *Agent) prepareSandbox(pod *corev1.Pod, rt SandboxRuntime, files podFiles, st *appState, run *podRun) (Sandbox, bool) {
	delay := time.Second
	for {
		sandbox, err := rt.Prepare(a.ctx, pod, files)
		if err == nil {
			st.mu.Lock()
			st.podIP = sandbox.PodIP()
			st.mu.Unlock()
			st.notify()
			return sandbox, true
		}
		a.log.Error("creating the pod sandbox", "pod", pod.Namespace+"/"+pod.Name, "error", err)
		for i := range pod.Spec.Containers {
			slot{st: st, index: i}.update(func(cs *corev1.ContainerStatus) {
				cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating", Message: err.Error()}}
			})
		}
		if !sleepUnlessStopped(run, delay) {
			return nil, false
		}
		delay = min(2*delay, a.cfg.MaxRestartBackoff)
	}
}

// sleepUnlessStopped waits d; false when the pod was stopped meanwhile.
func sleepUnlessStopped(run *podRun, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-run.stopCh:
		return false
	}
}

// supervise runs one container until it ends for good: restarted with
// Kubernetes' back-off per restartPolicy (init containers: on failure
// unless Never), image pulls retried with back-off, probed while it runs.
// It returns whether the container's last run succeeded.
func (a *Agent) supervise(pod *corev1.Pod, rt SandboxRuntime, files podFiles, sandbox Sandbox, run *podRun, sl slot, c *corev1.Container) bool {
	policy := pod.Spec.RestartPolicy
	if policy == "" {
		policy = corev1.RestartPolicyAlways
	}
	if sl.init && policy == corev1.RestartPolicyAlways {
		policy = corev1.RestartPolicyOnFailure
	}
	sl.st.mu.Lock()
	attempt := int(sl.status().RestartCount)
	sl.st.mu.Unlock()
	backoff, pullBackoff := a.cfg.RestartBackoff, a.cfg.RestartBackoff
	var last *corev1.ContainerStateTerminated
	end := func(ok bool) bool {
		if last == nil {
			// Stopped before it ever ran.
			sl.update(func(cs *corev1.ContainerStatus) { *cs = notStarted(c) })
			return false
		}
		sl.update(func(cs *corev1.ContainerStatus) {
			cs.State = corev1.ContainerState{Terminated: last}
			cs.Started = ptrBool(false)
		})
		return ok
	}
	for {
		if run.stopped() {
			return end(false)
		}
		s := a.launch(pod, rt, c, files, run, sandbox, attempt)
		var pullErr *ImagePullError
		if s.proc == nil && errors.As(s.err, &pullErr) {
			msg := pullErr.Error()
			sl.update(func(cs *corev1.ContainerStatus) {
				cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: msg}}
			})
			// ErrImagePull for the first half of the wait, then
			// ImagePullBackOff, as a kubelet shows them.
			if !sleepUnlessStopped(run, pullBackoff/2) {
				return end(false)
			}
			sl.update(func(cs *corev1.ContainerStatus) {
				cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff",
					Message: fmt.Sprintf("Back-off pulling image %q: %s", c.Image, msg)}}
			})
			if !sleepUnlessStopped(run, pullBackoff-pullBackoff/2) {
				return end(false)
			}
			pullBackoff = min(2*pullBackoff, a.cfg.MaxRestartBackoff)
			continue
		}
		pullBackoff = a.cfg.RestartBackoff
		stopProbes := func() {}
		if s.proc != nil {
			sl.st.mu.Lock()
			sl.st.started = true
			if !sl.init {
				sl.st.probedReady[sl.index] = c.ReadinessProbe == nil
			}
			sl.st.mu.Unlock()
			sl.update(func(cs *corev1.ContainerStatus) {
				cs.ContainerID = s.id
				if p, ok := s.proc.(interface{ ImageID() string }); ok {
					cs.ImageID = p.ImageID()
				}
				cs.Started = ptrBool(true)
				cs.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: s.startedAt}}
			})
			if !sl.init {
				stopProbes = a.startProbes(pod, c, s, sl, sandbox.PodIP())
			}
		}
		<-s.exited
		stopProbes()
		term := a.terminatedStatus(s, files).State.Terminated
		last = term
		succeeded := s.err == nil && s.exitCode == 0
		restart := !run.stopped() && (policy == corev1.RestartPolicyAlways || (policy == corev1.RestartPolicyOnFailure && !succeeded))
		if !restart {
			return end(succeeded)
		}
		if time.Since(s.startedAt.Time) >= a.cfg.BackoffReset {
			backoff = a.cfg.RestartBackoff
		}
		attempt++
		delay := backoff
		sl.update(func(cs *corev1.ContainerStatus) {
			cs.RestartCount++
			cs.LastTerminationState = corev1.ContainerState{Terminated: term}
			cs.Started = ptrBool(false)
			cs.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
				Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", delay, c.Name, pod.Name, pod.Namespace, pod.UID)}}
		})
		if !sleepUnlessStopped(run, delay) {
			return end(false)
		}
		backoff = min(2*backoff, a.cfg.MaxRestartBackoff)
	}
}

// killForLiveness stops a container its liveness probe failed: SIGTERM,
// then SIGKILL after the grace period. Its supervisor restarts it.
func (a *Agent) killForLiveness(s *started) {
	_ = s.proc.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(a.cfg.StopGracePeriod):
		_ = s.proc.Signal(syscall.SIGKILL)
	}
}
