package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	buildv1 "github.com/openshift/api/build/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestLastFrom(t *testing.T) {
	tests := []struct{ dockerfile, want string }{
		{"FROM docker.io/busybox\nADD ./init.sh ./\n", "docker.io/busybox"},
		{"# comment\nfrom alpine:3.20 AS build\nRUN x\nFROM --platform=linux/amd64 debian:12\n", "debian:12"},
		{"FROM golang:1.26 AS build\nFROM build\n", "golang:1.26"},
		{"FROM \\\n  quay.io/a/b@sha256:abc\n", "quay.io/a/b@sha256:abc"},
		{"RUN echo\n", ""},
		{"FROM scratch\n", "scratch"},
	}
	for _, tt := range tests {
		if got := lastFrom(tt.dockerfile); got != tt.want {
			t.Errorf("lastFrom(%q) = %q, want %q", tt.dockerfile, got, tt.want)
		}
	}
}

func TestImageStreamNameAndTag(t *testing.T) {
	tests := []struct{ ref, name, tag string }{
		{"docker.io/busybox", "busybox", "latest"},
		{"busybox:1.36", "busybox", "1.36"},
		{"localhost:5000/library/busybox", "busybox", "latest"},
		{"localhost:5000/library/BusyBox:v2", "busybox", "v2"},
		{"quay.io/a/b@sha256:0123456789abcdef", "b", "0123456"},
	}
	for _, tt := range tests {
		name, tag := imageStreamNameAndTag(tt.ref)
		if name != tt.name || tag != tt.tag {
			t.Errorf("imageStreamNameAndTag(%q) = %q, %q; want %q, %q", tt.ref, name, tag, tt.name, tt.tag)
		}
	}
}

func fixedSecret() string { return "s3cr3t" }

func TestGenerateNewBuild(t *testing.T) {
	o := &newBuildOptions{SourceURL: "https://github.com/VeerMuchandi/time", ContextDir: "busybox"}
	gen, err := generateNewBuild(o, "FROM docker.io/busybox\nADD ./init.sh ./\n", fixedSecret)
	if err != nil {
		t.Fatal(err)
	}
	bc := gen.Config
	if bc.Name != "time" || bc.Labels["build"] != "time" || bc.Annotations["openshift.io/generated-by"] != "OpenShiftNewBuild" {
		t.Errorf("metadata = %+v", bc.ObjectMeta)
	}
	if g := bc.Spec.Source.Git; g == nil || g.URI != "https://github.com/VeerMuchandi/time" || g.Ref != "" || bc.Spec.Source.ContextDir != "busybox" || bc.Spec.Source.Type != buildv1.BuildSourceGit {
		t.Errorf("source = %+v", bc.Spec.Source)
	}
	ds := bc.Spec.Strategy.DockerStrategy
	if bc.Spec.Strategy.Type != buildv1.DockerBuildStrategyType || ds == nil || ds.From == nil || *ds.From != (corev1.ObjectReference{Kind: "ImageStreamTag", Name: "busybox:latest"}) {
		t.Errorf("strategy = %+v", bc.Spec.Strategy)
	}
	if to := bc.Spec.Output.To; to == nil || *to != (corev1.ObjectReference{Kind: "ImageStreamTag", Name: "time:latest"}) {
		t.Errorf("output = %+v", bc.Spec.Output)
	}
	var types []buildv1.BuildTriggerType
	for _, tr := range bc.Spec.Triggers {
		types = append(types, tr.Type)
	}
	wantTypes := []buildv1.BuildTriggerType{"GitHub", "Generic", "ConfigChange", "ImageChange"}
	if !reflect.DeepEqual(types, wantTypes) || bc.Spec.Triggers[0].GitHubWebHook.Secret != "s3cr3t" || bc.Spec.Triggers[3].ImageChange == nil {
		t.Errorf("triggers = %+v", bc.Spec.Triggers)
	}
	base := gen.BaseStream
	if base == nil || base.Name != "busybox" || len(base.Spec.Tags) != 1 {
		t.Fatalf("base stream = %+v", base)
	}
	tag := base.Spec.Tags[0]
	if tag.Name != "latest" || tag.From == nil || tag.From.Kind != "DockerImage" || tag.From.Name != "docker.io/busybox" ||
		tag.Annotations["openshift.io/imported-from"] != "docker.io/busybox" {
		t.Errorf("base tag = %+v", tag)
	}
	if gen.OutputStream == nil || gen.OutputStream.Name != "time" || len(gen.OutputStream.Spec.Tags) != 0 {
		t.Errorf("output stream = %+v", gen.OutputStream)
	}
}

func TestGenerateNewBuildVariants(t *testing.T) {
	tests := []struct {
		name    string
		o       newBuildOptions
		df      string
		check   func(t *testing.T, g *newBuildObjects)
		wantErr string
	}{
		{
			name: "to docker with push secret and ref fragment",
			o:    newBuildOptions{SourceURL: "https://git.example.com/app.git#dev", ToDocker: true, To: "reg:5000/veer/mytime:latest", PushSecret: "dockerhub"},
			df:   "FROM busybox\n",
			check: func(t *testing.T, g *newBuildObjects) {
				bc := g.Config
				if bc.Name != "app" || bc.Spec.Source.Git.Ref != "dev" || bc.Spec.Source.Git.URI != "https://git.example.com/app.git" {
					t.Errorf("bc = %s %+v", bc.Name, bc.Spec.Source.Git)
				}
				if to := bc.Spec.Output.To; to.Kind != "DockerImage" || to.Name != "reg:5000/veer/mytime:latest" {
					t.Errorf("to = %+v", to)
				}
				if bc.Spec.Output.PushSecret == nil || bc.Spec.Output.PushSecret.Name != "dockerhub" {
					t.Errorf("push secret = %+v", bc.Spec.Output.PushSecret)
				}
				if g.OutputStream != nil {
					t.Error("an output stream for a DockerImage output")
				}
			},
		},
		{
			name: "to image stream tag names the build",
			o:    newBuildOptions{SourceURL: "https://x/repo", To: "myapp:v1", BuildSecrets: []string{"creds:etc/creds", "plain"}},
			df:   "FROM scratch\nCOPY a /\n",
			check: func(t *testing.T, g *newBuildObjects) {
				if g.Config.Name != "myapp" || g.Config.Spec.Output.To.Name != "myapp:v1" || g.OutputStream.Name != "myapp" {
					t.Errorf("name %q to %q", g.Config.Name, g.Config.Spec.Output.To.Name)
				}
				if g.BaseStream != nil || g.Config.Spec.Strategy.DockerStrategy.From != nil || len(g.Config.Spec.Triggers) != 3 {
					t.Errorf("FROM scratch got a base: %+v", g.BaseStream)
				}
				want := []buildv1.SecretBuildSource{{Secret: corev1.LocalObjectReference{Name: "creds"}, DestinationDir: "etc/creds"}, {Secret: corev1.LocalObjectReference{Name: "plain"}}}
				if !reflect.DeepEqual(g.Config.Spec.Source.Secrets, want) {
					t.Errorf("secrets = %+v", g.Config.Spec.Source.Secrets)
				}
			},
		},
		{
			name: "inline dockerfile",
			o:    newBuildOptions{Dockerfile: "FROM busybox:1.36\nRUN true\n", Name: "inline"},
			df:   "FROM busybox:1.36\nRUN true\n",
			check: func(t *testing.T, g *newBuildObjects) {
				s := g.Config.Spec.Source
				if s.Type != buildv1.BuildSourceDockerfile || s.Git != nil || s.Dockerfile == nil || *s.Dockerfile != "FROM busybox:1.36\nRUN true\n" {
					t.Errorf("source = %+v", s)
				}
				if g.BaseTag != "busybox:1.36" {
					t.Errorf("base tag %q", g.BaseTag)
				}
			},
		},
		{name: "inline without name", o: newBuildOptions{Dockerfile: "FROM x\n"}, df: "FROM x\n", wantErr: "--name"},
		{name: "to-docker without to", o: newBuildOptions{SourceURL: "https://x/r", ToDocker: true}, df: "FROM x\n", wantErr: "--to-docker needs --to"},
		{name: "absolute build secret", o: newBuildOptions{SourceURL: "https://x/r", BuildSecrets: []string{"s:/etc"}}, df: "FROM x\n", wantErr: "relative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := generateNewBuild(&tt.o, tt.df, fixedSecret)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, g)
		})
	}
}

// TestFetchDockerfile clones a real repository made with git.
func TestFetchDockerfile(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	repo := t.TempDir()
	if err := os.MkdirAll(filepath.Join(repo, "busybox"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(repo, "busybox", "Dockerfile"), []byte("FROM docker.io/busybox\n"), 0o644)
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "."},
		{"-c", "user.name=t", "-c", "user.email=t@x", "commit", "-q", "-m", "init"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	got, err := fetchDockerfile(context.Background(), "file://"+repo+"#main", "busybox")
	if err != nil || got != "FROM docker.io/busybox\n" {
		t.Fatalf("fetchDockerfile = %q, %v", got, err)
	}
	if _, err := fetchDockerfile(context.Background(), "file://"+repo, "nothere"); err == nil || !strings.Contains(err.Error(), "no Dockerfile") {
		t.Errorf("missing context dir: %v", err)
	}
	if _, err := fetchDockerfile(context.Background(), "file://"+repo+"-missing", ""); err == nil || !strings.Contains(err.Error(), "cloning") {
		t.Errorf("missing repository: %v", err)
	}
}

func TestBuildRequest(t *testing.T) {
	req, err := buildRequest(&startBuildOptions{
		BuildConfig: "time", Env: []string{"A=1", "B=x=y"}, BuildArgs: []string{"V=2"},
		Commit: "abc123", NoCache: true, NoCacheSet: true, BuildLogLevel: "5",
	})
	if err != nil {
		t.Fatal(err)
	}
	if req.Name != "time" || len(req.TriggeredBy) != 1 || req.TriggeredBy[0].Message != "Manually triggered" {
		t.Errorf("request = %+v", req)
	}
	wantEnv := []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "x=y"}, {Name: "BUILD_LOGLEVEL", Value: "5"}}
	if !reflect.DeepEqual(req.Env, wantEnv) {
		t.Errorf("env = %+v", req.Env)
	}
	d := req.DockerStrategyOptions
	if d == nil || !reflect.DeepEqual(d.BuildArgs, []corev1.EnvVar{{Name: "V", Value: "2"}}) || d.NoCache == nil || !*d.NoCache {
		t.Errorf("docker options = %+v", d)
	}
	if req.Revision == nil || req.Revision.Git.Commit != "abc123" {
		t.Errorf("revision = %+v", req.Revision)
	}

	plain, _ := buildRequest(&startBuildOptions{FromBuild: "time-1"})
	if plain.Name != "time-1" || plain.DockerStrategyOptions != nil || plain.Revision != nil || plain.Env != nil {
		t.Errorf("plain request = %+v", plain)
	}
	if _, err := buildRequest(&startBuildOptions{BuildConfig: "x", Env: []string{"novalue"}}); err == nil {
		t.Error("-e without = accepted")
	}
}

func TestParseLogTarget(t *testing.T) {
	tests := []struct {
		arg  string
		want logTarget
		err  bool
	}{
		{"time-2-build", logTarget{"pod", "time-2-build"}, false},
		{"pod/x", logTarget{"pod", "x"}, false},
		{"bc/time", logTarget{"buildconfig", "time"}, false},
		{"buildconfig.build.openshift.io/time", logTarget{"buildconfig", "time"}, false},
		{"build/time-2", logTarget{"build", "time-2"}, false},
		{"builds/time-2", logTarget{"build", "time-2"}, false},
		{"dc/app", logTarget{"deploymentconfig", "app"}, false},
		{"rs/app", logTarget{}, true},
		{"bc/", logTarget{}, true},
	}
	for _, tt := range tests {
		got, err := parseLogTarget(tt.arg)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseLogTarget(%q) = %+v, %v", tt.arg, got, err)
		}
	}
}

func TestNewestBuild(t *testing.T) {
	b := func(name, number string, sec int64) buildv1.Build {
		return buildv1.Build{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{buildv1.BuildNumberAnnotation: number},
			CreationTimestamp: metav1.Unix(sec, 0)}}
	}
	items := []buildv1.Build{b("time-2", "2", 10), b("time-10", "10", 5), b("time-9", "9", 20)}
	if got := newestBuild(items); got.Name != "time-10" {
		t.Errorf("newest = %s", got.Name)
	}
	if newestBuild(nil) != nil {
		t.Error("newest of none")
	}
}

func TestSetBuildSecret(t *testing.T) {
	tests := []struct {
		o       buildSecretOptions
		args    []string
		name    string
		secret  string
		wantErr bool
	}{
		{buildSecretOptions{Push: true}, []string{"bc/time", "dockerhub"}, "time", "dockerhub", false},
		{buildSecretOptions{Pull: true}, []string{"buildconfig/time", "secret/pull"}, "time", "pull", false},
		{buildSecretOptions{Source: true, Remove: true}, []string{"bc/time"}, "time", "", false},
		{buildSecretOptions{Push: true, Pull: true}, []string{"bc/time", "s"}, "", "", true},
		{buildSecretOptions{}, []string{"bc/time", "s"}, "", "", true},
		{buildSecretOptions{Push: true}, []string{"dc/time", "s"}, "", "", true},
		{buildSecretOptions{Push: true}, []string{"bc/time"}, "", "", true},
	}
	for _, tt := range tests {
		name, secret, err := buildSecretArgs(&tt.o, tt.args)
		if (err != nil) != tt.wantErr || name != tt.name || secret != tt.secret {
			t.Errorf("buildSecretArgs(%+v, %v) = %q, %q, %v", tt.o, tt.args, name, secret, err)
		}
	}

	bc := &buildv1.BuildConfig{Spec: buildv1.BuildConfigSpec{CommonSpec: buildv1.CommonSpec{
		Strategy: buildv1.BuildStrategy{DockerStrategy: &buildv1.DockerBuildStrategy{}},
	}}}
	applyBuildSecret(bc, &buildSecretOptions{Push: true}, "dockerhub")
	applyBuildSecret(bc, &buildSecretOptions{Pull: true}, "pull")
	applyBuildSecret(bc, &buildSecretOptions{Source: true}, "git")
	if bc.Spec.Output.PushSecret.Name != "dockerhub" || bc.Spec.Strategy.DockerStrategy.PullSecret.Name != "pull" || bc.Spec.Source.SourceSecret.Name != "git" {
		t.Errorf("secrets not set: %+v", bc.Spec)
	}
	applyBuildSecret(bc, &buildSecretOptions{Push: true, Remove: true}, "")
	if bc.Spec.Output.PushSecret != nil {
		t.Error("push secret not removed")
	}
	if err := applyBuildSecret(&buildv1.BuildConfig{}, &buildSecretOptions{Pull: true}, "x"); err == nil {
		t.Error("pull secret on a config without strategy accepted")
	}
}
