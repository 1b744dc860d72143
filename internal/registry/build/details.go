package buildregistry

import (
	"context"

	buildv1 "github.com/openshift/api/build/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/registry/build/build"
)

// detailsStrategy is the strategy of builds/details, the builder's only
// write: it merges the fields the builder knows into the stored Build and
// ignores everything else it sends.
type detailsStrategy struct {
	rest.RESTUpdateStrategy
}

// DetailsStrategy merges spec.revision, a Failed phase with its reason and
// message, status.output.to.imageDigest, status.stages and
// status.logSnippet. Complete is not the builder's to decide: the build
// controller sets it from the pod.
var DetailsStrategy = detailsStrategy{build.StatusStrategy}

// PrepareForUpdate replaces obj by the stored Build with the builder's
// fields merged in.
func (detailsStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	b, stored := obj.(*buildv1.Build), old.(*buildv1.Build)
	*b = *MergeDetails(stored, b)
}

// MergeDetails returns a copy of stored with what the builder may report
// taken from details.
func MergeDetails(stored, details *buildv1.Build) *buildv1.Build {
	merged := stored.DeepCopy()
	if details.Spec.Revision != nil {
		merged.Spec.Revision = details.Spec.Revision.DeepCopy()
	}
	if details.Status.Phase == buildv1.BuildPhaseFailed {
		merged.Status.Phase = buildv1.BuildPhaseFailed
		merged.Status.Reason = details.Status.Reason
		merged.Status.Message = details.Status.Message
	}
	if to := details.Status.Output.To; to != nil && to.ImageDigest != "" {
		merged.Status.Output.To = &buildv1.BuildStatusOutputTo{ImageDigest: to.ImageDigest}
	}
	if len(details.Status.Stages) > 0 {
		merged.Status.Stages = append([]buildv1.StageInfo(nil), details.Status.Stages...)
	}
	if details.Status.LogSnippet != "" {
		merged.Status.LogSnippet = details.Status.LogSnippet
	}
	return merged
}

// ValidateUpdate refuses any change to a Build in a terminal phase and
// otherwise checks the status write like builds/status.
func (detailsStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	b, stored := obj.(*buildv1.Build), old.(*buildv1.Build)
	if build.IsTerminal(stored.Status.Phase) && (!equality.Semantic.DeepEqual(b.Spec, stored.Spec) || !equality.Semantic.DeepEqual(b.Status, stored.Status)) {
		return field.ErrorList{field.Forbidden(field.NewPath("status", "phase"),
			"build "+stored.Name+" is "+string(stored.Status.Phase)+": its details can no longer change")}
	}
	return build.ValidateStatusUpdate(b, stored)
}
