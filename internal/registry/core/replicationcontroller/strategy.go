// Package replicationcontroller stores ReplicationControllers, their status
// and their autoscaling/v1 scale subresource.
package replicationcontroller

import (
	"context"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/slipway-dev/slipway/internal/registry/core/pod"
	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

type strategy struct{ storebase.Strategy }

// statusStrategy is the update strategy of replicationcontrollers/status.
type statusStrategy struct{ strategy }

var (
	// Strategy applies defaults and validation to replication controllers.
	Strategy = strategy{storebase.NewStrategy()}
	// StatusStrategy lets replicationcontrollers/status change only the status.
	StatusStrategy = statusStrategy{Strategy}
)

// SetDefaultsReplicationController defaults the selector and the labels to
// the template's labels, replicas to 1, and the template's pod spec.
func SetDefaultsReplicationController(rc *corev1.ReplicationController) {
	if t := rc.Spec.Template; t != nil {
		if len(t.Labels) > 0 {
			if len(rc.Spec.Selector) == 0 {
				rc.Spec.Selector = t.Labels
			}
			if len(rc.Labels) == 0 {
				rc.Labels = t.Labels
			}
		}
		pod.SetDefaultsPodSpec(&t.Spec)
	}
	if rc.Spec.Replicas == nil {
		one := int32(1)
		rc.Spec.Replicas = &one
	}
}

func (strategy) NamespaceScoped() bool { return true }

// PrepareForCreate clears the status, starts the generation at 1 and
// applies the defaults.
func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	rc := obj.(*corev1.ReplicationController)
	rc.Status = corev1.ReplicationControllerStatus{}
	rc.Generation = 1
	SetDefaultsReplicationController(rc)
}

// PrepareForUpdate keeps the stored status, applies the defaults and bumps
// the generation when the spec changed, so controllers see a new
// observedGeneration to reach.
func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	rc, oldRC := obj.(*corev1.ReplicationController), old.(*corev1.ReplicationController)
	rc.Status = oldRC.Status
	SetDefaultsReplicationController(rc)
	if !apiequality.Semantic.DeepEqual(rc.Spec, oldRC.Spec) {
		rc.Generation = oldRC.Generation + 1
	}
}

// Validate checks a new replication controller.
func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateReplicationController(obj.(*corev1.ReplicationController))
}

// ValidateUpdate checks a replication controller update.
func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	rc, oldRC := obj.(*corev1.ReplicationController), old.(*corev1.ReplicationController)
	errs := apivalidation.ValidateObjectMetaUpdate(&rc.ObjectMeta, &oldRC.ObjectMeta, field.NewPath("metadata"))
	return append(errs, ValidateReplicationController(rc)...)
}

// PrepareForUpdate keeps the stored spec: only the status changes.
func (statusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	obj.(*corev1.ReplicationController).Spec = old.(*corev1.ReplicationController).Spec
}

// ValidateUpdate checks that the status counters are not negative.
func (statusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	rc, oldRC := obj.(*corev1.ReplicationController), old.(*corev1.ReplicationController)
	errs := apivalidation.ValidateObjectMetaUpdate(&rc.ObjectMeta, &oldRC.ObjectMeta, field.NewPath("metadata"))
	status := field.NewPath("status")
	counters := []struct {
		name  string
		value int64
	}{
		{"replicas", int64(rc.Status.Replicas)},
		{"fullyLabeledReplicas", int64(rc.Status.FullyLabeledReplicas)},
		{"readyReplicas", int64(rc.Status.ReadyReplicas)},
		{"availableReplicas", int64(rc.Status.AvailableReplicas)},
		{"observedGeneration", rc.Status.ObservedGeneration},
	}
	for _, c := range counters {
		errs = append(errs, apivalidation.ValidateNonnegativeField(c.value, status.Child(c.name))...)
	}
	return errs
}

// ValidateReplicationController checks the name, replicas, the selector and
// that the template exists, matches the selector, restarts Always and has a
// valid pod spec.
func ValidateReplicationController(rc *corev1.ReplicationController) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(&rc.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	spec := field.NewPath("spec")
	if rc.Spec.Replicas != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(*rc.Spec.Replicas), spec.Child("replicas"))...)
	}
	errs = append(errs, apivalidation.ValidateNonnegativeField(int64(rc.Spec.MinReadySeconds), spec.Child("minReadySeconds"))...)

	if len(rc.Spec.Selector) == 0 {
		errs = append(errs, field.Required(spec.Child("selector"), ""))
	}
	for k, v := range rc.Spec.Selector {
		for _, msg := range validation.IsQualifiedName(k) {
			errs = append(errs, field.Invalid(spec.Child("selector").Key(k), k, msg))
		}
		for _, msg := range validation.IsValidLabelValue(v) {
			errs = append(errs, field.Invalid(spec.Child("selector").Key(k), v, msg))
		}
	}

	t := rc.Spec.Template
	tPath := spec.Child("template")
	if t == nil {
		return append(errs, field.Required(tPath, ""))
	}
	if len(rc.Spec.Selector) > 0 && !labels.SelectorFromSet(rc.Spec.Selector).Matches(labels.Set(t.Labels)) {
		errs = append(errs, field.Invalid(tPath.Child("metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
	}
	if t.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(tPath.Child("spec", "restartPolicy"), t.Spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Invalid(tPath.Child("spec", "activeDeadlineSeconds"), *t.Spec.ActiveDeadlineSeconds, "must not be specified"))
	}
	return append(errs, pod.ValidatePodSpec(&t.Spec, tPath.Child("spec"))...)
}

// GetAttrs returns the labels and selectable fields (metadata and
// status.replicas) of a replication controller.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	rc, ok := obj.(*corev1.ReplicationController)
	if !ok {
		return nil, nil, fmt.Errorf("not a ReplicationController: %T", obj)
	}
	set := fields.Set{"status.replicas": strconv.Itoa(int(rc.Status.Replicas))}
	return labels.Set(rc.Labels), generic.AddObjectMetaFieldsSet(set, &rc.ObjectMeta, true), nil
}
