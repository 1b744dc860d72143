package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	buildv1 "github.com/openshift/api/build/v1"
	corev1 "k8s.io/api/core/v1"
)

// TestBinaryBuild runs `start-build --from-dir --follow` on a BuildConfig
// with a binary source: the directory is uploaded through
// instantiatebinary into the build pod's stdin, built and pushed to the
// "Docker Hub".
func TestBinaryBuild(t *testing.T) {
	b := startBuildServer(t)
	c := b.c
	ctx := context.Background()
	ns := "binary"
	b.newProject(t, ns)

	dir := filepath.Join(t.TempDir(), "busybox")
	if out, err := exec.Command("cp", "-r", filepath.Join(fixturesDir(t), "time-app", "busybox"), dir).CombinedOutput(); err != nil {
		t.Fatalf("copying time-app/busybox: %v\n%s", err, out)
	}
	// --exclude's default leaves .git out: a .git that would break the
	// build if it arrived must not.
	if err := os.MkdirAll(filepath.Join(dir, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, ".git", "HEAD"), "ref: refs/heads/main\n")

	bc := dockerBC("time", "", "", "", b.busybox, &corev1.ObjectReference{Kind: "DockerImage", Name: b.hub.Host + "/veer/bintime:latest"}, "dockerhub")
	bc.Spec.Source = buildv1.BuildSource{Type: buildv1.BuildSourceBinary, Binary: &buildv1.BinaryBuildSource{}}
	bc.Spec.Triggers = nil
	if _, err := b.builds.BuildV1().BuildConfigs(ns).Create(ctx, bc, createOpts); err != nil {
		t.Fatal(err)
	}

	out := c.run("start-build", "time", "--from-dir", dir, "--follow")
	if !strings.Contains(out, "build.build.openshift.io/time-1 started") {
		t.Errorf("start-build output lacks the started line:\n%s", out)
	}
	got := b.waitBuild(t, ns, "time-1", 3*time.Minute)
	if got.Status.Phase != buildv1.BuildPhaseComplete {
		t.Fatalf("time-1: %s (%s: %s)\n%s\n%s", got.Status.Phase, got.Status.Reason, got.Status.Message, out, b.buildLog(ns, "time-1"))
	}
	if got.Spec.Source.Binary == nil || got.Spec.Source.Type != buildv1.BuildSourceBinary {
		t.Errorf("time-1 source %+v, want Binary", got.Spec.Source)
	}
	digest := got.Status.Output.To.ImageDigest
	if digest == "" {
		t.Fatalf("time-1 has no output digest")
	}
	img := b.hub.Image(t, b.hub.Host+"/veer/bintime@"+digest)
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Config.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("ExposedPorts = %v, want 8080/tcp", cfg.Config.ExposedPorts)
	}
	if strings.Join(cfg.Config.Cmd, " ") != "./init.sh" {
		t.Errorf("Cmd = %q, want [./init.sh]", cfg.Config.Cmd)
	}
	env := map[string]string{}
	for _, kv := range cfg.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	if env["OPENSHIFT_BUILD_NAME"] != "time-1" || env["OPENSHIFT_BUILD_NAMESPACE"] != ns {
		t.Errorf("image env %v lacks OPENSHIFT_BUILD_NAME=time-1 / OPENSHIFT_BUILD_NAMESPACE=%s", cfg.Config.Env, ns)
	}
	if cfg.Config.Labels["io.openshift.build.name"] != "time-1" {
		t.Errorf("image labels %v lack io.openshift.build.name=time-1", cfg.Config.Labels)
	}
	if !strings.Contains(out, "Receiving source from STDIN as archive") {
		t.Errorf("--follow did not show the build log:\n%s", out)
	}

	// --from-repo: the commit of a local repository, as a tar, with its
	// metadata as the build's revision; the context dir applies inside it.
	uri, commit := gitRepo(t)
	repoBC := dockerBC("repo", "", "busybox", "", b.busybox, nil, "")
	repoBC.Spec.Source.Type, repoBC.Spec.Source.Binary = buildv1.BuildSourceBinary, &buildv1.BinaryBuildSource{}
	repoBC.Spec.Triggers = nil
	if _, err := b.builds.BuildV1().BuildConfigs(ns).Create(ctx, repoBC, createOpts); err != nil {
		t.Fatal(err)
	}
	out = c.run("start-build", "repo", "--from-repo", strings.TrimPrefix(uri, "file://"), "--wait")
	if !strings.Contains(out, "build.build.openshift.io/repo-1 started") {
		t.Errorf("start-build --from-repo:\n%s", out)
	}
	got = b.waitBuild(t, ns, "repo-1", time.Minute)
	if got.Status.Phase != buildv1.BuildPhaseComplete {
		t.Fatalf("repo-1: %s (%s: %s)\n%s", got.Status.Phase, got.Status.Reason, got.Status.Message, b.buildLog(ns, "repo-1"))
	}
	if r := got.Spec.Revision; r == nil || r.Git == nil || r.Git.Commit != commit || r.Git.Author.Name != "Veer Muchandi" || r.Git.Message != "The time app" {
		t.Errorf("repo-1 revision %+v, want commit %s by Veer Muchandi", r, commit)
	}

	// --from-file: one file, named as the file (here the Dockerfile).
	dockerfile := filepath.Join(t.TempDir(), "Dockerfile")
	writeFile(t, dockerfile, "FROM busybox\nLABEL from-file=yes\n")
	fileBC := dockerBC("file", "", "", "", b.busybox, nil, "")
	fileBC.Spec.Source.Type, fileBC.Spec.Source.Binary = buildv1.BuildSourceBinary, &buildv1.BinaryBuildSource{}
	fileBC.Spec.Triggers = nil
	if _, err := b.builds.BuildV1().BuildConfigs(ns).Create(ctx, fileBC, createOpts); err != nil {
		t.Fatal(err)
	}
	c.run("start-build", "file", "--from-file", dockerfile, "--wait")
	got = b.waitBuild(t, ns, "file-1", time.Minute)
	if got.Status.Phase != buildv1.BuildPhaseComplete || got.Spec.Source.Binary == nil || got.Spec.Source.Binary.AsFile != "Dockerfile" {
		t.Fatalf("file-1: %s (%s: %s), source %+v\n%s", got.Status.Phase, got.Status.Reason, got.Status.Message, got.Spec.Source, b.buildLog(ns, "file-1"))
	}

	// A build that fails before its pod runs answers 400 with its message.
	ghost := dockerBC("ghost", "", "", "", b.busybox, &corev1.ObjectReference{Kind: "DockerImage", Name: b.hub.Host + "/veer/ghost:latest"}, "ghost")
	ghost.Spec.Source.Type, ghost.Spec.Source.Binary = buildv1.BuildSourceBinary, &buildv1.BinaryBuildSource{}
	ghost.Spec.Triggers = nil
	if _, err := b.builds.BuildV1().BuildConfigs(ns).Create(ctx, ghost, createOpts); err != nil {
		t.Fatal(err)
	}
	if errOut := c.fail("start-build", "ghost", "--from-file", dockerfile); !strings.Contains(errOut, "ghost") || !strings.Contains(errOut, "did not start") {
		t.Errorf("start-build of a build that cannot start: %s", errOut)
	}
	if got := b.waitBuild(t, ns, "ghost-1", time.Minute); got.Status.Reason != buildv1.StatusReasonMissingPushSecret {
		t.Errorf("ghost-1 is %s (%s), want MissingPushSecret", got.Status.Phase, got.Status.Reason)
	}
}
