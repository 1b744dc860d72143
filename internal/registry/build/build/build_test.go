package build

import (
	"context"
	"strings"
	"testing"
	"time"

	buildv1 "github.com/openshift/api/build/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func newBuild() *buildv1.Build {
	return &buildv1.Build{
		ObjectMeta: metav1.ObjectMeta{Name: "time-1", Namespace: "demo", ResourceVersion: "3"},
		Spec: buildv1.BuildSpec{CommonSpec: buildv1.CommonSpec{
			Source: buildv1.BuildSource{Git: &buildv1.GitBuildSource{URI: "https://github.com/VeerMuchandi/time"}},
			Strategy: buildv1.BuildStrategy{
				DockerStrategy: &buildv1.DockerBuildStrategy{From: &corev1.ObjectReference{Kind: "DockerImage", Name: "busybox:latest"}},
			},
			Output: buildv1.BuildOutput{To: &corev1.ObjectReference{Kind: "DockerImage", Name: "docker.io/veermuchandi/mytime:latest"}},
		}},
	}
}

func hasError(errs field.ErrorList, want string) bool {
	for _, e := range errs {
		if strings.HasPrefix(e.Error(), want) {
			return true
		}
	}
	return false
}

func TestPrepareForCreate(t *testing.T) {
	b := newBuild()
	b.Status.Config = &corev1.ObjectReference{Kind: "BuildConfig", Name: "time", Namespace: "demo"}
	Strategy.PrepareForCreate(context.Background(), b)
	if b.Spec.ServiceAccount != "builder" {
		t.Errorf("serviceAccount = %q, want builder", b.Spec.ServiceAccount)
	}
	if b.Status.Phase != buildv1.BuildPhaseNew {
		t.Errorf("phase = %q, want New", b.Status.Phase)
	}
	if b.Status.Config == nil {
		t.Error("status.config set by the generator was dropped")
	}
	if b.Spec.Strategy.Type != buildv1.DockerBuildStrategyType || b.Spec.Source.Type != buildv1.BuildSourceGit {
		t.Errorf("types = %q/%q, want Docker/Git", b.Spec.Strategy.Type, b.Spec.Source.Type)
	}
	if errs := Strategy.Validate(context.Background(), b); len(errs) > 0 {
		t.Errorf("unexpected errors: %v", errs)
	}

	running := newBuild()
	running.Status.Phase = buildv1.BuildPhaseRunning
	Strategy.PrepareForCreate(context.Background(), running)
	if running.Status.Phase != buildv1.BuildPhaseRunning {
		t.Errorf("a given phase became %q", running.Status.Phase)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*buildv1.Build)
		want   string
	}{
		{"valid", func(*buildv1.Build) {}, ""},
		{"name", func(b *buildv1.Build) { b.Name = "" }, "metadata.name: Required value"},
		{"output name", func(b *buildv1.Build) { b.Spec.Output.To.Name = "" }, "spec.output.to.name: Required value"},
		{"phase", func(b *buildv1.Build) { b.Status.Phase = "Waiting" }, "status.phase: Unsupported value"},
		{"service account", func(b *buildv1.Build) { b.Spec.ServiceAccount = "Bad_SA" }, "spec.serviceAccount: Invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBuild()
			Strategy.PrepareForCreate(context.Background(), b)
			tt.mutate(b)
			errs := Validate(b)
			if tt.want == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			if !hasError(errs, tt.want) {
				t.Fatalf("errors %v do not include %q", errs, tt.want)
			}
		})
	}
}

func TestMainUpdate(t *testing.T) {
	ctx := context.Background()
	old := newBuild()
	Strategy.PrepareForCreate(ctx, old)
	old.Status.Phase = buildv1.BuildPhaseRunning

	t.Run("spec is immutable", func(t *testing.T) {
		b := old.DeepCopy()
		b.Spec.Output.To.Name = "docker.io/other/app:latest"
		Strategy.PrepareForUpdate(ctx, b, old)
		if errs := Strategy.ValidateUpdate(ctx, b, old); !hasError(errs, "spec: Invalid value") {
			t.Errorf("errors %v lack the immutable spec", errs)
		}
	})
	t.Run("labels may change, status is kept", func(t *testing.T) {
		b := old.DeepCopy()
		b.Labels = map[string]string{"app": "time"}
		b.Status.Phase = buildv1.BuildPhaseComplete
		// A client that omits defaulted fields still sends the same spec.
		b.Spec.ServiceAccount = ""
		Strategy.PrepareForUpdate(ctx, b, old)
		if errs := Strategy.ValidateUpdate(ctx, b, old); len(errs) > 0 {
			t.Errorf("unexpected errors: %v", errs)
		}
		if b.Status.Phase != buildv1.BuildPhaseRunning {
			t.Errorf("phase = %q, want Running kept", b.Status.Phase)
		}
	})
	t.Run("cancel through the main resource", func(t *testing.T) {
		b := old.DeepCopy()
		b.Status.Cancelled = true
		Strategy.PrepareForUpdate(ctx, b, old)
		if !b.Status.Cancelled {
			t.Error("status.cancelled was dropped")
		}
		done := old.DeepCopy()
		done.Status.Phase = buildv1.BuildPhaseComplete
		b = done.DeepCopy()
		b.Status.Cancelled = true
		Strategy.PrepareForUpdate(ctx, b, done)
		if b.Status.Cancelled {
			t.Error("a complete build was marked cancelled")
		}
	})
}

func TestStatusUpdate(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		from, to buildv1.BuildPhase
		valid    bool
	}{
		{buildv1.BuildPhaseNew, buildv1.BuildPhasePending, true},
		{buildv1.BuildPhaseRunning, buildv1.BuildPhaseComplete, true},
		{buildv1.BuildPhaseRunning, buildv1.BuildPhaseCancelled, true},
		{buildv1.BuildPhaseComplete, buildv1.BuildPhaseComplete, true},
		{buildv1.BuildPhaseComplete, buildv1.BuildPhaseRunning, false},
		{buildv1.BuildPhaseFailed, buildv1.BuildPhaseComplete, false},
		{buildv1.BuildPhaseError, buildv1.BuildPhaseNew, false},
		{buildv1.BuildPhaseCancelled, buildv1.BuildPhaseFailed, false},
		{buildv1.BuildPhaseRunning, "Paused", false},
	}
	for _, tt := range tests {
		old := newBuild()
		Strategy.PrepareForCreate(ctx, old)
		old.Status.Phase = tt.from
		b := old.DeepCopy()
		b.Status.Phase = tt.to
		StatusStrategy.PrepareForUpdate(ctx, b, old)
		errs := StatusStrategy.ValidateUpdate(ctx, b, old)
		if (len(errs) == 0) != tt.valid {
			t.Errorf("%s -> %s: errors %v, want valid=%v", tt.from, tt.to, errs, tt.valid)
		}
		if !tt.valid && !hasError(errs, "status.phase:") {
			t.Errorf("%s -> %s: errors %v not on status.phase", tt.from, tt.to, errs)
		}
	}

	old := newBuild()
	Strategy.PrepareForCreate(ctx, old)
	b := old.DeepCopy()
	b.Spec.Output.To = nil
	b.Status.Phase = buildv1.BuildPhaseRunning
	StatusStrategy.PrepareForUpdate(ctx, b, old)
	if b.Spec.Output.To == nil || b.Status.Phase != buildv1.BuildPhaseRunning {
		t.Errorf("status update changed the spec or lost the phase: %+v %q", b.Spec.Output, b.Status.Phase)
	}

	failed := old.DeepCopy()
	failed.Status = buildv1.BuildStatus{Phase: buildv1.BuildPhaseFailed, Reason: "FetchSourceFailed", Message: "clone failed"}
	b = failed.DeepCopy()
	b.Status.Reason, b.Status.Message = "GenericBuildFailed", "other"
	StatusStrategy.PrepareForUpdate(ctx, b, failed)
	if b.Status.Reason != "FetchSourceFailed" || b.Status.Message != "clone failed" {
		t.Errorf("reason of a failed build changed to %q/%q", b.Status.Reason, b.Status.Message)
	}
	b = failed.DeepCopy()
	b.Status.Reason = buildv1.StatusReasonOutOfMemoryKilled
	StatusStrategy.PrepareForUpdate(ctx, b, failed)
	if b.Status.Reason != buildv1.StatusReasonOutOfMemoryKilled {
		t.Errorf("OOM reason was not recorded: %q", b.Status.Reason)
	}
}

func TestFieldSelectors(t *testing.T) {
	b := newBuild()
	b.Status.Phase = buildv1.BuildPhaseRunning
	_, set, err := GetAttrs(b)
	if err != nil {
		t.Fatal(err)
	}
	for selector, match := range map[string]bool{
		"status=Running":             true,
		"status.phase=Running":       true,
		"status.phase!=Complete":     true,
		"status.phase=Complete":      false,
		"metadata.name=time-1":       true,
		"metadata.namespace=demo":    true,
		"metadata.namespace=default": false,
	} {
		sel, err := fields.ParseSelector(selector)
		if err != nil {
			t.Fatal(err)
		}
		if got := sel.Matches(set); got != match {
			t.Errorf("%s matches = %v, want %v", selector, got, match)
		}
	}

	s := runtime.NewScheme()
	if err := AddFieldLabelConversions(s); err != nil {
		t.Fatal(err)
	}
	gvk := buildv1.GroupVersion.WithKind("Build")
	for _, label := range []string{"status", "status.phase", "metadata.name"} {
		if _, _, err := s.ConvertFieldLabel(gvk, label, "x"); err != nil {
			t.Errorf("field label %q refused: %v", label, err)
		}
	}
	if _, _, err := s.ConvertFieldLabel(gvk, "spec.serviceAccount", "x"); err == nil {
		t.Error("field label spec.serviceAccount accepted")
	}
}

func TestTable(t *testing.T) {
	at := time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)
	now = func() time.Time { return at }
	defer func() { now = time.Now }()

	started := metav1.NewTime(at.Add(-5 * time.Minute))
	completed := metav1.NewTime(started.Add(12 * time.Second))
	complete := newBuild()
	complete.Spec.Revision = &buildv1.SourceRevision{Git: &buildv1.GitSourceRevision{Commit: "1e1ed2c579f98bc35de25c34952825419bb0a500"}}
	complete.Status = buildv1.BuildStatus{Phase: buildv1.BuildPhaseComplete, StartTimestamp: &started, CompletionTimestamp: &completed, Duration: 12*time.Second + 300*time.Millisecond}
	failed := newBuild()
	failed.Name = "time-2"
	failed.Status = buildv1.BuildStatus{Phase: buildv1.BuildPhaseFailed, Reason: "FetchSourceFailed", StartTimestamp: &started, CompletionTimestamp: &completed}
	fresh := newBuild()
	fresh.Name = "time-3"
	fresh.Spec.Strategy.Type = ""
	fresh.Status.Phase = buildv1.BuildPhaseNew

	table, err := TableConvertor.ConvertToTable(context.Background(), &buildv1.BuildList{Items: []buildv1.Build{*complete, *failed, *fresh}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var headers []string
	for _, c := range table.ColumnDefinitions {
		headers = append(headers, strings.ToUpper(c.Name))
	}
	if got := strings.Join(headers, " "); got != "NAME TYPE FROM STATUS STARTED DURATION" {
		t.Errorf("headers = %q", got)
	}
	want := [][]interface{}{
		{"time-1", "Docker", "Git@1e1ed2c", "Complete", "5m ago", "12s"},
		{"time-2", "Docker", "Git", "Failed (FetchSourceFailed)", "5m ago", "12s"},
		{"time-3", "Docker", "Git", "New", "", ""},
	}
	if len(table.Rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(table.Rows), len(want))
	}
	for i, row := range table.Rows {
		for j, cell := range row.Cells {
			if cell != want[i][j] {
				t.Errorf("row %d cell %d = %#v, want %#v", i, j, cell, want[i][j])
			}
		}
	}
}
