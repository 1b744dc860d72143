// Package event stores core/v1 Events, which expire an hour after their
// last write as in Kubernetes.
package event

import (
	"context"
	"fmt"

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

type strategy struct{ storebase.Strategy }

// Strategy applies validation to events.
var Strategy = strategy{storebase.NewStrategy()}

func (strategy) NamespaceScoped() bool { return true }

// PrepareForCreate does nothing: events have no defaults.
func (strategy) PrepareForCreate(context.Context, runtime.Object) {}

// PrepareForUpdate does nothing: events have no status.
func (strategy) PrepareForUpdate(context.Context, runtime.Object, runtime.Object) {}

// Validate checks a new event.
func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateEvent(obj.(*corev1.Event))
}

// ValidateUpdate checks an event update.
func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	ev, oldEv := obj.(*corev1.Event), old.(*corev1.Event)
	errs := apivalidation.ValidateObjectMetaUpdate(&ev.ObjectMeta, &oldEv.ObjectMeta, field.NewPath("metadata"))
	return append(errs, ValidateEvent(ev)...)
}

// ValidateEvent checks the name and, for events in the old (core/v1)
// style without eventTime, that the event lives in its object's namespace
// ("default" or none for cluster-scoped objects).
func ValidateEvent(ev *corev1.Event) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(&ev.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	nsPath := field.NewPath("involvedObject", "namespace")
	if ev.EventTime.IsZero() {
		if ev.InvolvedObject.Namespace == "" {
			if ev.Namespace != metav1.NamespaceNone && ev.Namespace != metav1.NamespaceDefault {
				errs = append(errs, field.Invalid(nsPath, ev.InvolvedObject.Namespace, "does not match event.namespace"))
			}
		} else if ev.Namespace != ev.InvolvedObject.Namespace {
			errs = append(errs, field.Invalid(nsPath, ev.InvolvedObject.Namespace, "does not match event.namespace"))
		}
	}
	for _, msg := range validation.IsDNS1123Subdomain(ev.Namespace) {
		errs = append(errs, field.Invalid(field.NewPath("namespace"), ev.Namespace, msg))
	}
	return errs
}

// GetAttrs returns the labels and selectable fields of an event.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	ev, ok := obj.(*corev1.Event)
	if !ok {
		return nil, nil, fmt.Errorf("not an Event: %T", obj)
	}
	return labels.Set(ev.Labels), SelectableFields(ev), nil
}

// SelectableFields returns the fields `kubectl get events --field-selector`
// accepts: the involved object's identity, reason, type and source.
func SelectableFields(ev *corev1.Event) fields.Set {
	source := ev.Source.Component
	if source == "" {
		source = ev.ReportingController
	}
	set := fields.Set{
		"involvedObject.kind":            ev.InvolvedObject.Kind,
		"involvedObject.namespace":       ev.InvolvedObject.Namespace,
		"involvedObject.name":            ev.InvolvedObject.Name,
		"involvedObject.uid":             string(ev.InvolvedObject.UID),
		"involvedObject.apiVersion":      ev.InvolvedObject.APIVersion,
		"involvedObject.resourceVersion": ev.InvolvedObject.ResourceVersion,
		"involvedObject.fieldPath":       ev.InvolvedObject.FieldPath,
		"reason":                         ev.Reason,
		"reportingComponent":             ev.ReportingController,
		"source":                         source,
		"type":                           ev.Type,
	}
	return generic.AddObjectMetaFieldsSet(set, &ev.ObjectMeta, true)
}
