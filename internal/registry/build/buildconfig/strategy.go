package buildconfig

import (
	"context"
	"fmt"

	buildv1 "github.com/openshift/api/build/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// strategy implements create, update and delete of BuildConfigs; storebase.Strategy
// answers what every resource answers alike (no create on update,
// unconditional updates, no warnings, no canonical form).
type strategy struct {
	storebase.Strategy
}

// Strategy is the main BuildConfig strategy: users write the spec; the
// status is kept from the stored object on update.
var Strategy = strategy{storebase.NewStrategy()}

// NamespaceScoped is true: BuildConfigs live in a project.
func (strategy) NamespaceScoped() bool { return true }

// PrepareForCreate applies the create defaults and starts the generation at
// 1. The status is kept as given, as OpenShift does, so an exported
// BuildConfig keeps its build counter when created again.
func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	bc := obj.(*buildv1.BuildConfig)
	SetCreateDefaults(bc)
	bc.Generation = 1
}

// PrepareForUpdate applies the defaults, keeps the stored status (it is
// written through buildconfigs/status) and bumps the generation when the
// spec changes.
func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	bc, oldBC := obj.(*buildv1.BuildConfig), old.(*buildv1.BuildConfig)
	SetDefaults(bc)
	bc.Status = oldBC.Status
	if !equality.Semantic.DeepEqual(bc.Spec, oldBC.Spec) {
		bc.Generation = oldBC.Generation + 1
	}
}

// Validate validates a new BuildConfig.
func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return Validate(obj.(*buildv1.BuildConfig))
}

// ValidateUpdate validates an updated BuildConfig.
func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateUpdate(obj.(*buildv1.BuildConfig), old.(*buildv1.BuildConfig))
}

// statusStrategy implements updates through buildconfigs/status.
type statusStrategy struct {
	strategy
}

// StatusStrategy is the strategy of buildconfigs/status: only the status
// changes, and status.lastVersion never goes back (build names derive from
// it, so going back would collide with existing builds).
var StatusStrategy = statusStrategy{Strategy}

// PrepareForUpdate keeps the stored spec and metadata.
func (statusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	bc, oldBC := obj.(*buildv1.BuildConfig), old.(*buildv1.BuildConfig)
	bc.Spec = oldBC.Spec
	metav1.ResetObjectMetaForStatus(bc, oldBC)
	if bc.Status.LastVersion < oldBC.Status.LastVersion {
		bc.Status.LastVersion = oldBC.Status.LastVersion
	}
}

// ValidateUpdate validates a status write.
func (statusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateStatusUpdate(obj.(*buildv1.BuildConfig), old.(*buildv1.BuildConfig))
}

// GetAttrs returns the labels and fields of a BuildConfig for list and
// watch filtering.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	bc, ok := obj.(*buildv1.BuildConfig)
	if !ok {
		return nil, nil, fmt.Errorf("not a BuildConfig: %T", obj)
	}
	return labels.Set(bc.Labels), generic.ObjectMetaFieldsSet(&bc.ObjectMeta, true), nil
}
