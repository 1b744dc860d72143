package build

import (
	"context"
	"fmt"

	buildv1 "github.com/openshift/api/build/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// strategy implements create, update and delete of Builds; storebase.Strategy
// answers what every resource answers alike (no create on update,
// unconditional updates, no warnings, no canonical form).
type strategy struct {
	storebase.Strategy
}

// Strategy is the main Build strategy.
var Strategy = strategy{storebase.NewStrategy()}

// NamespaceScoped is true: Builds live in a project.
func (strategy) NamespaceScoped() bool { return true }

// PrepareForCreate applies the defaults, starts the generation at 1 and the
// phase at New. The rest of the status is kept: the build generator creates
// Builds with status.config and their first condition.
func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	b := obj.(*buildv1.Build)
	SetDefaults(b)
	b.Generation = 1
	if b.Status.Phase == "" {
		b.Status.Phase = buildv1.BuildPhaseNew
	}
}

// PrepareForUpdate applies the defaults (so a client resending the spec it
// read matches the stored one) and keeps the stored status, except that a
// running build may be marked cancelled: `oc cancel-build` sets
// status.cancelled with a plain update of the Build.
func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	b, oldBuild := obj.(*buildv1.Build), old.(*buildv1.Build)
	SetDefaults(b)
	cancel := b.Status.Cancelled && !oldBuild.Status.Cancelled && !IsTerminal(oldBuild.Status.Phase)
	b.Status = oldBuild.Status
	if cancel {
		b.Status.Cancelled = true
	}
}

// Validate validates a new Build.
func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return Validate(obj.(*buildv1.Build))
}

// ValidateUpdate validates an update of the main resource.
func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateUpdate(obj.(*buildv1.Build), old.(*buildv1.Build))
}

// statusStrategy implements updates through builds/status.
type statusStrategy struct {
	strategy
}

// StatusStrategy is the strategy of builds/status, written by the build
// controller and the builder: only the status changes, and terminal phases
// are final.
var StatusStrategy = statusStrategy{Strategy}

// PrepareForUpdate keeps the stored spec and metadata. The reason and
// message of a Failed build stay those first recorded, unless the pod was
// OOM-killed, which the builder cannot see itself (as in OpenShift).
func (statusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	b, oldBuild := obj.(*buildv1.Build), old.(*buildv1.Build)
	b.Spec = oldBuild.Spec
	metav1.ResetObjectMetaForStatus(b, oldBuild)
	if oldBuild.Status.Phase == buildv1.BuildPhaseFailed && b.Status.Reason != buildv1.StatusReasonOutOfMemoryKilled {
		b.Status.Reason = oldBuild.Status.Reason
		b.Status.Message = oldBuild.Status.Message
	}
}

// ValidateUpdate validates a status write.
func (statusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateStatusUpdate(obj.(*buildv1.Build), old.(*buildv1.Build))
}

// GetAttrs returns the labels and fields of a Build for list and watch
// filtering: metadata.name, metadata.namespace, and the phase as both
// "status" (OpenShift's field label) and "status.phase".
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	b, ok := obj.(*buildv1.Build)
	if !ok {
		return nil, nil, fmt.Errorf("not a Build: %T", obj)
	}
	return labels.Set(b.Labels), SelectableFields(b), nil
}

// SelectableFields returns the fields a Build can be selected by.
func SelectableFields(b *buildv1.Build) fields.Set {
	return generic.AddObjectMetaFieldsSet(fields.Set{
		"status":       string(b.Status.Phase),
		"status.phase": string(b.Status.Phase),
	}, &b.ObjectMeta, true)
}

// AddFieldLabelConversions lets clients select Builds by the fields
// SelectableFields sets; the API server rejects any other field label.
func AddFieldLabelConversions(s *runtime.Scheme) error {
	return s.AddFieldLabelConversionFunc(buildv1.GroupVersion.WithKind("Build"), func(label, value string) (string, string, error) {
		switch label {
		case "status", "status.phase":
			return label, value, nil
		}
		return runtime.DefaultMetaV1FieldSelectorConversion(label, value)
	})
}
