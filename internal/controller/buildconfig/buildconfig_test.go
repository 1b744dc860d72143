package buildconfig

import (
	"slices"
	"strconv"
	"testing"

	buildv1 "github.com/openshift/api/build/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestBuildsToPrune(t *testing.T) {
	build := func(n int, phase buildv1.BuildPhase) *buildv1.Build {
		return &buildv1.Build{
			ObjectMeta: metav1.ObjectMeta{Name: "app-" + strconv.Itoa(n), Annotations: map[string]string{buildv1.BuildNumberAnnotation: strconv.Itoa(n)}},
			Status:     buildv1.BuildStatus{Phase: phase},
		}
	}
	builds := []*buildv1.Build{
		build(1, buildv1.BuildPhaseComplete), build(2, buildv1.BuildPhaseFailed), build(3, buildv1.BuildPhaseComplete),
		build(4, buildv1.BuildPhaseCancelled), build(5, buildv1.BuildPhaseComplete), build(6, buildv1.BuildPhaseError),
		build(7, buildv1.BuildPhaseRunning), build(8, buildv1.BuildPhaseNew),
	}
	limit := func(n int32) *int32 { return &n }
	tests := []struct {
		name               string
		successful, failed *int32
		want               []string
	}{
		{"no limits keep everything", nil, nil, nil},
		{"keep two complete", limit(2), nil, []string{"app-1"}},
		{"keep one failed", nil, limit(1), []string{"app-4", "app-2"}},
		{"zero keeps no terminal build", limit(0), limit(0), []string{"app-5", "app-3", "app-1", "app-6", "app-4", "app-2"}},
	}
	for _, tt := range tests {
		bc := &buildv1.BuildConfig{Spec: buildv1.BuildConfigSpec{SuccessfulBuildsHistoryLimit: tt.successful, FailedBuildsHistoryLimit: tt.failed}}
		var got []string
		for _, b := range BuildsToPrune(bc, slices.Clone(builds)) {
			got = append(got, b.Name)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: pruned %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestHasConfigChangeTrigger(t *testing.T) {
	bc := &buildv1.BuildConfig{Spec: buildv1.BuildConfigSpec{Triggers: []buildv1.BuildTriggerPolicy{{Type: buildv1.GitHubWebHookBuildTriggerType}}}}
	if HasConfigChangeTrigger(bc) {
		t.Error("a GitHub trigger is not a config change trigger")
	}
	bc.Spec.Triggers = append(bc.Spec.Triggers, buildv1.BuildTriggerPolicy{Type: buildv1.ConfigChangeBuildTriggerType})
	if !HasConfigChangeTrigger(bc) {
		t.Error("config change trigger not found")
	}
}
