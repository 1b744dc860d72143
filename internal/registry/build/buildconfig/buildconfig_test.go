package buildconfig

import (
	"context"
	"strings"
	"testing"

	buildv1 "github.com/openshift/api/build/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// newBuildConfig returns what `oc new-build <git> --context-dir=busybox`
// creates, before defaulting.
func newBuildConfig() *buildv1.BuildConfig {
	return &buildv1.BuildConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "time", Namespace: "demo"},
		Spec: buildv1.BuildConfigSpec{
			Triggers: []buildv1.BuildTriggerPolicy{
				{Type: buildv1.GitHubWebHookBuildTriggerType, GitHubWebHook: &buildv1.WebHookTrigger{Secret: "s1"}},
				{Type: buildv1.GenericWebHookBuildTriggerType, GenericWebHook: &buildv1.WebHookTrigger{Secret: "s2"}},
				{Type: buildv1.ConfigChangeBuildTriggerType},
				{Type: buildv1.ImageChangeBuildTriggerType},
			},
			CommonSpec: buildv1.CommonSpec{
				Source: buildv1.BuildSource{
					Git:        &buildv1.GitBuildSource{URI: "https://github.com/VeerMuchandi/time"},
					ContextDir: "busybox",
				},
				Strategy: buildv1.BuildStrategy{
					DockerStrategy: &buildv1.DockerBuildStrategy{From: &corev1.ObjectReference{Name: "busybox:latest"}},
				},
				Output: buildv1.BuildOutput{To: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "time:latest"}},
			},
		},
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

func TestPrepareForCreateDefaults(t *testing.T) {
	bc := newBuildConfig()
	bc.Spec.Triggers = append(bc.Spec.Triggers, buildv1.BuildTriggerPolicy{Type: buildv1.GenericWebHookBuildTriggerTypeDeprecated, GenericWebHook: &buildv1.WebHookTrigger{Secret: "s3"}})
	bc.Status.LastVersion = 3
	Strategy.PrepareForCreate(context.Background(), bc)

	if bc.Spec.RunPolicy != buildv1.BuildRunPolicySerial {
		t.Errorf("runPolicy = %q, want Serial", bc.Spec.RunPolicy)
	}
	for name, limit := range map[string]*int32{"successful": bc.Spec.SuccessfulBuildsHistoryLimit, "failed": bc.Spec.FailedBuildsHistoryLimit} {
		if limit == nil || *limit != 5 {
			t.Errorf("%s history limit = %v, want 5", name, limit)
		}
	}
	if bc.Spec.Triggers[3].ImageChange == nil {
		t.Error("ImageChange trigger did not get an imageChange section")
	}
	if bc.Spec.Triggers[4].Type != buildv1.GenericWebHookBuildTriggerType {
		t.Errorf("deprecated trigger type became %q, want Generic", bc.Spec.Triggers[4].Type)
	}
	if bc.Spec.Strategy.Type != buildv1.DockerBuildStrategyType || bc.Spec.Source.Type != buildv1.BuildSourceGit {
		t.Errorf("types = %q/%q, want Docker/Git", bc.Spec.Strategy.Type, bc.Spec.Source.Type)
	}
	if k := bc.Spec.Strategy.DockerStrategy.From.Kind; k != "ImageStreamTag" {
		t.Errorf("dockerStrategy.from.kind = %q, want ImageStreamTag", k)
	}
	if bc.Generation != 1 {
		t.Errorf("generation = %d, want 1", bc.Generation)
	}
	if bc.Status.LastVersion != 3 {
		t.Errorf("status.lastVersion = %d, want the given 3 kept", bc.Status.LastVersion)
	}
	if errs := Strategy.Validate(context.Background(), bc); len(errs) > 0 {
		t.Errorf("defaulted new-build BuildConfig is invalid: %v", errs)
	}
}

func TestHistoryLimitsOnlyDefaultedOnCreate(t *testing.T) {
	old := newBuildConfig()
	Strategy.PrepareForCreate(context.Background(), old)
	updated := old.DeepCopy()
	updated.Spec.SuccessfulBuildsHistoryLimit = nil
	updated.Spec.FailedBuildsHistoryLimit = nil
	Strategy.PrepareForUpdate(context.Background(), updated, old)
	if updated.Spec.SuccessfulBuildsHistoryLimit != nil || updated.Spec.FailedBuildsHistoryLimit != nil {
		t.Error("an update removing the history limits got them back")
	}
	if updated.Generation != old.Generation+1 {
		t.Errorf("generation = %d, want %d after a spec change", updated.Generation, old.Generation+1)
	}
}

func TestValidate(t *testing.T) {
	negative, zero := int32(-1), int32(0)
	tests := []struct {
		name   string
		mutate func(*buildv1.BuildConfig)
		want   string
	}{
		{"valid", func(*buildv1.BuildConfig) {}, ""},
		{"zero history limit", func(bc *buildv1.BuildConfig) { bc.Spec.SuccessfulBuildsHistoryLimit = &zero }, ""},
		{"webhook secret reference", func(bc *buildv1.BuildConfig) {
			bc.Spec.Triggers[0].GitHubWebHook = &buildv1.WebHookTrigger{SecretReference: &buildv1.SecretLocalReference{Name: "hook"}}
		}, ""},
		{"name required", func(bc *buildv1.BuildConfig) { bc.Name = "" }, "metadata.name: Required value"},
		{"name format", func(bc *buildv1.BuildConfig) { bc.Name = "Time_App" }, "metadata.name: Invalid value"},
		{"output name", func(bc *buildv1.BuildConfig) { bc.Spec.Output.To.Name = "" }, "spec.output.to.name: Required value"},
		{"run policy", func(bc *buildv1.BuildConfig) { bc.Spec.RunPolicy = "Whenever" }, "spec.runPolicy: Unsupported value"},
		{"successful history limit", func(bc *buildv1.BuildConfig) { bc.Spec.SuccessfulBuildsHistoryLimit = &negative }, "spec.successfulBuildsHistoryLimit: Invalid value"},
		{"failed history limit", func(bc *buildv1.BuildConfig) { bc.Spec.FailedBuildsHistoryLimit = &negative }, "spec.failedBuildsHistoryLimit: Invalid value"},
		{"trigger type", func(bc *buildv1.BuildConfig) { bc.Spec.Triggers[2].Type = "Cron" }, "spec.triggers[2].type: Unsupported value"},
		{"trigger type required", func(bc *buildv1.BuildConfig) { bc.Spec.Triggers[2].Type = "" }, "spec.triggers[2].type: Required value"},
		{"github section", func(bc *buildv1.BuildConfig) { bc.Spec.Triggers[0].GitHubWebHook = nil }, "spec.triggers[0].github: Required value"},
		{"webhook secret", func(bc *buildv1.BuildConfig) { bc.Spec.Triggers[1].GenericWebHook.Secret = "" }, "spec.triggers[1].generic.secret: Required value"},
		{"secret reference name", func(bc *buildv1.BuildConfig) {
			bc.Spec.Triggers[1].GenericWebHook = &buildv1.WebHookTrigger{SecretReference: &buildv1.SecretLocalReference{}}
		}, "spec.triggers[1].generic.secretReference.name: Required value"},
		{"allowEnv on github", func(bc *buildv1.BuildConfig) { bc.Spec.Triggers[0].GitHubWebHook.AllowEnv = true }, "spec.triggers[0].github.allowEnv: Invalid value"},
		{"mismatched section", func(bc *buildv1.BuildConfig) {
			bc.Spec.Triggers[0].GitLabWebHook = &buildv1.WebHookTrigger{Secret: "x"}
		}, "spec.triggers[0].gitlab: Invalid value"},
		{"two image triggers without from", func(bc *buildv1.BuildConfig) {
			bc.Spec.Triggers = append(bc.Spec.Triggers, buildv1.BuildTriggerPolicy{Type: buildv1.ImageChangeBuildTriggerType, ImageChange: &buildv1.ImageChangeTrigger{}})
		}, "spec.triggers[4].imageChange: Invalid value"},
		{"image trigger from kind", func(bc *buildv1.BuildConfig) {
			bc.Spec.Triggers[3].ImageChange.From = &corev1.ObjectReference{Kind: "DockerImage", Name: "busybox:latest"}
		}, "spec.triggers[3].imageChange.from.kind: Invalid value"},
		{"image trigger from name", func(bc *buildv1.BuildConfig) {
			bc.Spec.Triggers[3].ImageChange.From = &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "busybox"}
		}, "spec.triggers[3].imageChange.from.name: Invalid value"},
		{"duplicate image trigger from", func(bc *buildv1.BuildConfig) {
			from := &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "busybox:latest"}
			bc.Spec.Triggers[3].ImageChange.From = from
			bc.Spec.Triggers = append(bc.Spec.Triggers, buildv1.BuildTriggerPolicy{Type: buildv1.ImageChangeBuildTriggerType, ImageChange: &buildv1.ImageChangeTrigger{From: from.DeepCopy()}})
		}, "spec.triggers[4].imageChange.from: Invalid value"},
		{"git uri", func(bc *buildv1.BuildConfig) { bc.Spec.Source.Git.URI = "" }, "spec.source.git.uri: Required value"},
		{"strategy", func(bc *buildv1.BuildConfig) { bc.Spec.Strategy.Type = "Source" }, "spec.strategy.sourceStrategy: Required value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bc := newBuildConfig()
			SetCreateDefaults(bc)
			tt.mutate(bc)
			errs := Validate(bc)
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

func TestUpdateStrategies(t *testing.T) {
	ctx := context.Background()
	old := newBuildConfig()
	Strategy.PrepareForCreate(ctx, old)
	old.ResourceVersion = "7"
	old.Status.LastVersion = 4

	t.Run("main keeps status", func(t *testing.T) {
		bc := old.DeepCopy()
		bc.Status.LastVersion = 9
		Strategy.PrepareForUpdate(ctx, bc, old)
		if bc.Status.LastVersion != 4 {
			t.Errorf("status.lastVersion = %d, want 4 kept", bc.Status.LastVersion)
		}
		if bc.Generation != old.Generation {
			t.Errorf("generation changed to %d without a spec change", bc.Generation)
		}
	})
	t.Run("status keeps spec and labels", func(t *testing.T) {
		bc := old.DeepCopy()
		bc.Status.LastVersion = 5
		bc.Spec.RunPolicy = buildv1.BuildRunPolicyParallel
		bc.Labels = map[string]string{"x": "y"}
		StatusStrategy.PrepareForUpdate(ctx, bc, old)
		if bc.Status.LastVersion != 5 || bc.Spec.RunPolicy != buildv1.BuildRunPolicySerial || bc.Labels != nil {
			t.Errorf("after status update: lastVersion %d, runPolicy %q, labels %v; want 5, Serial, none", bc.Status.LastVersion, bc.Spec.RunPolicy, bc.Labels)
		}
		if errs := StatusStrategy.ValidateUpdate(ctx, bc, old); len(errs) > 0 {
			t.Errorf("unexpected errors: %v", errs)
		}
	})
	t.Run("lastVersion never goes back", func(t *testing.T) {
		bc := old.DeepCopy()
		bc.Status.LastVersion = 1
		StatusStrategy.PrepareForUpdate(ctx, bc, old)
		if bc.Status.LastVersion != 4 {
			t.Errorf("status.lastVersion = %d, want 4", bc.Status.LastVersion)
		}
	})
	t.Run("update validates the spec", func(t *testing.T) {
		bc := old.DeepCopy()
		bc.Spec.Output.To.Name = ""
		Strategy.PrepareForUpdate(ctx, bc, old)
		if errs := Strategy.ValidateUpdate(ctx, bc, old); !hasError(errs, "spec.output.to.name: Required value") {
			t.Errorf("errors %v lack spec.output.to.name", errs)
		}
	})
}

func TestTable(t *testing.T) {
	gitRef := newBuildConfig()
	SetCreateDefaults(gitRef)
	gitRef.Name = "ref"
	gitRef.Spec.Source.Git.Ref = "main"
	gitRef.Status.LastVersion = 2
	binary := &buildv1.BuildConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "bin"},
		Spec: buildv1.BuildConfigSpec{CommonSpec: buildv1.CommonSpec{
			Source:   buildv1.BuildSource{Type: buildv1.BuildSourceBinary, Binary: &buildv1.BinaryBuildSource{}},
			Strategy: buildv1.BuildStrategy{SourceStrategy: &buildv1.SourceBuildStrategy{}},
		}},
	}
	list := &buildv1.BuildConfigList{ListMeta: metav1.ListMeta{ResourceVersion: "42"}, Items: []buildv1.BuildConfig{*gitRef, *binary}}

	table, err := TableConvertor.ConvertToTable(context.Background(), list, nil)
	if err != nil {
		t.Fatal(err)
	}
	var headers []string
	for _, c := range table.ColumnDefinitions {
		headers = append(headers, strings.ToUpper(c.Name))
	}
	if got := strings.Join(headers, " "); got != "NAME TYPE FROM LATEST" {
		t.Errorf("headers = %q", got)
	}
	want := [][]interface{}{{"ref", "Docker", "Git@main", int64(2)}, {"bin", "Source", "Binary", int64(0)}}
	if len(table.Rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(table.Rows), len(want))
	}
	for i, row := range table.Rows {
		for j, cell := range row.Cells {
			if cell != want[i][j] {
				t.Errorf("row %d cell %d = %#v, want %#v", i, j, cell, want[i][j])
			}
		}
		if row.Object.Object == nil {
			t.Errorf("row %d carries no object", i)
		}
	}
	if table.ResourceVersion != "42" {
		t.Errorf("resourceVersion = %q, want 42", table.ResourceVersion)
	}

	noHeaders, err := TableConvertor.ConvertToTable(context.Background(), gitRef, &metav1.TableOptions{NoHeaders: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(noHeaders.ColumnDefinitions) != 0 || len(noHeaders.Rows) != 1 {
		t.Errorf("noHeaders table: %d columns, %d rows; want 0 and 1", len(noHeaders.ColumnDefinitions), len(noHeaders.Rows))
	}
}
