package pod

import (
	"context"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

type strategy struct{ storebase.Strategy }

// statusStrategy is the update strategy of pods/status.
type statusStrategy struct{ strategy }

var (
	// Strategy applies defaults, validation and graceful deletion to pods.
	Strategy = strategy{storebase.NewStrategy()}
	// StatusStrategy lets pods/status change only the status.
	StatusStrategy = statusStrategy{Strategy}

	_ rest.RESTGracefulDeleteStrategy = Strategy
)

func (strategy) NamespaceScoped() bool { return true }

// PrepareForCreate applies the defaults and starts the pod Pending.
func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	p := obj.(*corev1.Pod)
	p.Status = corev1.PodStatus{Phase: corev1.PodPending}
	SetDefaultsPod(p)
}

// PrepareForUpdate keeps the stored status and applies the defaults.
func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	p := obj.(*corev1.Pod)
	p.Status = old.(*corev1.Pod).Status
	SetDefaultsPod(p)
}

// Validate checks a new pod.
func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidatePod(obj.(*corev1.Pod))
}

// ValidateUpdate checks a pod update.
func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidatePodUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
}

// CheckGracefulDelete gives a pod its grace period (the request's, else the
// spec's) so the node agent can stop its containers; a pod never scheduled
// or already finished is deleted at once. The node agent removes a
// terminating pod with a zero grace period once its containers are gone.
func (strategy) CheckGracefulDelete(_ context.Context, obj runtime.Object, options *metav1.DeleteOptions) bool {
	if options == nil {
		return false
	}
	p := obj.(*corev1.Pod)
	period := int64(0)
	if options.GracePeriodSeconds != nil {
		period = *options.GracePeriodSeconds
	} else if p.Spec.TerminationGracePeriodSeconds != nil {
		period = *p.Spec.TerminationGracePeriodSeconds
	}
	if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		period = 0
	}
	if period < 0 {
		period = 1
	}
	options.GracePeriodSeconds = &period
	return true
}

// PrepareForUpdate keeps the stored spec: only the status changes.
func (statusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	obj.(*corev1.Pod).Spec = old.(*corev1.Pod).Spec
}

// ValidateUpdate checks a status write.
func (statusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidatePodStatusUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
}

// GetAttrs returns the labels and selectable fields of a pod.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil, fmt.Errorf("not a Pod: %T", obj)
	}
	return labels.Set(p.Labels), SelectableFields(p), nil
}

// SelectableFields returns the fields pods can be selected by, as in
// Kubernetes: metadata.name/namespace, spec.nodeName, spec.restartPolicy,
// spec.schedulerName, spec.serviceAccountName, spec.hostNetwork,
// status.phase, status.podIP, status.nominatedNodeName.
func SelectableFields(p *corev1.Pod) fields.Set {
	podIP := ""
	if len(p.Status.PodIPs) > 0 {
		podIP = p.Status.PodIPs[0].IP
	} else {
		podIP = p.Status.PodIP
	}
	set := fields.Set{
		"spec.nodeName":            p.Spec.NodeName,
		"spec.restartPolicy":       string(p.Spec.RestartPolicy),
		"spec.schedulerName":       p.Spec.SchedulerName,
		"spec.serviceAccountName":  p.Spec.ServiceAccountName,
		"spec.hostNetwork":         strconv.FormatBool(p.Spec.HostNetwork),
		"status.phase":             string(p.Status.Phase),
		"status.podIP":             podIP,
		"status.nominatedNodeName": p.Status.NominatedNodeName,
	}
	return generic.AddObjectMetaFieldsSet(set, &p.ObjectMeta, true)
}
