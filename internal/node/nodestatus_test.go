package node

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestReadMachine(t *testing.T) {
	m, err := readMachine(t.TempDir(), "", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourcePods, corev1.ResourceEphemeralStorage} {
		if q, ok := m.capacity[r]; !ok || q.Sign() <= 0 {
			t.Errorf("capacity %s = %v", r, q)
		}
	}
	if m.info.KubeletVersion != KubeletVersion || m.info.KernelVersion == "" || m.info.OperatingSystem != "linux" {
		t.Errorf("node info %+v", m.info)
	}
}

func TestNodeStatus(t *testing.T) {
	r := &nodeReporter{
		a:       &Agent{cfg: Config{NodeName: "node1", HostIP: "10.0.0.5"}},
		machine: machine{capacity: corev1.ResourceList{}, info: corev1.NodeSystemInfo{KubeletVersion: KubeletVersion}},
		port:    10250,
	}
	t0 := metav1.NewTime(time.Now().Add(-time.Hour).Truncate(time.Second))
	first := r.status(corev1.NodeStatus{}, t0)
	ready := condition(first, corev1.NodeReady)
	if ready == nil || ready.Status != corev1.ConditionTrue || ready.Reason != "KubeletReady" {
		t.Fatalf("Ready condition %+v", ready)
	}
	if first.DaemonEndpoints.KubeletEndpoint.Port != 10250 {
		t.Errorf("kubelet port %d", first.DaemonEndpoints.KubeletEndpoint.Port)
	}
	if len(first.Addresses) != 2 || first.Addresses[0] != (corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.0.0.5"}) ||
		first.Addresses[1] != (corev1.NodeAddress{Type: corev1.NodeHostName, Address: "node1"}) {
		t.Errorf("addresses %v", first.Addresses)
	}

	// A heartbeat later: only heartbeat times move, which is no change.
	t1 := metav1.NewTime(t0.Add(10 * time.Second))
	second := r.status(first, t1)
	if changed(first, second) {
		t.Error("a heartbeat alone counted as a change")
	}
	if c := condition(second, corev1.NodeReady); !c.LastTransitionTime.Equal(&t0) || !c.LastHeartbeatTime.Equal(&t1) {
		t.Errorf("Ready after a heartbeat: %+v", c)
	}

	// The node lifecycle controller marked the node Unknown: Ready again,
	// with a new transition time.
	unknown := *second.DeepCopy()
	condition(unknown, corev1.NodeReady).Status = corev1.ConditionUnknown
	third := r.status(unknown, t1)
	if !changed(unknown, third) {
		t.Error("Unknown -> True is no change")
	}
	if c := condition(third, corev1.NodeReady); c.Status != corev1.ConditionTrue || !c.LastTransitionTime.Equal(&t1) {
		t.Errorf("Ready after Unknown: %+v", c)
	}
}

func condition(s corev1.NodeStatus, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			return &s.Conditions[i]
		}
	}
	return nil
}
