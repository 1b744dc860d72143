package build

import (
	"slices"

	buildv1 "github.com/openshift/api/build/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/slipway-dev/slipway/internal/registry/build/buildspec"
)

var phases = []string{
	string(buildv1.BuildPhaseNew), string(buildv1.BuildPhasePending), string(buildv1.BuildPhaseRunning),
	string(buildv1.BuildPhaseComplete), string(buildv1.BuildPhaseFailed), string(buildv1.BuildPhaseError),
	string(buildv1.BuildPhaseCancelled),
}

// Validate checks a new Build: metadata, the common build spec and a known
// phase.
func Validate(b *buildv1.Build) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&b.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, buildspec.ValidateCommonSpec(&b.Spec.CommonSpec, field.NewPath("spec"))...)
	allErrs = append(allErrs, validatePhase(b.Status.Phase)...)
	return allErrs
}

// ValidateUpdate checks an update of the main resource: a Build's spec is
// immutable once created.
func ValidateUpdate(b, old *buildv1.Build) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&b.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	if !equality.Semantic.DeepEqual(b.Spec, WithChosenSecrets(old.Spec, b.Spec)) {
		allErrs = append(allErrs, field.Invalid(field.NewPath("spec"), "content of spec is not printed out", "spec is immutable"))
	}
	return allErrs
}

// ValidateStatusUpdate checks a write through builds/status: the phase is
// known and a terminal phase never changes.
func ValidateStatusUpdate(b, old *buildv1.Build) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&b.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validatePhase(b.Status.Phase)...)
	if IsTerminal(old.Status.Phase) && b.Status.Phase != old.Status.Phase {
		allErrs = append(allErrs, field.Invalid(field.NewPath("status", "phase"), b.Status.Phase, "phase cannot be updated from a terminal state "+string(old.Status.Phase)))
	}
	return allErrs
}

func validatePhase(phase buildv1.BuildPhase) field.ErrorList {
	if !slices.Contains(phases, string(phase)) {
		return field.ErrorList{field.NotSupported(field.NewPath("status", "phase"), phase, phases)}
	}
	return nil
}

// WithChosenSecrets returns old with the push and strategy pull secrets of
// updated filled in where old names none. The spec of a build is immutable
// but for this: the build controller records the secrets it chose from the
// service account, as OpenShift's does.
func WithChosenSecrets(old, updated buildv1.BuildSpec) buildv1.BuildSpec {
	spec := *old.DeepCopy()
	if spec.Output.PushSecret == nil && updated.Output.PushSecret != nil {
		spec.Output.PushSecret = updated.Output.PushSecret.DeepCopy()
	}
	if pull, chosen := buildspec.StrategyPullSecret(&spec.Strategy), buildspec.StrategyPullSecret(&updated.Strategy); pull != nil && chosen != nil && *pull == nil && *chosen != nil {
		*pull = (*chosen).DeepCopy()
	}
	return spec
}
