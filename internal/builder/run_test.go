package builder

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	digest "github.com/opencontainers/go-digest"
	buildv1 "github.com/openshift/api/build/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/builder/build/buildtest"
	"github.com/slipway-dev/slipway/internal/builder/failure"
	"github.com/slipway-dev/slipway/internal/builder/pins"
	"github.com/slipway-dev/slipway/internal/builder/source"
)

func TestJobFromEnv(t *testing.T) {
	b := &buildv1.Build{ObjectMeta: metav1.ObjectMeta{Name: "time-2", Namespace: "veer"}}
	raw, _ := json.Marshal(b)
	saDir := t.TempDir()
	os.WriteFile(filepath.Join(saDir, "token"), []byte("tok"), 0o600)
	caPEM, _, _ := buildtest.Certificates(t)
	os.WriteFile(filepath.Join(saDir, "ca.crt"), caPEM, 0o600)
	env := map[string]string{
		EnvBuild:             string(raw),
		EnvWorkDir:           "/data/pods/veer/time-2-build/work",
		EnvBuildkitHost:      "unix:///data/buildkit/buildkitd.sock",
		EnvPushDockercfgPath: "/push",
		EnvPullDockercfgPath: "/pull",
		EnvSourceSecretPath:  "/source",
		EnvTerminationLog:    "/data/pods/veer/time-2-build/termination-log",
		EnvSourceCache:       "/data/builds/source-cache",
		EnvLocalGitRoot:      "/srv/git",
		EnvBuildLogLevel:     "5",
	}
	job, err := JobFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if job.Build.Name != "time-2" || job.WorkDir != env[EnvWorkDir] || job.BuildkitAddress != env[EnvBuildkitHost] ||
		job.PushSecretDir != "/push" || job.PullSecretDir != "/pull" || job.SourceSecretDir != "/source" ||
		job.TerminationLog != env[EnvTerminationLog] || job.Reporter != nil ||
		job.SourceCache != env[EnvSourceCache] || job.LogLevel != 5 || job.LocalGitRoot != "/srv/git" {
		t.Fatalf("job = %+v", job)
	}

	env[EnvServiceHost], env[EnvServicePort], env[EnvServiceAccountDir] = "127.0.0.1", "8443", saDir
	job, err = JobFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	r, ok := job.Reporter.(*APIReporter)
	if !ok || r.Namespace != "veer" || r.Name != "time-2" {
		t.Fatalf("reporter = %#v", job.Reporter)
	}

	env[EnvServiceAccountDir] = filepath.Join(saDir, "missing")
	if _, err := JobFromEnv(func(k string) string { return env[k] }); err == nil {
		t.Fatal("missing service account token: no error")
	}
	if _, err := JobFromEnv(func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "BUILD") {
		t.Fatalf("no BUILD: err = %v", err)
	}
	if _, err := JobFromEnv(func(k string) string { return map[string]string{EnvBuild: "{"}[k] }); err == nil {
		t.Fatal("bad BUILD JSON: no error")
	}
}

func TestPrintSteps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "Dockerfile")
	os.WriteFile(path, []byte("# comment\nFROM busybox\n\nRUN echo a && \\\n    echo b\nENV OPENSHIFT_BUILD_SOURCE=\"https://user:pw@example.com/r.git\"\n"), 0o644)
	var out bytes.Buffer
	printSteps(&out, filepath.Dir(path), "Dockerfile")
	want := "STEP 1/3: FROM busybox\nSTEP 2/3: RUN echo a && echo b\nSTEP 3/3: ENV OPENSHIFT_BUILD_SOURCE=\"https://example.com/r.git\"\n"
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestApplyDetails(t *testing.T) {
	b := &buildv1.Build{}
	info := &source.Info{Commit: "abc123", AuthorName: "A", AuthorEmail: "a@x", Message: "m"}
	applySuccess(b, &Outcome{Source: info, Digest: "sha256:1"}, nil)
	if b.Spec.Revision == nil || b.Spec.Revision.Git.Commit != "abc123" || b.Status.Output.To.ImageDigest != "sha256:1" || b.Status.Phase != "" {
		t.Fatalf("success details = %+v / %+v", b.Spec.Revision, b.Status)
	}
	f := failure.New(buildv1.StatusReasonPushImageToRegistryFailed, "Failed to push the image to the registry: unauthorized:\nauthentication required", nil)
	applyFailure(b, f, nil)
	if b.Status.Phase != buildv1.BuildPhaseFailed || b.Status.Reason != buildv1.StatusReasonPushImageToRegistryFailed ||
		b.Status.LogSnippet != "Failed to push the image to the registry: unauthorized: authentication required" {
		t.Fatalf("failure details = %+v", b.Status)
	}
}

// gitRepo makes a repository from the seed time-app with the git binary.
func gitRepo(t *testing.T) string {
	t.Helper()
	const seed = "/work/shared/fixtures/seed-walkthrough/time-app"
	if _, err := os.Stat(seed); err != nil {
		t.Skipf("seed fixture missing: %v", err)
	}
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-r", seed+"/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	exec.Command("chmod", "-R", "u+w", dir).Run()
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "."},
		{"-c", "user.name=Veer", "-c", "user.email=veer@example.com", "commit", "-q", "-m", "time app"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	return dir
}

func TestRunBuildsAndPushes(t *testing.T) {
	buildtest.RequireRoot(t)
	repo := gitRepo(t)
	reg := buildtest.StartRegistry(t, "veer", "s3cret")
	base := buildtest.PushBusybox(t, reg)
	daemon := buildtest.StartBuildkitd(t, reg)

	secretDir := func(password string) string {
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, ".dockerconfigjson"), reg.DockerConfig(password), 0o600)
		return d
	}
	newBuild := func(name string) *buildv1.Build {
		return &buildv1.Build{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "veer"},
			Spec: buildv1.BuildSpec{CommonSpec: buildv1.CommonSpec{
				Source: buildv1.BuildSource{Git: &buildv1.GitBuildSource{URI: repo}, ContextDir: "busybox"},
				Strategy: buildv1.BuildStrategy{Type: buildv1.DockerBuildStrategyType, DockerStrategy: &buildv1.DockerBuildStrategy{
					From: &corev1.ObjectReference{Kind: "DockerImage", Name: base},
					Env:  []corev1.EnvVar{{Name: "GREETING", Value: "hi"}},
				}},
				Output: buildv1.BuildOutput{To: &corev1.ObjectReference{Kind: "DockerImage", Name: reg.Host + "/veer/mytime:latest"}},
			}},
		}
	}
	run := func(t *testing.T, b *buildv1.Build, pushPassword string) (*Outcome, string, string, error) {
		t.Helper()
		var log bytes.Buffer
		term := filepath.Join(t.TempDir(), "termination-log")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := Run(ctx, Job{
			Build:           b,
			WorkDir:         t.TempDir(),
			LocalGitRoot:    filepath.Dir(repo),
			BuildkitAddress: daemon.Address(),
			PushSecretDir:   secretDir(pushPassword),
			PullSecretDir:   secretDir(reg.Password),
			TerminationLog:  term,
			Out:             &log,
		})
		msg, _ := os.ReadFile(term)
		return out, log.String(), string(msg), err
	}

	t.Run("success", func(t *testing.T) {
		out, log, term, err := run(t, newBuild("time-1"), reg.Password)
		if err != nil {
			t.Fatalf("Run: %v\n%s", err, log)
		}
		if term != "" {
			t.Errorf("termination log written on success: %q", term)
		}
		for _, want := range []string{"Cloning ", "STEP 1/", "FROM " + base, "Pushing image " + reg.Host + "/veer/mytime:latest", "Push successful"} {
			if !strings.Contains(log, want) {
				t.Errorf("log misses %q:\n%s", want, log)
			}
		}
		cf, err := reg.Image(t, reg.Host+"/veer/mytime@"+out.Digest).ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		env := strings.Join(cf.Config.Env, "\n")
		for _, want := range []string{"OPENSHIFT_BUILD_NAME=time-1", "OPENSHIFT_BUILD_NAMESPACE=veer", "OPENSHIFT_BUILD_COMMIT=" + out.Source.Commit, "GREETING=hi"} {
			if !strings.Contains(env, want) {
				t.Errorf("env misses %s: %v", want, cf.Config.Env)
			}
		}
		if cf.Config.Labels["io.openshift.build.commit.id"] != out.Source.Commit || cf.Config.Labels["io.openshift.build.source-context-dir"] != "busybox" {
			t.Errorf("labels = %v", cf.Config.Labels)
		}
		if _, ok := cf.Config.ExposedPorts["8080/tcp"]; !ok || strings.Join(cf.Config.Cmd, " ") != "./init.sh" {
			t.Errorf("ports %v cmd %q", cf.Config.ExposedPorts, cf.Config.Cmd)
		}
	})

	// OpenShift pulls a builder image only when it is not present (all of
	// them with forcePull): once a build of the project pulled
	// busybox:latest, the tag moving in the registry changes nothing for
	// the project's builds until one forces the pull; another project
	// pulls what the tag names now.
	t.Run("builder image pulled when not present", func(t *testing.T) {
		fromDigest := func(t *testing.T, log string) string {
			t.Helper()
			m := regexp.MustCompile(`\] FROM \S+@(sha256:[0-9a-f]{64})`).FindStringSubmatch(log)
			if m == nil {
				t.Fatalf("no FROM step with a digest in the log:\n%s", log)
			}
			return m[1]
		}
		build := func(t *testing.T, name, namespace string, forcePull bool) string {
			t.Helper()
			b := newBuild(name)
			b.Namespace = namespace
			b.Spec.Strategy.DockerStrategy.ForcePull = forcePull
			_, log, _, err := run(t, b, reg.Password)
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, log)
			}
			return log
		}
		// "success" pulled the tag for project veer.
		old, err := reg.Image(t, base).Digest()
		if err != nil {
			t.Fatal(err)
		}
		img := reg.Image(t, base)
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Config.Env = append(cfg.Config.Env, "BUSYBOX_VARIANT=2")
		variant, err := mutate.Config(img, cfg.Config)
		if err != nil {
			t.Fatal(err)
		}
		moved := reg.Push(t, "library/busybox:latest", variant)
		if moved == old.String() {
			t.Fatal("the tag did not move")
		}

		log := build(t, "time-4", "veer", false)
		if got := fromDigest(t, log); got != old.String() || !strings.Contains(log, "as pulled before on this node") {
			t.Fatalf("veer's next build used %s, want the image it pulled before (%s):\n%s", got, old, log)
		}
		log = build(t, "time-5", "veer", true)
		if got := fromDigest(t, log); got != moved || strings.Contains(log, "as pulled before") {
			t.Fatalf("the forcePull build used %s, want the tag's new image %s:\n%s", got, moved, log)
		}
		log = build(t, "time-6", "veer", false)
		if got := fromDigest(t, log); got != moved {
			t.Fatalf("after forcePull, veer's build used %s, want %s", got, moved)
		}
		log = build(t, "time-1", "another-project", false)
		if got := fromDigest(t, log); got != moved || strings.Contains(log, "as pulled before") {
			t.Fatalf("another project's first build used %s, want the tag's image %s:\n%s", got, moved, log)
		}

		// A pinned image gone from buildkitd and the registry: the build
		// resolves the tag again instead of failing.
		store := pins.Open(pins.Dir(daemon.Address()))
		gone := digest.FromString("deleted image")
		if err := store.Put("stale", base, gone); err != nil {
			t.Fatal(err)
		}
		log = build(t, "time-1", "stale", false)
		if got := fromDigest(t, log); got != moved || !strings.Contains(log, "is no longer available") {
			t.Fatalf("with a stale pin the build used %s, want %s after resolving again:\n%s", got, moved, log)
		}
		if got := store.Get("stale", base); got != digest.Digest(moved) {
			t.Fatalf("stale pin now %q, want %s", got, moved)
		}
	})

	t.Run("wrong push password", func(t *testing.T) {
		b := newBuild("time-2")
		b.Spec.Output.To.Name = reg.Host + "/veer/other:latest"
		_, log, term, err := run(t, b, "wrong-password")
		var f *failure.Failure
		if !errors.As(err, &f) || f.Reason != buildv1.StatusReasonPushImageToRegistryFailed {
			t.Fatalf("err = %v", err)
		}
		if !strings.Contains(term, "unauthorized") || strings.Count(strings.TrimSpace(term), "\n") != 0 {
			t.Fatalf("termination log = %q", term)
		}
		if strings.Contains(log, "wrong-password") {
			t.Fatalf("password in the log:\n%s", log)
		}
	})

	t.Run("missing context dir", func(t *testing.T) {
		b := newBuild("time-3")
		b.Spec.Source.ContextDir = "nope"
		_, _, term, err := run(t, b, reg.Password)
		if f := failure.As(err); f.Reason != buildv1.StatusReasonInvalidContextDirectory || term == "" {
			t.Fatalf("err = %v, termination log %q", err, term)
		}
	})
}
