// Package node is the node agent: this machine's kubelet. It registers
// the Node and keeps it Ready (status, and a Lease renewed every 10 s),
// runs the pods the scheduler binds to it and writes their status back
// through pods/status, and serves the kubelet API kube-apiserver calls for
// pods/log. It acts as system:node:<name>, so the Node authorizer and
// NodeRestriction limit it to its own pods' secrets, config maps and
// tokens. Each pod is run by the Runtime that handles it; build pods
// (annotated slipway.dev/host-process) run as host processes, with their
// volumes (the projected service account token among them) written into
// the pod's directory and their output kept per container for pods/log
// and builds/log.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/slipway-dev/slipway/internal/hostprocess"
	"github.com/slipway-dev/slipway/internal/image"
	"github.com/slipway-dev/slipway/internal/node/cni"
	"github.com/slipway-dev/slipway/internal/podlogs"
	"github.com/slipway-dev/slipway/internal/standby"
)

// AgentName names the work queue and the log records.
const AgentName = "node"

// DefaultStopGracePeriod is how long a stopped container gets between
// SIGTERM and SIGKILL.
const DefaultStopGracePeriod = 10 * time.Second

// Config is what the agent needs.
type Config struct {
	// NodeName is the Node this agent registers and whose pods it runs:
	// only pods with spec.nodeName equal to it. Required; the server
	// passes the lowercased hostname.
	NodeName string
	// DataDir is the server's data directory; pods live under DataDir/pods.
	DataDir string
	// APIHost and APIPort are the API server's loopback address, given to
	// pods as KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT.
	APIHost, APIPort string
	// BuildkitHost is the buildkitd address given to pods as BUILDKIT_HOST.
	BuildkitHost string
	// LocalGitRoot is the directory under which builds may clone git
	// repositories of this machine, given to host processes as
	// podenv.EnvLocalGitRoot; "" allows none.
	LocalGitRoot string
	// Client authenticates as the node (system:node:<NodeName> in
	// system:nodes): it registers the Node and its Lease, writes pod status
	// and reads what the node's pods use (secrets, config maps, tokens).
	Client kubernetes.Interface
	// Pods is the informer of the node's pods (a field selector
	// spec.nodeName=<NodeName>, as the kubelet's); pods bound elsewhere are
	// ignored anyway. Its factory is started by the caller.
	Pods coreinformers.PodInformer
	// ReservedHostPorts are the server's own listening ports (its API, the
	// registry, etcd, ...): a pod's hostPort may not take one, as its DNAT
	// would capture the server's traffic (pushes with their tokens). The
	// kubelet API's port is reserved too.
	ReservedHostPorts []int32
	// HostProcessSigner checks that a host-process pod is one Slipway's
	// controllers made (hostprocess.Signer); without it no pod runs as a
	// host process.
	HostProcessSigner *hostprocess.Signer
	// Programs maps the argv[0] a host-process container may name to the
	// executable run for it; nil means {"slipway": this executable}. Only
	// these programs run as host processes.
	Programs map[string]string
	// StopGracePeriod is the time between SIGTERM and SIGKILL; zero means
	// DefaultStopGracePeriod.
	StopGracePeriod time.Duration
	// Standby keeps a standby process (internal/standby) of each program
	// that is this executable, so host-process pods skip its start-up.
	Standby bool

	// DisableRunc turns the runc runtime off: only host-process pods run.
	// Without it, application pods run under runc when runc and the CNI
	// plugins are installed and the agent is root.
	DisableRunc bool
	// RuncBinary is the runc executable; default "runc" from PATH.
	RuncBinary string
	// Network is the pod network (CNI bridge, subnet, plugin directories).
	Network cni.Config
	// Registry pulls application images: the server's client with its
	// --insecure-registry and --registry-ca rules, shared with imports; nil
	// means a client with the defaults (system CAs, loopback may be plain
	// HTTP).
	Registry *image.Client
	// ClusterDNS is the cluster DNS server's address ClusterFirst pods
	// resolve with, in ClusterDomain; empty gives them the host's resolvers.
	ClusterDNS, ClusterDomain string
	// HostIP is the Node's InternalIP and the pods' status.hostIP;
	// default 127.0.0.1.
	HostIP string

	// KubeletListen is the host:port of the kubelet API (containerLogs,
	// healthz), which kube-apiserver calls for pods/log; empty turns it
	// off. The Node advertises the port bound (port 0 takes a free one).
	KubeletListen string
	// KubeletCertFile and KubeletKeyFile are the kubelet API's serving
	// certificate (signed by the cluster CA, for HostIP).
	KubeletCertFile, KubeletKeyFile string
	// ClientCAFile is the CA of the client certificates the kubelet API
	// accepts (the cluster CA: kube-apiserver's kubelet client cert).
	ClientCAFile string
	// LeaseRenewInterval is how often the node's Lease is renewed
	// (default 10 s, for a lease of 40 s, as the kubelet's);
	// NodeStatusReportInterval how often the Node's status is written
	// when nothing changed (default 5 min).
	LeaseRenewInterval, NodeStatusReportInterval time.Duration
	// RestartBackoff is the first delay before a container restarts
	// (default 10 s), doubling up to MaxRestartBackoff (default 5 min);
	// a container that ran BackoffReset (default 10 min) starts over.
	RestartBackoff, MaxRestartBackoff, BackoffReset time.Duration
	// ContainerLogMaxSize is the size in bytes at which a container's log
	// is rotated (default 10 MiB, the kubelet's containerLogMaxSize) and
	// ContainerLogMaxFiles how many of its files are kept, the current one
	// included (default 5, the kubelet's containerLogMaxFiles).
	ContainerLogMaxSize  int64
	ContainerLogMaxFiles int
	// EmptyDirMaxSize bounds, in bytes, an emptyDir volume without a
	// sizeLimit (default DefaultEmptyDirMaxSize; less than zero is no
	// bound): a pod whose emptyDir passes its sizeLimit, or this, is
	// evicted. EmptyDirCheckInterval is how often the usage is measured
	// (default DefaultEmptyDirCheckInterval).
	EmptyDirMaxSize       int64
	EmptyDirCheckInterval time.Duration
}

// Agent runs this machine's pods.
type Agent struct {
	cfg      Config
	client   kubernetes.Interface
	pods     corelisters.PodLister
	synced   cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	logs     podlogs.Dir
	runtimes []Runtime
	log      *slog.Logger
	// node registers the Node and reports its status and Lease.
	node *nodeReporter
	// reserved are the host ports pods may not take (ReservedHostPorts and
	// the kubelet API's).
	reserved *portSet

	mu      sync.Mutex
	running map[string]*podRun // by namespace/name
	// finished holds, by namespace/name, the UID of each pod this agent ran
	// to the end, so that a stale cache entry still saying Running is not
	// taken for a lost pod.
	finished map[string]types.UID
	// ctx is Run's context: pods outlive the sync that started them.
	ctx context.Context
}

// New returns an agent watching pods through cfg.Pods. Call it before the
// informer factory starts.
func New(cfg Config) (*Agent, error) {
	if cfg.NodeName == "" || cfg.DataDir == "" || cfg.Client == nil || cfg.Pods == nil {
		return nil, errors.New("node agent: NodeName, DataDir, Client and Pods are required")
	}
	if cfg.KubeletListen != "" && (cfg.KubeletCertFile == "" || cfg.KubeletKeyFile == "" || cfg.ClientCAFile == "") {
		return nil, errors.New("node agent: KubeletListen needs KubeletCertFile, KubeletKeyFile and ClientCAFile")
	}
	if cfg.LeaseRenewInterval <= 0 {
		cfg.LeaseRenewInterval = DefaultLeaseRenewInterval
	}
	if cfg.NodeStatusReportInterval <= 0 {
		cfg.NodeStatusReportInterval = DefaultNodeStatusReportInterval
	}
	if cfg.StopGracePeriod <= 0 {
		cfg.StopGracePeriod = DefaultStopGracePeriod
	}
	if cfg.RestartBackoff <= 0 {
		cfg.RestartBackoff = DefaultRestartBackoff
	}
	if cfg.MaxRestartBackoff <= 0 {
		cfg.MaxRestartBackoff = DefaultMaxRestartBackoff
	}
	if cfg.BackoffReset <= 0 {
		cfg.BackoffReset = DefaultBackoffReset
	}
	if cfg.EmptyDirMaxSize == 0 {
		cfg.EmptyDirMaxSize = DefaultEmptyDirMaxSize
	}
	if cfg.EmptyDirCheckInterval <= 0 {
		cfg.EmptyDirCheckInterval = DefaultEmptyDirCheckInterval
	}
	if cfg.ContainerLogMaxSize <= 0 {
		cfg.ContainerLogMaxSize = podlogs.DefaultLogMaxSize
	}
	if cfg.ContainerLogMaxFiles <= 0 {
		cfg.ContainerLogMaxFiles = podlogs.DefaultLogMaxFiles
	}
	if cfg.ContainerLogMaxFiles < 2 {
		return nil, fmt.Errorf("node agent: ContainerLogMaxFiles %d: must be at least 2", cfg.ContainerLogMaxFiles)
	}
	if cfg.HostIP == "" {
		cfg.HostIP = "127.0.0.1"
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("node agent: finding its own executable: %w", err)
	}
	if cfg.Programs == nil {
		cfg.Programs = map[string]string{"slipway": self}
	}
	host := hostProcess{programs: cfg.Programs}
	if cfg.Standby {
		host.standby = map[string]*standby.Pool{}
		for _, program := range cfg.Programs {
			if program == self && host.standby[program] == nil {
				host.standby[program] = standby.NewPool(program)
			}
		}
	}
	a := &Agent{
		cfg:      cfg,
		client:   cfg.Client,
		pods:     cfg.Pods.Lister(),
		synced:   cfg.Pods.Informer().HasSynced,
		logs:     podlogs.Dir(cfg.DataDir),
		runtimes: []Runtime{host},
		reserved: newPortSet(cfg.ReservedHostPorts),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: AgentName},
		),
		log:      slog.Default().With("controller", AgentName),
		running:  map[string]*podRun{},
		finished: map[string]types.UID{},
	}
	switch {
	case cfg.DisableRunc:
	case os.Geteuid() != 0:
		a.log.Warn("not root: application pods will not run (runc needs root)")
	default:
		rc, err := newRuncRuntime(cfg, a.reserved, a.log)
		if err != nil {
			// Build pods still run; application pods wait.
			a.log.Error("application pods will not run", "error", err)
		} else {
			a.runtimes = append(a.runtimes, rc)
		}
	}
	_, runcOn := a.runtimes[len(a.runtimes)-1].(*runcRuntime)
	m, err := readMachine(cfg.DataDir, cfg.RuncBinary, runcOn)
	if err != nil {
		return nil, fmt.Errorf("node agent: %w", err)
	}
	a.node = &nodeReporter{a: a, machine: m}
	enqueue := func(obj any) {
		key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
		if err != nil {
			utilruntime.HandleError(err)
			return
		}
		a.queue.Add(key)
	}
	_, err = cfg.Pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
		DeleteFunc: enqueue,
	})
	if err != nil {
		return nil, fmt.Errorf("node agent: watching pods: %w", err)
	}
	return a, nil
}

// Run kills what a previous run left behind, waits for the pod cache, then
// runs workers until ctx is done; it then stops every pod it runs.
func (a *Agent) Run(ctx context.Context, workers int) error {
	defer utilruntime.HandleCrash()
	defer a.queue.ShutDown()
	a.ctx = ctx

	a.log.Info("starting", "node", a.cfg.NodeName, "dir", a.logs)
	if a.cfg.KubeletListen != "" {
		l, srv, err := a.listenKubeletAPI()
		if err != nil {
			return fmt.Errorf("node agent: %w", err)
		}
		// The port bound, which the Node advertises (KubeletListen may ask
		// for any free one).
		a.node.port = int32(l.Addr().(*net.TCPAddr).Port)
		a.reserved.add(a.node.port)
		go func() {
			if err := srv.ServeTLS(l, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.log.Error("kubelet API stopped", "error", err)
			}
		}()
		defer srv.Close()
	}
	// The Node and its heartbeats go on beside the pods: the scheduler
	// binds pods here only while the Node is Ready and its Lease fresh.
	go a.node.run(ctx)
	go a.node.leaseController().Run(ctx)
	if err := killOrphans(a.logs, a.log); err != nil {
		a.log.Error("cleaning up after the previous run", "error", err)
	}
	for _, rt := range a.runtimes {
		if sr, ok := rt.(SandboxRuntime); ok {
			if err := sr.Cleanup(ctx); err != nil {
				a.log.Error("cleaning up the containers of the previous run", "runtime", rt.Name(), "error", err)
			}
		}
	}
	if !cache.WaitForNamedCacheSync(AgentName, ctx.Done(), a.synced) {
		return errors.New("node agent: pod cache did not sync")
	}
	for range workers {
		go wait.UntilWithContext(ctx, a.runWorker, time.Second)
	}
	<-ctx.Done()
	a.log.Info("stopping: stopping every pod")
	for _, pool := range host(a).standby {
		pool.Close()
	}
	a.stopAll()
	return nil
}

func (a *Agent) runWorker(ctx context.Context) {
	for a.processNextItem(ctx) {
	}
}

func (a *Agent) processNextItem(ctx context.Context) bool {
	key, shutdown := a.queue.Get()
	if shutdown {
		return false
	}
	defer a.queue.Done(key)
	if err := a.sync(ctx, key); err != nil {
		a.log.Error("sync failed, retrying", "pod", key, "error", err)
		a.queue.AddRateLimited(key)
		return true
	}
	a.queue.Forget(key)
	return true
}

func (a *Agent) runtimeFor(pod *corev1.Pod) Runtime {
	for _, rt := range a.runtimes {
		if rt.Handles(pod) {
			return rt
		}
	}
	return nil
}

// sync brings the pod named key and what runs for it together: it starts a
// pending pod, stops a deleted one, and fails a pod a previous run of the
// agent left Running with no process behind it.
func (a *Agent) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	pod, err := a.pods.Pods(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		a.podGone(key, namespace, name)
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting pod %s from cache: %w", key, err)
	}
	if pod.Spec.NodeName != a.cfg.NodeName {
		// Not scheduled yet, or another node's: spec.nodeName is set once,
		// so this is never a pod the agent runs.
		return nil
	}
	rt := a.runtimeFor(pod)
	if rt == nil {
		// No runtime here runs it (application pods wait for the runc runtime).
		return nil
	}

	a.mu.Lock()
	run := a.running[key]
	finished := a.finished[key] == pod.UID
	a.mu.Unlock()

	if run != nil && run.uid != pod.UID {
		// The pod was replaced under the same name: stop the old one first.
		run.stop("", "")
		return fmt.Errorf("pod %s was recreated while its previous instance still runs", key)
	}
	if pod.DeletionTimestamp != nil {
		if run != nil {
			if g := pod.DeletionGracePeriodSeconds; g != nil && *g > 0 {
				run.grace.Store(int64(time.Duration(*g) * time.Second))
			}
			run.stop("", "")
			return nil
		}
		return a.finalizeDeletion(ctx, pod)
	}
	if run != nil {
		return a.refreshTokens(ctx, key, pod, run)
	}
	if finished || terminal(pod) {
		if terminal(pod) && run == nil {
			_ = podFiles(a.logs.PodDir(namespace, name)).removeSecrets()
		}
		return nil
	}
	if pod.Status.Phase == corev1.PodRunning || pod.Status.StartTime != nil {
		if _, ok := rt.(SandboxRuntime); ok && pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
			// Its containers were removed at start-up; they start again,
			// as after a kubelet restart.
			a.log.Info("starting again a pod the previous run ran", "pod", key)
			return a.start(ctx, pod, rt)
		}
		return a.markLost(ctx, pod)
	}
	if _, ok := rt.(hostProcess); ok {
		if err := a.checkHostProcess(pod); err != nil {
			return a.refuse(ctx, pod, err)
		}
	}
	return a.start(ctx, pod, rt)
}

// podGone stops what runs for a deleted pod and removes its directory.
func (a *Agent) podGone(key, namespace, name string) {
	a.mu.Lock()
	run := a.running[key]
	delete(a.finished, key)
	a.mu.Unlock()
	if run != nil {
		run.removeDir.Store(true)
		run.stop("", "")
		return
	}
	dir := a.logs.PodDir(namespace, name)
	if err := removePodDir(dir); err != nil {
		a.log.Error("removing the directory of a deleted pod", "pod", key, "error", err)
	}
}

// checkHostProcess is the node's own check of a pod that asks to run as a
// host process, whatever admission let through: signed by Slipway's
// controllers, as they made it.
func (a *Agent) checkHostProcess(pod *corev1.Pod) error {
	if a.cfg.HostProcessSigner == nil {
		return errors.New("this node runs no host-process pods")
	}
	return a.cfg.HostProcessSigner.Verify(pod)
}

// refuse fails a pod the node will not run, with reason HostProcessRefused
// and why; nothing of it was started.
func (a *Agent) refuse(ctx context.Context, pod *corev1.Pod, why error) error {
	a.log.Warn("refusing a host-process pod", "pod", pod.Namespace+"/"+pod.Name, "reason", why)
	now := metav1.Now()
	return a.updateStatus(ctx, pod, func(s *corev1.PodStatus) {
		s.Phase = corev1.PodFailed
		s.Reason = "HostProcessRefused"
		s.Message = "not run as a host process: " + why.Error()
		setReady(s, false, now)
	})
}

// finalizeDeletion removes a terminating pod that runs nothing, with a zero
// grace period, as a kubelet does once its containers are gone.
func (a *Agent) finalizeDeletion(ctx context.Context, pod *corev1.Pod) error {
	zero := int64(0)
	err := a.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero,
		Preconditions:      &metav1.Preconditions{UID: &pod.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting terminated pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// markLost fails a pod that a previous run of the agent started: its
// processes were killed at startup (or died with the server).
func (a *Agent) markLost(ctx context.Context, pod *corev1.Pod) error {
	a.log.Info("pod was running when the agent stopped; marking it failed", "pod", pod.Namespace+"/"+pod.Name)
	now := metav1.Now()
	err := a.updateStatus(ctx, pod, func(s *corev1.PodStatus) {
		s.Phase = corev1.PodFailed
		s.Reason = "NodeLost"
		s.Message = "The node agent restarted while the pod was running; its processes were stopped."
		for i := range s.ContainerStatuses {
			cs := &s.ContainerStatuses[i]
			if cs.State.Terminated != nil {
				continue
			}
			started := now
			if cs.State.Running != nil {
				started = cs.State.Running.StartedAt
			}
			cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: 137, Reason: "ContainerStatusUnknown", Message: "The container could not be located when the pod was terminated",
				StartedAt: started, FinishedAt: now, ContainerID: cs.ContainerID,
			}}
			cs.Ready = false
			cs.Started = ptrBool(false)
		}
		setReady(s, false, now)
	})
	if err != nil {
		return err
	}
	_ = podFiles(a.logs.PodDir(pod.Namespace, pod.Name)).removeSecrets()
	return nil
}

// stopAll stops every running pod and waits for them: a container still
// running after the agent's grace period (a deleted pod's own may be
// longer) is killed, so none outlives the agent.
func (a *Agent) stopAll() {
	a.mu.Lock()
	runs := make([]*podRun, 0, len(a.running))
	for _, r := range a.running {
		runs = append(runs, r)
	}
	a.mu.Unlock()
	for _, r := range runs {
		r.stop("", "")
	}
	grace := time.After(a.cfg.StopGracePeriod)
	deadline := time.After(a.cfg.StopGracePeriod + 10*time.Second)
	for _, r := range runs {
		select {
		case <-r.done:
		case <-grace:
			for _, r := range runs {
				r.force()
			}
			select {
			case <-r.done:
			case <-deadline:
				return
			}
		case <-deadline:
			return
		}
	}
}

// updateStatus applies mutate to the live pod's status and writes it,
// retrying conflicts; a pod that is gone, replaced or already terminal is
// left alone.
func (a *Agent) updateStatus(ctx context.Context, pod *corev1.Pod, mutate func(*corev1.PodStatus)) error {
	// First from the informer's copy, which is nearly always current (the
	// agent is the pod status's only writer): one round trip instead of a
	// GET and a PUT. A stale copy's conflict falls through to the live
	// read below.
	if cached, err := a.pods.Pods(pod.Namespace).Get(pod.Name); err == nil && cached.UID == pod.UID && !terminal(cached) {
		current := cached.DeepCopy()
		mutate(&current.Status)
		_, err := a.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, current, metav1.UpdateOptions{})
		if err == nil || apierrors.IsNotFound(err) {
			return nil
		}
	}
	backoff := wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Steps: 8, Cap: 5 * time.Second}
	var lastErr error
	err := wait.ExponentialBackoffWithContext(ctx, backoff, func(ctx context.Context) (bool, error) {
		current, err := a.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			lastErr = err
			return false, nil
		}
		if current.UID != pod.UID || terminal(current) {
			return true, nil
		}
		mutate(&current.Status)
		_, err = a.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, current, metav1.UpdateOptions{})
		if err == nil || apierrors.IsNotFound(err) {
			return true, nil
		}
		lastErr = err
		return false, nil
	})
	if err != nil {
		if lastErr != nil {
			err = lastErr
		}
		return fmt.Errorf("writing status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// allocatable is the Node's allocatable resources: the default limits of
// a container without its own, for the downward API.
func (a *Agent) allocatable() corev1.ResourceList { return a.node.machine.capacity }

// scheduleTokenRefresh makes sync renew the running pod's projected
// tokens at refreshAt (zero: it has none).
func (a *Agent) scheduleTokenRefresh(key string, run *podRun, refreshAt time.Time) {
	if refreshAt.IsZero() {
		run.refreshAt.Store(0)
		return
	}
	run.refreshAt.Store(refreshAt.UnixNano())
	a.queue.AddAfter(key, time.Until(refreshAt))
}

// refreshTokens writes new projected tokens into a running pod's volumes
// once 80% of the old ones' lifetime has passed, as the kubelet does.
func (a *Agent) refreshTokens(ctx context.Context, key string, pod *corev1.Pod, run *podRun) error {
	at := run.refreshAt.Load()
	if at == 0 || run.stopped() || run.uid != pod.UID {
		return nil
	}
	if wait := time.Until(time.Unix(0, at)); wait > 0 {
		a.queue.AddAfter(key, wait)
		return nil
	}
	files := podFiles(a.logs.PodDir(pod.Namespace, pod.Name))
	next, err := a.refreshTokenVolumes(ctx, pod, files)
	if run.ended.Load() {
		// The pod ended meanwhile: what was written goes with the rest.
		return files.removeSecrets()
	}
	if err != nil {
		return fmt.Errorf("renewing the tokens of %s: %w", key, err)
	}
	a.scheduleTokenRefresh(key, run, next)
	return nil
}

func terminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

func ptrBool(b bool) *bool { return &b }

// setReady sets the pod's Ready and ContainersReady conditions.
func setReady(s *corev1.PodStatus, ready bool, now metav1.Time) {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	for _, t := range []corev1.PodConditionType{corev1.PodReady, corev1.ContainersReady} {
		found := false
		for i := range s.Conditions {
			if s.Conditions[i].Type == t {
				found = true
				if s.Conditions[i].Status != status {
					s.Conditions[i].Status = status
					s.Conditions[i].LastTransitionTime = now
				}
			}
		}
		if !found {
			s.Conditions = append(s.Conditions, corev1.PodCondition{Type: t, Status: status, LastTransitionTime: now})
		}
	}
}
