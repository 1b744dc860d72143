// Package namespace stores Namespaces like Kubernetes: created Active with
// the "kubernetes" finalizer, deleted in two steps (Terminating, then really
// deleted once the namespace controller has emptied spec.finalizers through
// the finalize subresource).
package namespace

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// strategy is the create/update/delete strategy of namespaces.
type strategy struct{ storebase.Strategy }

// statusStrategy is the update strategy of namespaces/status.
type statusStrategy struct{ strategy }

// finalizeStrategy is the update strategy of namespaces/finalize.
type finalizeStrategy struct{ strategy }

var (
	// Strategy applies defaults and validation to namespaces.
	Strategy = strategy{storebase.NewStrategy()}
	// StatusStrategy lets namespaces/status change only the status.
	StatusStrategy = statusStrategy{Strategy}
	// FinalizeStrategy lets namespaces/finalize change only spec.finalizers.
	FinalizeStrategy = finalizeStrategy{Strategy}
)

// SetDefaultsNamespace labels the namespace with its own name
// (kubernetes.io/metadata.name), as Kubernetes does so that selectors can
// pick namespaces by name.
func SetDefaultsNamespace(ns *corev1.Namespace) {
	if ns.Name == "" {
		return
	}
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels[corev1.LabelMetadataName] = ns.Name
}

// NamespaceScoped is false: namespaces are cluster-scoped.
func (strategy) NamespaceScoped() bool { return false }

// PrepareForCreate starts the namespace Active and makes sure it carries the
// "kubernetes" finalizer, which the namespace controller removes once the
// contents are gone.
func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	ns := obj.(*corev1.Namespace)
	ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
	hasKubernetes := false
	for _, f := range ns.Spec.Finalizers {
		if f == corev1.FinalizerKubernetes {
			hasKubernetes = true
			break
		}
	}
	if !hasKubernetes {
		ns.Spec.Finalizers = append(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
	}
	SetDefaultsNamespace(ns)
}

// PrepareForUpdate keeps the stored finalizers and status: they change only
// through the finalize and status subresources.
func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	ns, oldNS := obj.(*corev1.Namespace), old.(*corev1.Namespace)
	ns.Spec.Finalizers = oldNS.Spec.Finalizers
	ns.Status = oldNS.Status
	SetDefaultsNamespace(ns)
}

// Validate checks a new namespace.
func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateNamespace(obj.(*corev1.Namespace))
}

// ValidateUpdate checks a namespace update.
func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	ns, oldNS := obj.(*corev1.Namespace), old.(*corev1.Namespace)
	errs := apivalidation.ValidateObjectMetaUpdate(&ns.ObjectMeta, &oldNS.ObjectMeta, field.NewPath("metadata"))
	return append(errs, ValidateNamespace(ns)...)
}

// PrepareForUpdate keeps the stored spec: the status subresource changes only the status.
func (statusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	ns, oldNS := obj.(*corev1.Namespace), old.(*corev1.Namespace)
	ns.Spec = oldNS.Spec
}

// ValidateUpdate requires the phase to agree with the deletion timestamp.
func (statusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	ns, oldNS := obj.(*corev1.Namespace), old.(*corev1.Namespace)
	errs := apivalidation.ValidateObjectMetaUpdate(&ns.ObjectMeta, &oldNS.ObjectMeta, field.NewPath("metadata"))
	return append(errs, ValidateNamespaceStatus(ns)...)
}

// PrepareForUpdate keeps the stored status: finalize changes only spec.finalizers.
func (finalizeStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	ns, oldNS := obj.(*corev1.Namespace), old.(*corev1.Namespace)
	ns.Status = oldNS.Status
}

// ValidateUpdate checks the new finalizer names.
func (finalizeStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	ns, oldNS := obj.(*corev1.Namespace), old.(*corev1.Namespace)
	errs := apivalidation.ValidateObjectMetaUpdate(&ns.ObjectMeta, &oldNS.ObjectMeta, field.NewPath("metadata"))
	return append(errs, validateFinalizers(ns.Spec.Finalizers, field.NewPath("spec", "finalizers"))...)
}

// ValidateNamespace checks the name (a DNS label) and the finalizer names.
func ValidateNamespace(ns *corev1.Namespace) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(&ns.ObjectMeta, false, apivalidation.ValidateNamespaceName, field.NewPath("metadata"))
	return append(errs, validateFinalizers(ns.Spec.Finalizers, field.NewPath("spec", "finalizers"))...)
}

// ValidateNamespaceStatus requires phase Active while the namespace is not
// being deleted and Terminating once it is.
func ValidateNamespaceStatus(ns *corev1.Namespace) field.ErrorList {
	phase := field.NewPath("status", "phase")
	if ns.DeletionTimestamp.IsZero() {
		if ns.Status.Phase != corev1.NamespaceActive {
			return field.ErrorList{field.Invalid(phase, ns.Status.Phase, "may only be 'Active' if `deletionTimestamp` is empty")}
		}
		return nil
	}
	if ns.Status.Phase != corev1.NamespaceTerminating {
		return field.ErrorList{field.Invalid(phase, ns.Status.Phase, "may only be 'Terminating' if `deletionTimestamp` is not empty")}
	}
	return nil
}

// standardFinalizers are the finalizer names allowed without a domain prefix.
var standardFinalizers = map[string]bool{
	string(corev1.FinalizerKubernetes): true,
	metav1.FinalizerOrphanDependents:   true,
	metav1.FinalizerDeleteDependents:   true,
}

func validateFinalizers(finalizers []corev1.FinalizerName, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, f := range finalizers {
		name := string(f)
		for _, msg := range validation.IsQualifiedName(name) {
			errs = append(errs, field.Invalid(path.Index(i), name, msg))
		}
		if !strings.Contains(name, "/") && !standardFinalizers[name] {
			errs = append(errs, field.Invalid(path.Index(i), name, "name is neither a standard finalizer name nor is it fully qualified"))
		}
	}
	return errs
}

// GetAttrs returns the labels and selectable fields of a namespace:
// metadata.name, status.phase and the legacy "name".
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return nil, nil, fmt.Errorf("not a Namespace: %T", obj)
	}
	return labels.Set(ns.Labels), SelectableFields(ns), nil
}

// SelectableFields returns the field selector set of a namespace.
func SelectableFields(ns *corev1.Namespace) fields.Set {
	set := generic.ObjectMetaFieldsSet(&ns.ObjectMeta, false)
	set["status.phase"] = string(ns.Status.Phase)
	set["name"] = ns.Name
	return set
}
