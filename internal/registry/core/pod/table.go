package pod

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/registry/core/printing"
)

// TableConvertor prints pods as kubectl does: NAME READY STATUS RESTARTS
// AGE, with IP NODE NOMINATED NODE READINESS GATES for -o wide.
var TableConvertor = printing.TableConvertor[*corev1.Pod]{
	Columns: []metav1.TableColumnDefinition{
		printing.NameColumn,
		{Name: "Ready", Type: "string", Description: "The aggregate readiness state of this pod for accepting traffic."},
		{Name: "Status", Type: "string", Description: "The aggregate status of the containers in this pod."},
		{Name: "Restarts", Type: "string", Description: "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."},
		printing.AgeColumn,
		{Name: "IP", Type: "string", Priority: 1, Description: "IP address allocated to the pod."},
		{Name: "Node", Type: "string", Priority: 1, Description: "Name of the node the pod is running on."},
		{Name: "Nominated Node", Type: "string", Priority: 1, Description: "Node the scheduler nominated for this pod."},
		{Name: "Readiness Gates", Type: "string", Priority: 1, Description: "Pod readiness gates that are true."},
	},
	Cells: podCells,
}

func podCells(p *corev1.Pod) []interface{} {
	ready, total := readyContainers(p)
	restarts, lastRestart := restartCount(p)
	restartsCell := strconv.Itoa(restarts)
	if restarts != 0 && !lastRestart.IsZero() {
		restartsCell = fmt.Sprintf("%d (%s ago)", restarts, printing.Age(lastRestart))
	}
	return []interface{}{
		p.Name,
		fmt.Sprintf("%d/%d", ready, total),
		Status(p),
		restartsCell,
		printing.Age(p.CreationTimestamp),
		orNone(podIP(p)),
		orNone(p.Spec.NodeName),
		orNone(p.Status.NominatedNodeName),
		readinessGates(p),
	}
}

// Status computes the STATUS column as kubectl does: the phase or reason,
// overridden by the first failing or waiting init container ("Init:1/2",
// "Init:CrashLoopBackOff"), then by the containers' waiting or terminated
// reason, "Terminating" once deletion started. A terminated container
// without a reason shows "Completed" (exit 0) or "Error", the reasons a
// kubelet would have recorded.
func Status(p *corev1.Pod) string {
	reason := string(p.Status.Phase)
	if p.Status.Reason != "" {
		reason = p.Status.Reason
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			reason = corev1.PodReasonSchedulingGated
		}
	}

	initializing := false
	for i, cs := range p.Status.InitContainerStatuses {
		switch {
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
			continue
		case isSidecar(p, cs.Name) && cs.Started != nil && *cs.Started:
			continue
		case cs.State.Terminated != nil:
			switch {
			case cs.State.Terminated.Reason != "":
				reason = "Init:" + cs.State.Terminated.Reason
			case cs.State.Terminated.Signal != 0:
				reason = fmt.Sprintf("Init:Signal:%d", cs.State.Terminated.Signal)
			default:
				reason = fmt.Sprintf("Init:ExitCode:%d", cs.State.Terminated.ExitCode)
			}
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "PodInitializing":
			reason = "Init:" + cs.State.Waiting.Reason
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(p.Spec.InitContainers))
		}
		initializing = true
		break
	}

	if !initializing || conditionTrue(p, corev1.PodInitialized) {
		hasRunning := false
		for i := len(p.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := p.Status.ContainerStatuses[i]
			switch {
			case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
				reason = cs.State.Waiting.Reason
			case cs.State.Terminated != nil && cs.State.Terminated.Reason != "":
				reason = cs.State.Terminated.Reason
			case cs.State.Terminated != nil:
				reason = terminatedReason(cs.State.Terminated)
			case cs.Ready && cs.State.Running != nil:
				hasRunning = true
			}
		}
		if reason == "Completed" && hasRunning {
			if conditionTrue(p, corev1.PodReady) {
				reason = "Running"
			} else {
				reason = "NotReady"
			}
		}
	}

	if p.DeletionTimestamp != nil {
		if p.Status.Reason == "NodeLost" {
			return "Unknown"
		}
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			return "Terminating"
		}
	}
	return reason
}

// terminatedReason names a termination the runtime gave no reason for.
func terminatedReason(t *corev1.ContainerStateTerminated) string {
	if t.ExitCode == 0 && t.Signal == 0 {
		return "Completed"
	}
	return "Error"
}

// readyContainers counts ready containers (and started sidecar init
// containers, which count towards the total as kubectl does).
func readyContainers(p *corev1.Pod) (ready, total int) {
	total = len(p.Spec.Containers)
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			total++
		}
	}
	for _, cs := range p.Status.InitContainerStatuses {
		if isSidecar(p, cs.Name) && cs.Started != nil && *cs.Started && cs.Ready {
			ready++
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Ready && cs.State.Running != nil {
			ready++
		}
	}
	return ready, total
}

// restartCount sums container restarts and returns the latest restart time.
func restartCount(p *corev1.Pod) (int, metav1.Time) {
	restarts := 0
	var last metav1.Time
	count := func(statuses []corev1.ContainerStatus, only func(string) bool) {
		for _, cs := range statuses {
			if !only(cs.Name) {
				continue
			}
			restarts += int(cs.RestartCount)
			if t := cs.LastTerminationState.Terminated; t != nil && last.Before(&t.FinishedAt) {
				last = t.FinishedAt
			}
		}
	}
	count(p.Status.InitContainerStatuses, func(name string) bool { return isSidecar(p, name) })
	count(p.Status.ContainerStatuses, func(string) bool { return true })
	return restarts, last
}

func isSidecar(p *corev1.Pod, name string) bool {
	for _, c := range p.Spec.InitContainers {
		if c.Name == name {
			return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		}
	}
	return false
}

func conditionTrue(p *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podIP(p *corev1.Pod) string {
	if len(p.Status.PodIPs) > 0 {
		return p.Status.PodIPs[0].IP
	}
	return p.Status.PodIP
}

func readinessGates(p *corev1.Pod) string {
	if len(p.Spec.ReadinessGates) == 0 {
		return "<none>"
	}
	trueGates := 0
	for _, g := range p.Spec.ReadinessGates {
		if conditionTrue(p, g.ConditionType) {
			trueGates++
		}
	}
	return fmt.Sprintf("%d/%d", trueGates, len(p.Spec.ReadinessGates))
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
