package dockerfile

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	buildv1 "github.com/openshift/api/build/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/slipway-dev/slipway/internal/builder/failure"
	"github.com/slipway-dev/slipway/internal/builder/source"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestManage(t *testing.T) {
	inline := "FROM inline\nRUN true\n"
	cases := []struct {
		name     string
		files    map[string]string
		build    func(*buildv1.Build)
		wantFile string // path relative to the context dir that is edited
		wantHead string // the edited file's content before the appended lines
		untouch  map[string]string
		errHas   string
	}{
		{
			name:     "default Dockerfile",
			files:    map[string]string{"Dockerfile": "FROM a\n"},
			wantFile: "Dockerfile", wantHead: "FROM a\n",
		},
		{
			name:  "dockerfilePath in a subdirectory",
			files: map[string]string{"Dockerfile": "FROM root\n", "docker/prod/Dockerfile.prod": "FROM prod\n"},
			build: func(b *buildv1.Build) {
				b.Spec.Strategy.DockerStrategy.DockerfilePath = "docker/prod/../prod/Dockerfile.prod"
			},
			wantFile: "docker/prod/Dockerfile.prod", wantHead: "FROM prod\n",
			untouch: map[string]string{"Dockerfile": "FROM root\n"},
		},
		{
			name:     "inline Dockerfile overwrites the repository's",
			files:    map[string]string{"Dockerfile": "FROM repo\n"},
			build:    func(b *buildv1.Build) { b.Spec.Source.Dockerfile = &inline },
			wantFile: "Dockerfile", wantHead: inline,
		},
		{
			name: "inline Dockerfile, then from replaced",
			build: func(b *buildv1.Build) {
				b.Spec.Source.Dockerfile = &inline
				b.Spec.Strategy.DockerStrategy.From = &corev1.ObjectReference{Kind: "DockerImage", Name: "base:2"}
			},
			wantFile: "Dockerfile", wantHead: "FROM base:2\nRUN true\n",
		},
		{
			name:   "dockerfilePath outside the context",
			files:  map[string]string{"Dockerfile": "FROM a\n"},
			build:  func(b *buildv1.Build) { b.Spec.Strategy.DockerStrategy.DockerfilePath = "../Dockerfile" },
			errHas: "not inside the context directory",
		},
		{
			name:   "no Dockerfile",
			files:  map[string]string{"README": "x"},
			errHas: `no Dockerfile "Dockerfile"`,
		},
		{
			name:   "Dockerfile the parser cannot read",
			files:  map[string]string{"Dockerfile": "FROM a\nCOPY <<EOF /x\n"},
			errHas: "unterminated heredoc",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for p, c := range tc.files {
				write(t, filepath.Join(dir, p), c)
			}
			b := dockerBuild(tc.build)
			err := Manage(b, dir, nil)
			if tc.errHas != "" {
				var f *failure.Failure
				if !errors.As(err, &f) || f.Reason != buildv1.StatusReasonManageDockerfileFailed || f.Message != MessageManageDockerfileFailed {
					t.Fatalf("error %v, want a ManageDockerfileFailed failure", err)
				}
				if !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("error %v, want one containing %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("Manage: %v", err)
			}
			want := tc.wantHead + plainEnv + "\n" + plainLabels + "\n"
			if got := read(t, filepath.Join(dir, tc.wantFile)); got != want {
				t.Errorf("%s:\n%s\nwant:\n%s", tc.wantFile, got, want)
			}
			for p, c := range tc.untouch {
				if got := read(t, filepath.Join(dir, p)); got != c {
					t.Errorf("%s changed to %q", p, got)
				}
			}
		})
	}
}

func TestManageDockerfileSymlinkOutsideContext(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "outside"), "FROM secret\n")
	ctx := filepath.Join(root, "ctx")
	if err := os.MkdirAll(ctx, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../outside", filepath.Join(ctx, "Dockerfile")); err != nil {
		t.Fatal(err)
	}
	err := Manage(dockerBuild(nil), ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "outside the context directory") {
		t.Fatalf("error %v", err)
	}
	if got := read(t, filepath.Join(root, "outside")); got != "FROM secret\n" {
		t.Errorf("file outside the context was rewritten: %q", got)
	}
}

func TestManageOtherStrategiesOnlyGetTheInlineDockerfile(t *testing.T) {
	dir := t.TempDir()
	inline := "FROM x\n"
	b := dockerBuild(func(b *buildv1.Build) {
		b.Spec.Strategy = buildv1.BuildStrategy{Type: buildv1.SourceBuildStrategyType, SourceStrategy: &buildv1.SourceBuildStrategy{}}
		b.Spec.Source.Dockerfile = &inline
	})
	if err := Manage(b, dir, nil); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(dir, "Dockerfile")); got != inline {
		t.Errorf("Dockerfile %q, want it unedited", got)
	}
}

// TestSeedTimeAppEndToEnd makes the walkthrough's time-app a git
// repository, fetches it as the walkthrough's BuildConfig does (ref main,
// context dir busybox) and manages its Dockerfile: the result carries the
// walkthrough's ENV and LABEL lines.
func TestSeedTimeAppEndToEnd(t *testing.T) {
	fixture := "/work/shared/fixtures/seed-walkthrough/time-app"
	if _, err := os.Stat(fixture); err != nil {
		t.Skipf("seed fixture not available: %v", err)
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	repo := filepath.Join(t.TempDir(), "time")
	if out, err := exec.Command("cp", "-r", fixture, repo).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	gitEnv := append(os.Environ(), "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=VeerMuchandi", "GIT_AUTHOR_EMAIL=veer.muchandi@gmail.com",
		"GIT_COMMITTER_NAME=VeerMuchandi", "GIT_COMMITTER_EMAIL=veer.muchandi@gmail.com",
		"GIT_AUTHOR_DATE=2016-08-16T20:28:41-0400", "GIT_COMMITTER_DATE=2016-08-16T20:28:41-0400")
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"commit", "-q", "-m", "fixed init.sh"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = repo, gitEnv
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	uri := "file://" + repo
	b := dockerBuild(func(b *buildv1.Build) {
		b.Spec.Source = buildv1.BuildSource{Type: buildv1.BuildSourceGit, Git: &buildv1.GitBuildSource{URI: uri, Ref: "main"}, ContextDir: "busybox"}
		b.Spec.Strategy.DockerStrategy.From = &corev1.ObjectReference{Kind: "DockerImage", Name: "127.0.0.1:5443/library/busybox:latest"}
	})

	work := filepath.Join(t.TempDir(), "work")
	info, err := source.Fetch(context.Background(), b, work, "", nil, source.WithLocalGitRoot(os.TempDir()))
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if err := Manage(b, info.Dir, info); err != nil {
		t.Fatalf("Manage: %v", err)
	}
	got := read(t, filepath.Join(work, "busybox", "Dockerfile"))
	want := "FROM 127.0.0.1:5443/library/busybox:latest\n" +
		"ADD ./init.sh ./\nEXPOSE 8080\nCMD [\"./init.sh\"]\n" +
		`ENV "OPENSHIFT_BUILD_NAME"="time-2" "OPENSHIFT_BUILD_NAMESPACE"="ext-image-push" "OPENSHIFT_BUILD_SOURCE"="` + uri + `" "OPENSHIFT_BUILD_REFERENCE"="main" "OPENSHIFT_BUILD_COMMIT"="` + info.Commit + `"` + "\n" +
		`LABEL "io.openshift.build.commit.author"="VeerMuchandi <veer.muchandi@gmail.com>" "io.openshift.build.commit.date"="Tue Aug 16 20:28:41 2016 -0400" "io.openshift.build.commit.id"="` + info.Commit + `" "io.openshift.build.commit.message"="fixed init.sh" "io.openshift.build.commit.ref"="main" "io.openshift.build.name"="time-2" "io.openshift.build.namespace"="ext-image-push" "io.openshift.build.source-context-dir"="busybox" "io.openshift.build.source-location"="` + uri + `"` + "\n"
	if got != want {
		t.Errorf("Dockerfile:\n%s\nwant:\n%s", got, want)
	}
	if len(info.Commit) != 40 {
		t.Errorf("commit %q", info.Commit)
	}
}

// TestInlineDockerfileOverASymlinkOut: a repository whose Dockerfile is a
// link to a host path, built with an inline dockerfile, must not get the
// host file written (issue 12: a link to /etc/cron.d/x wrote a cron job).
func TestInlineDockerfileOverASymlinkOut(t *testing.T) {
	for _, link := range []string{"absolute", "relative", "dangling"} {
		t.Run(link, func(t *testing.T) {
			host := t.TempDir()
			target := filepath.Join(host, "x")
			if link != "dangling" {
				write(t, target, "host file\n")
			}
			work := filepath.Join(t.TempDir(), "work")
			ctx := filepath.Join(work, "ctx")
			if err := os.MkdirAll(ctx, 0o755); err != nil {
				t.Fatal(err)
			}
			to := target
			if link == "relative" {
				rel, err := filepath.Rel(ctx, target)
				if err != nil {
					t.Fatal(err)
				}
				to = rel
			}
			if err := os.Symlink(to, filepath.Join(ctx, "Dockerfile")); err != nil {
				t.Fatal(err)
			}
			inline := "FROM busybox\nRUN true\n"
			b := dockerBuild(func(b *buildv1.Build) { b.Spec.Source.Dockerfile = &inline })
			err := Manage(b, ctx, nil)
			got, rerr := os.ReadFile(target)
			switch {
			case link == "dangling" && rerr == nil:
				t.Fatalf("the link's target was created: %q (Manage: %v)", got, err)
			case link != "dangling" && string(got) != "host file\n":
				t.Fatalf("the link's target was rewritten: %q (Manage: %v)", got, err)
			}
			if err != nil {
				t.Fatalf("Manage: %v", err)
			}
			// The inline Dockerfile replaces the link.
			if fi, err := os.Lstat(filepath.Join(ctx, "Dockerfile")); err != nil || !fi.Mode().IsRegular() {
				t.Fatalf("Dockerfile is not a regular file: %v %v", fi, err)
			}
			if got := read(t, filepath.Join(ctx, "Dockerfile")); !strings.HasPrefix(got, inline) {
				t.Errorf("Dockerfile %q", got)
			}
		})
	}
}
