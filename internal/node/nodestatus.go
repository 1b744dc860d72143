package node

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/component-helpers/apimachinery/lease"
	"k8s.io/utils/clock"
)

// The node's heartbeats, as the kubelet's defaults: kube-controller-manager's
// node lifecycle controller taints a node whose Lease is not renewed within
// its grace period (50 s), and kube-scheduler binds no pod to it then.
const (
	// DefaultLeaseRenewInterval is how often the Lease is renewed, a
	// quarter of its duration.
	DefaultLeaseRenewInterval = 10 * time.Second
	// leaseDurationSeconds is the Lease's spec.leaseDurationSeconds.
	leaseDurationSeconds = 40
	// DefaultNodeStatusReportInterval is how often the Node's status is
	// written when nothing in it changed.
	DefaultNodeStatusReportInterval = 5 * time.Minute
	// nodeStatusCheckInterval is how often the status is computed and
	// compared with what was reported (the kubelet's
	// nodeStatusUpdateFrequency).
	nodeStatusCheckInterval = 10 * time.Second
)

// KubeletVersion is the kubelet version the Node reports: the version of
// the control plane whose kubelet contract the agent implements.
const KubeletVersion = "v1.37.2"

// maxPods is the Node's pods capacity, the kubelet's default.
const maxPods = "110"

// machine is what the Node says of this machine; it does not change while
// the agent runs.
type machine struct {
	capacity corev1.ResourceList
	info     corev1.NodeSystemInfo
}

// readMachine reads the machine's resources and identity: CPUs, memory
// (/proc/meminfo), the size of the file system of dataDir, kernel, OS and
// the container runtime's version.
func readMachine(dataDir, runcBinary string, runcEnabled bool) (machine, error) {
	m := machine{capacity: corev1.ResourceList{
		corev1.ResourceCPU:  *resource.NewQuantity(int64(runtime.NumCPU()), resource.DecimalSI),
		corev1.ResourcePods: resource.MustParse(maxPods),
	}}
	memory, err := memTotal()
	if err != nil {
		return m, fmt.Errorf("reading the machine's memory: %w", err)
	}
	m.capacity[corev1.ResourceMemory] = *resource.NewQuantity(memory, resource.BinarySI)
	var fs unix.Statfs_t
	if err := unix.Statfs(dataDir, &fs); err != nil {
		return m, fmt.Errorf("reading the size of %s: %w", dataDir, err)
	}
	m.capacity[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(int64(fs.Blocks)*fs.Bsize, resource.BinarySI)

	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return m, fmt.Errorf("uname: %w", err)
	}
	m.info = corev1.NodeSystemInfo{
		MachineID:               readTrimmed("/etc/machine-id"),
		SystemUUID:              readTrimmed("/sys/class/dmi/id/product_uuid"),
		BootID:                  readTrimmed("/proc/sys/kernel/random/boot_id"),
		KernelVersion:           unix.ByteSliceToString(uts.Release[:]),
		OSImage:                 osImage(),
		ContainerRuntimeVersion: "host-process://" + KubeletVersion,
		KubeletVersion:          KubeletVersion,
		OperatingSystem:         runtime.GOOS,
		Architecture:            runtime.GOARCH,
	}
	if runcEnabled {
		m.info.ContainerRuntimeVersion = "runc://" + runcVersion(runcBinary)
	}
	return m, nil
}

func memTotal() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("MemTotal %q: %w", fields[1], err)
			}
			return kb * 1024, nil
		}
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no MemTotal in /proc/meminfo")
}

func readTrimmed(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

// osImage is /etc/os-release's PRETTY_NAME, as the kubelet reports it.
func osImage() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return runtime.GOOS
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"'`)
		}
	}
	return runtime.GOOS
}

// runcVersion is the version "runc --version" prints first
// ("runc version 1.1.5+ds1"), or "unknown".
func runcVersion(binary string) string {
	if binary == "" {
		binary = "runc"
	}
	out, err := exec.Command(binary, "--version").Output()
	if err != nil {
		return "unknown"
	}
	first, _, _ := strings.Cut(string(out), "\n")
	if f := strings.Fields(first); len(f) == 3 && f[0] == "runc" && f[1] == "version" {
		return f[2]
	}
	return "unknown"
}

// nodeReporter registers the Node and keeps its status and Lease current.
type nodeReporter struct {
	a       *Agent
	machine machine
	port    int32 // the kubelet API's port, 0 when it is off
	uid     atomic.Value
	// lastReport is when the status was last written.
	lastReport time.Time
}

// desiredLabels are the well-known labels the kubelet sets on its Node;
// NodeRestriction lets a node set exactly these on itself.
func (r *nodeReporter) desiredLabels() map[string]string {
	return map[string]string{
		corev1.LabelHostname:      r.a.cfg.NodeName,
		corev1.LabelOSStable:      runtime.GOOS,
		corev1.LabelArchStable:    runtime.GOARCH,
		"beta.kubernetes.io/os":   runtime.GOOS,
		"beta.kubernetes.io/arch": runtime.GOARCH,
	}
}

// status is the Node status the agent reports now, merged into current:
// conditions keep their transition times while their status stays.
func (r *nodeReporter) status(current corev1.NodeStatus, now metav1.Time) corev1.NodeStatus {
	s := *current.DeepCopy()
	s.Capacity = r.machine.capacity.DeepCopy()
	// Nothing is reserved for the system on this machine: the agent and
	// the control plane are not pods, as on a kubelet without
	// --system-reserved.
	s.Allocatable = r.machine.capacity.DeepCopy()
	s.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: r.a.cfg.HostIP}}
	s.Addresses = append(s.Addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: r.a.cfg.NodeName})
	s.DaemonEndpoints = corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: r.port}}
	s.NodeInfo = r.machine.info
	want := []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
	}
	for _, w := range want {
		w.LastHeartbeatTime = now
		w.LastTransitionTime = now
		found := false
		for i := range s.Conditions {
			c := &s.Conditions[i]
			if c.Type != w.Type {
				continue
			}
			found = true
			if c.Status == w.Status {
				w.LastTransitionTime = c.LastTransitionTime
			}
			*c = w
		}
		if !found {
			s.Conditions = append(s.Conditions, w)
		}
	}
	return s
}

// changed reports whether the status differs from current in more than
// the heartbeat times.
func changed(current, desired corev1.NodeStatus) bool {
	strip := func(s corev1.NodeStatus) corev1.NodeStatus {
		s = *s.DeepCopy()
		for i := range s.Conditions {
			s.Conditions[i].LastHeartbeatTime = metav1.Time{}
		}
		return s
	}
	return !apiequality.Semantic.DeepEqual(strip(current), strip(desired))
}

// register creates the Node, or brings the labels of an existing one (a
// previous run's) to what the agent sets.
func (r *nodeReporter) register(ctx context.Context) error {
	nodes := r.a.client.CoreV1().Nodes()
	now := metav1.Now()
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: r.a.cfg.NodeName, Labels: r.desiredLabels()},
		Status:     r.status(corev1.NodeStatus{}, now),
	}
	created, err := nodes.Create(ctx, node, metav1.CreateOptions{})
	if err == nil {
		r.uid.Store(created.UID)
		r.lastReport = now.Time
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("registering node %s: %w", r.a.cfg.NodeName, err)
	}
	existing, err := nodes.Get(ctx, r.a.cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading node %s: %w", r.a.cfg.NodeName, err)
	}
	r.uid.Store(existing.UID)
	missing := false
	for k, v := range r.desiredLabels() {
		if existing.Labels[k] != v {
			missing = true
		}
	}
	if missing {
		update := existing.DeepCopy()
		if update.Labels == nil {
			update.Labels = map[string]string{}
		}
		for k, v := range r.desiredLabels() {
			update.Labels[k] = v
		}
		if _, err := nodes.Update(ctx, update, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("updating the labels of node %s: %w", r.a.cfg.NodeName, err)
		}
	}
	// The status is written by the first report, which finds it changed
	// or old.
	r.lastReport = time.Time{}
	return nil
}

// report writes the Node's status when it changed or was last written
// NodeStatusReportInterval ago.
func (r *nodeReporter) report(ctx context.Context) error {
	nodes := r.a.client.CoreV1().Nodes()
	// The API server's cache first, as the kubelet reads it; a conflict
	// makes the next try read etcd's copy.
	opts := metav1.GetOptions{ResourceVersion: "0"}
	for attempt := 0; attempt < 5; attempt++ {
		node, err := nodes.Get(ctx, r.a.cfg.NodeName, opts)
		if apierrors.IsNotFound(err) {
			// Deleted by someone: registered again, as the kubelet does
			// after a restart.
			return r.register(ctx)
		}
		if err != nil {
			return fmt.Errorf("reading node %s: %w", r.a.cfg.NodeName, err)
		}
		r.uid.Store(node.UID)
		now := metav1.Now()
		desired := r.status(node.Status, now)
		if !changed(node.Status, desired) && now.Sub(r.lastReport) < r.a.cfg.NodeStatusReportInterval {
			return nil
		}
		update := node.DeepCopy()
		update.Status = desired
		_, err = nodes.UpdateStatus(ctx, update, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			opts = metav1.GetOptions{}
			continue
		}
		if err != nil {
			return fmt.Errorf("writing the status of node %s: %w", r.a.cfg.NodeName, err)
		}
		r.lastReport = now.Time
		return nil
	}
	return fmt.Errorf("writing the status of node %s: too many conflicts", r.a.cfg.NodeName)
}

// run registers the Node (retrying until it works), then reports its
// status every nodeStatusCheckInterval until ctx ends.
func (r *nodeReporter) run(ctx context.Context) {
	backoff := wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Cap: 7 * time.Second, Steps: 1 << 30}
	_ = wait.ExponentialBackoffWithContext(ctx, backoff, func(ctx context.Context) (bool, error) {
		if err := r.register(ctx); err != nil {
			r.a.log.Error("registering the node, retrying", "node", r.a.cfg.NodeName, "error", err)
			return false, nil
		}
		r.a.log.Info("node registered", "node", r.a.cfg.NodeName)
		return true, nil
	})
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		if err := r.report(ctx); err != nil {
			r.a.log.Error("reporting node status", "node", r.a.cfg.NodeName, "error", err)
		}
	}, nodeStatusCheckInterval)
}

// leaseController is the node's heartbeat: its Lease in kube-node-lease,
// renewed every LeaseRenewInterval by the lease controller the kubelet
// uses, owned by the Node so that it goes with it.
func (r *nodeReporter) leaseController() lease.Controller {
	return lease.NewController(clock.RealClock{}, r.a.client, r.a.cfg.NodeName, leaseDurationSeconds,
		func() { r.a.log.Error("the node's lease could not be renewed repeatedly", "node", r.a.cfg.NodeName) },
		r.a.cfg.LeaseRenewInterval, r.a.cfg.NodeName, corev1.NamespaceNodeLease, r.setOwner)
}

// setOwner makes the Node the Lease's owner once the Node's UID is known.
func (r *nodeReporter) setOwner(l *coordinationv1.Lease) error {
	uid, _ := r.uid.Load().(types.UID)
	if len(l.OwnerReferences) > 0 || uid == "" {
		return nil
	}
	l.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: corev1.SchemeGroupVersion.String(),
		Kind:       "Node",
		Name:       r.a.cfg.NodeName,
		UID:        uid,
	}}
	return nil
}
