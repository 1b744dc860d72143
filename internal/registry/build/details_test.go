package buildregistry

import (
	"context"
	"testing"

	buildv1 "github.com/openshift/api/build/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDetailsStrategy(t *testing.T) {
	stored := &buildv1.Build{
		ObjectMeta: metav1.ObjectMeta{Name: "time-1", Namespace: "p", ResourceVersion: "7", Labels: map[string]string{"a": "b"}},
		Spec: buildv1.BuildSpec{CommonSpec: buildv1.CommonSpec{
			ServiceAccount: "builder",
			Source:         buildv1.BuildSource{Git: &buildv1.GitBuildSource{URI: "https://git.test/x.git"}},
			Strategy:       buildv1.BuildStrategy{DockerStrategy: &buildv1.DockerBuildStrategy{}},
		}},
		Status: buildv1.BuildStatus{Phase: buildv1.BuildPhaseRunning, OutputDockerImageReference: "reg/x:latest"},
	}
	details := stored.DeepCopy()
	details.Labels = map[string]string{"evil": "yes"}
	details.Spec.ServiceAccount = "admin"
	details.Spec.Revision = &buildv1.SourceRevision{Type: buildv1.BuildSourceGit, Git: &buildv1.GitSourceRevision{Commit: "abc"}}
	details.Status.Phase = buildv1.BuildPhaseFailed
	details.Status.Reason = buildv1.StatusReasonPushImageToRegistryFailed
	details.Status.Message = "unauthorized: authentication required"
	details.Status.OutputDockerImageReference = "elsewhere/x"
	details.Status.Output.To = &buildv1.BuildStatusOutputTo{ImageDigest: "sha256:abc"}
	details.Status.LogSnippet = "last lines"

	ctx := context.Background()
	DetailsStrategy.PrepareForUpdate(ctx, details, stored)
	if errs := DetailsStrategy.ValidateUpdate(ctx, details, stored); len(errs) > 0 {
		t.Fatalf("valid details refused: %v", errs)
	}
	if details.Spec.Revision.Git.Commit != "abc" || details.Status.Phase != buildv1.BuildPhaseFailed ||
		details.Status.Reason != buildv1.StatusReasonPushImageToRegistryFailed || details.Status.Output.To.ImageDigest != "sha256:abc" ||
		details.Status.LogSnippet != "last lines" {
		t.Errorf("builder fields not merged: %+v %+v", details.Spec.Revision, details.Status)
	}
	if details.Spec.ServiceAccount != "builder" || details.Labels["evil"] != "" || details.Status.OutputDockerImageReference != "reg/x:latest" {
		t.Errorf("fields the builder does not own changed: sa=%s labels=%v output=%s", details.Spec.ServiceAccount, details.Labels, details.Status.OutputDockerImageReference)
	}

	complete := details.DeepCopy()
	complete.Status.Phase = buildv1.BuildPhaseComplete
	DetailsStrategy.PrepareForUpdate(ctx, complete, stored)
	if complete.Status.Phase != buildv1.BuildPhaseRunning {
		t.Errorf("the builder set phase %s; only Failed is its to report", complete.Status.Phase)
	}

	terminal := stored.DeepCopy()
	terminal.Status.Phase = buildv1.BuildPhaseCancelled
	late := terminal.DeepCopy()
	late.Status.Output.To = &buildv1.BuildStatusOutputTo{ImageDigest: "sha256:late"}
	DetailsStrategy.PrepareForUpdate(ctx, late, terminal)
	if errs := DetailsStrategy.ValidateUpdate(ctx, late, terminal); len(errs) == 0 {
		t.Error("details of a Cancelled build were accepted")
	}
}
