package replicationcontroller

import (
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// isActive reports whether pod counts toward its RC's replicas: not
// finished and not being deleted.
func isActive(pod *corev1.Pod) bool {
	return pod.DeletionTimestamp == nil && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

// readySince returns when pod became Ready, or nil when it is not Ready.
func readySince(pod *corev1.Pod) *metav1.Time {
	for i := range pod.Status.Conditions {
		c := &pod.Status.Conditions[i]
		if c.Type == corev1.PodReady {
			if c.Status != corev1.ConditionTrue {
				return nil
			}
			return &c.LastTransitionTime
		}
	}
	return nil
}

// availableIn returns whether pod is available at now (Ready for at least
// minReadySeconds) and, when it is Ready but not yet available, how long
// until it is.
func availableIn(pod *corev1.Pod, minReadySeconds int32, now time.Time) (bool, time.Duration) {
	since := readySince(pod)
	if since == nil {
		return false, 0
	}
	if minReadySeconds == 0 {
		return true, 0
	}
	at := since.Add(time.Duration(minReadySeconds) * time.Second)
	if !now.Before(at) {
		return true, 0
	}
	return false, at.Sub(now)
}

// deletionOrder sorts pods so that the ones to delete first come first:
// Pending before Running, not ready before ready, ready for less time
// before ready for longer, then newest first (Kubernetes' order; creation
// times have one-second resolution, so the ready time decides more often).
func deletionOrder(pods []*corev1.Pod) {
	rank := func(p *corev1.Pod) int {
		switch p.Status.Phase {
		case corev1.PodPending, "":
			return 0
		case corev1.PodUnknown:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(pods, func(a, b *corev1.Pod) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		sa, sb := readySince(a), readySince(b)
		if (sa != nil) != (sb != nil) {
			if sa == nil {
				return -1
			}
			return 1
		}
		if sa != nil && !sa.Equal(sb) {
			return sb.Compare(sa.Time)
		}
		return b.CreationTimestamp.Compare(a.CreationTimestamp.Time)
	})
}

// fullyLabeled reports whether pod carries every label of the RC's template.
func fullyLabeled(pod *corev1.Pod, rc *corev1.ReplicationController) bool {
	if rc.Spec.Template == nil {
		return true
	}
	return labels.SelectorFromSet(rc.Spec.Template.Labels).Matches(labels.Set(pod.Labels))
}

// newPod returns a pod of rc from its template: generateName "<rc>-",
// the template's labels, annotations and spec, controlled by rc.
func newPod(rc *corev1.ReplicationController) *corev1.Pod {
	t := rc.Spec.Template
	yes := true
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: rc.Name + "-",
			Namespace:    rc.Namespace,
			Labels:       maps.Clone(t.Labels),
			Annotations:  maps.Clone(t.Annotations),
			Finalizers:   slices.Clone(t.Finalizers),
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion:         "v1",
				Kind:               "ReplicationController",
				Name:               rc.Name,
				UID:                rc.UID,
				Controller:         &yes,
				BlockOwnerDeletion: &yes,
			}},
		},
		Spec: *t.Spec.DeepCopy(),
	}
	return pod
}
