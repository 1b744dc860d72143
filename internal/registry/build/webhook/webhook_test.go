package webhook

import (
	"net/http"
	"testing"

	buildv1 "github.com/openshift/api/build/v1"
)

func bcWithRef(ref string) *buildv1.BuildConfig {
	return &buildv1.BuildConfig{Spec: buildv1.BuildConfigSpec{CommonSpec: buildv1.CommonSpec{
		Source: buildv1.BuildSource{Git: &buildv1.GitBuildSource{URI: "https://git.test/app.git", Ref: ref}},
	}}}
}

func TestRefFilter(t *testing.T) {
	tests := []struct {
		name   string
		filter refFilter
		ref    string
		want   bool
	}{
		{"same branch", refFilter{refs: []string{"refs/heads/dev"}}, "dev", true},
		{"other branch", refFilter{refs: []string{"refs/heads/main"}}, "dev", false},
		{"empty ref accepts main", refFilter{refs: []string{"refs/heads/main"}}, "", true},
		{"empty ref accepts master", refFilter{refs: []string{"refs/heads/master"}}, "", true},
		{"empty ref refuses a feature branch", refFilter{refs: []string{"refs/heads/feature"}}, "", false},
		{"empty ref follows the payload's default branch", refFilter{refs: []string{"refs/heads/trunk"}, defaultBranch: "trunk"}, "", true},
		{"default branch known: main is just a branch", refFilter{refs: []string{"refs/heads/main"}, defaultBranch: "trunk"}, "", false},
		{"generic call without refs", refFilter{any: true}, "dev", true},
	}
	for _, tt := range tests {
		if got := tt.filter.match(bcWithRef(tt.ref)); got != tt.want {
			t.Errorf("%s: match = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseGitHub(t *testing.T) {
	h := http.Header{"Content-Type": {"application/json"}, "X-Github-Event": {"push"}}
	body := []byte(`{"ref":"refs/heads/main","after":"abc","head_commit":{"id":"abc","message":"fix","author":{"name":"A","email":"a@x"},"committer":{"name":"C","email":"c@x"}},"repository":{"default_branch":"main"}}`)
	e, err := parseGitHub(h, body, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := e.request.Revision.Git
	if g.Commit != "abc" || g.Message != "fix" || g.Author.Name != "A" || g.Committer.Email != "c@x" {
		t.Errorf("revision = %+v", g)
	}
	if len(e.request.TriggeredBy) != 1 || e.request.TriggeredBy[0].Message != "GitHub WebHook" || e.request.TriggeredBy[0].GitHubWebHook.Secret != "<secret>" {
		t.Errorf("cause = %+v", e.request.TriggeredBy)
	}
	if !e.refs.match(bcWithRef("")) || e.refs.match(bcWithRef("dev")) {
		t.Error("branch filter wrong for a push to main")
	}
	h.Set("X-GitHub-Event", "ping")
	if e, err := parseGitHub(h, body, nil); err != nil || e.skip == "" {
		t.Errorf("ping: %v %+v, want accepted without a build", err, e)
	}
	h.Set("X-GitHub-Event", "issues")
	if _, err := parseGitHub(h, body, nil); err == nil {
		t.Error("an issues event was accepted")
	}
	h.Set("X-GitHub-Event", "push")
	h.Set("Content-Type", "text/plain")
	if _, err := parseGitHub(h, body, nil); err == nil {
		t.Error("a non-JSON GitHub call was accepted")
	}
}

func TestParseGeneric(t *testing.T) {
	allow := &buildv1.BuildTriggerPolicy{Type: buildv1.GenericWebHookBuildTriggerType, GenericWebHook: &buildv1.WebHookTrigger{AllowEnv: true}}
	deny := &buildv1.BuildTriggerPolicy{Type: buildv1.GenericWebHookBuildTriggerType, GenericWebHook: &buildv1.WebHookTrigger{}}
	body := []byte("git:\n  ref: refs/heads/dev\n  commit: c0ffee\nenv:\n- name: K\n  value: V\n")
	e, err := parseGeneric(nil, body, allow)
	if err != nil {
		t.Fatal(err)
	}
	if e.request.Revision.Git.Commit != "c0ffee" || len(e.request.Env) != 1 || e.refs.match(bcWithRef("main")) || !e.refs.match(bcWithRef("dev")) {
		t.Errorf("generic YAML payload: %+v", e)
	}
	if e, _ := parseGeneric(nil, body, deny); len(e.request.Env) != 0 {
		t.Error("env honoured without allowEnv")
	}
	e, err = parseGeneric(nil, []byte("{not json"), deny)
	if err != nil || !e.refs.any || e.request.TriggeredBy[0].Message != "Generic WebHook" {
		t.Errorf("a bad payload must still start a build: %v %+v", err, e)
	}
}

func TestParseGitLabUsesLastCommit(t *testing.T) {
	h := http.Header{"Content-Type": {"application/json"}, "X-Gitlab-Event": {"Push Hook"}}
	body := []byte(`{"ref":"refs/heads/main","commits":[{"id":"first"},{"id":"last","message":"m"}],"project":{"default_branch":"main"}}`)
	e, err := parseGitLab(h, body, nil)
	if err != nil || e.request.Revision.Git.Commit != "last" {
		t.Errorf("gitlab: %v %+v", err, e)
	}
}
