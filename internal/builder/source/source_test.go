package source

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	buildv1 "github.com/openshift/api/build/v1"

	"github.com/slipway-dev/slipway/internal/builder/failure"
)

func gitBuild(uri, ref, commit, contextDir string) *buildv1.Build {
	b := &buildv1.Build{}
	b.Name, b.Namespace = "app-1", "demo"
	b.Spec.Source = buildv1.BuildSource{
		Type:       buildv1.BuildSourceGit,
		Git:        &buildv1.GitBuildSource{URI: uri, Ref: ref},
		ContextDir: contextDir,
	}
	if commit != "" {
		b.Spec.Revision = &buildv1.SourceRevision{Git: &buildv1.GitSourceRevision{Commit: commit}}
	}
	return b
}

func isShallow(t *testing.T, dir string) bool {
	t.Helper()
	return strings.TrimSpace(runGit(t, dir, "rev-parse", "--is-shallow-repository")) == "true"
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestFetchFileURL(t *testing.T) {
	r := makeTestRepos(t)
	cases := []struct {
		name, ref, commit, contextDir string
		wantCommit, wantRef           string
		wantShallow, wantSubmodule    bool
		wantFile                      string
	}{
		// A local repository is cloned from its path, with hard links: no
		// shallow history (git ignores --depth there), submodules still.
		{name: "default branch", wantCommit: r.second, wantRef: "main", wantSubmodule: true, wantFile: "app.txt"},
		{name: "branch ref", ref: "main", wantCommit: r.second, wantRef: "main", wantSubmodule: true},
		{name: "other branch", ref: "feature", wantCommit: r.featureID, wantRef: "feature", wantFile: "feature.txt"},
		{name: "tag", ref: "v1", wantCommit: r.first, wantRef: "v1"},
		{name: "commit wins over ref", ref: "main", commit: r.first, wantCommit: r.first, wantRef: "main"},
		{name: "commit alone", commit: r.second, wantCommit: r.second, wantRef: "HEAD", wantSubmodule: true},
		{name: "context dir", ref: "main", contextDir: "sub/", wantCommit: r.second, wantRef: "main", wantSubmodule: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			work := filepath.Join(t.TempDir(), "work")
			var log bytes.Buffer
			info, err := Fetch(context.Background(), gitBuild(r.fileURL("app.git"), tc.ref, tc.commit, tc.contextDir), work, "", &log, localOK)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if info.Commit != tc.wantCommit {
				t.Errorf("commit %s, want %s", info.Commit, tc.wantCommit)
			}
			if head := strings.TrimSpace(runGit(t, work, "rev-parse", "HEAD")); head != tc.wantCommit {
				t.Errorf("checked out %s, want %s", head, tc.wantCommit)
			}
			if info.Ref != tc.wantRef {
				t.Errorf("ref %q, want %q", info.Ref, tc.wantRef)
			}
			if got := isShallow(t, work); got != tc.wantShallow {
				t.Errorf("shallow %v, want %v", got, tc.wantShallow)
			}
			if got := exists(filepath.Join(work, "lib", "lib.txt")); got != tc.wantSubmodule {
				t.Errorf("submodule checked out %v, want %v", got, tc.wantSubmodule)
			}
			if tc.wantFile != "" && !exists(filepath.Join(work, tc.wantFile)) {
				t.Errorf("%s missing", tc.wantFile)
			}
			if info.Author != testAuthor+" <"+testEmail+">" || info.Committer != "C O Mitter <committer@example.com>" {
				t.Errorf("author %q committer %q", info.Author, info.Committer)
			}
			if info.Date != "Tue Aug 16 20:28:41 2016 -0400" {
				t.Errorf("date %q", info.Date)
			}
			if info.Location != r.fileURL("app.git") {
				t.Errorf("location %q", info.Location)
			}
			wantDir := filepath.Join(work, strings.TrimSuffix(tc.contextDir, "/"))
			if info.Dir != wantDir || info.ContextDir != strings.TrimSuffix(tc.contextDir, "/") {
				t.Errorf("dir %q contextDir %q, want %q", info.Dir, info.ContextDir, wantDir)
			}
			if !strings.Contains(log.String(), "Cloning \""+r.fileURL("app.git")+"\" ...") || !strings.Contains(log.String(), info.Commit) {
				t.Errorf("log does not show the clone:\n%s", log.String())
			}
			rev := info.SourceRevision()
			if rev == nil || rev.Git.Commit != tc.wantCommit || rev.Git.Author.Email != testEmail {
				t.Errorf("SourceRevision %+v", rev)
			}
		})
	}
}

func TestFetchMessages(t *testing.T) {
	r := makeTestRepos(t)
	info, err := Fetch(context.Background(), gitBuild(r.fileURL("app.git"), "", "", ""), t.TempDir(), "", nil, localOK)
	if err != nil {
		t.Fatal(err)
	}
	if info.Message != "second commit" {
		t.Errorf("message %q", info.Message)
	}
}

func wantFailure(t *testing.T, err error, reason buildv1.StatusReason, message string) *failure.Failure {
	t.Helper()
	var f *failure.Failure
	if !errors.As(err, &f) {
		t.Fatalf("error %v is not a build failure", err)
	}
	if f.Reason != reason || f.Message != message {
		t.Fatalf("failure %s %q, want %s %q (%v)", f.Reason, f.Message, reason, message, f.Err)
	}
	return f
}

func TestFetchFailures(t *testing.T) {
	r := makeTestRepos(t)
	cases := []struct {
		name       string
		build      *buildv1.Build
		reason     buildv1.StatusReason
		message    string
		errContain string
	}{
		{"missing context dir", gitBuild(r.fileURL("app.git"), "", "", "nope"), buildv1.StatusReasonInvalidContextDirectory, MessageInvalidContextDirectory, `"nope" not found`},
		{"context dir is a file", gitBuild(r.fileURL("app.git"), "", "", "app.txt"), buildv1.StatusReasonInvalidContextDirectory, MessageInvalidContextDirectory, "not a directory"},
		{"context dir leaves the tree", gitBuild(r.fileURL("app.git"), "", "", "../etc"), buildv1.StatusReasonInvalidContextDirectory, MessageInvalidContextDirectory, "leaves the source tree"},
		{"no such repository", gitBuild(r.fileURL("missing.git"), "", "", ""), buildv1.StatusReasonFetchSourceFailed, MessageFetchSourceFailed, "does not exist"},
		{"no such ref", gitBuild(r.fileURL("app.git"), "nosuchbranch", "", ""), buildv1.StatusReasonFetchSourceFailed, MessageFetchSourceFailed, "nosuchbranch"},
		{"unknown host", gitBuild("http://nosuchhost.invalid/app.git", "", "", ""), buildv1.StatusReasonFetchSourceFailed, MessageFetchSourceFailed, "nosuchhost.invalid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Fetch(context.Background(), tc.build, t.TempDir(), "", nil, localOK)
			f := wantFailure(t, err, tc.reason, tc.message)
			if !strings.Contains(f.Error(), tc.errContain) {
				t.Errorf("error %q does not contain %q", f.Error(), tc.errContain)
			}
		})
	}
}

func TestFetchRefusesNonEmptyWorkDir(t *testing.T) {
	r := makeTestRepos(t)
	work := t.TempDir()
	writeFile(t, filepath.Join(work, "stale"), "x")
	_, err := Fetch(context.Background(), gitBuild(r.fileURL("app.git"), "", "", ""), work, "", nil, localOK)
	f := wantFailure(t, err, buildv1.StatusReasonFetchSourceFailed, MessageFetchSourceFailed)
	if !strings.Contains(f.Error(), "not empty") {
		t.Errorf("error %v", f)
	}
}

func TestFetchUnreachableServerFailsFast(t *testing.T) {
	r := makeTestRepos(t)
	_ = r
	cases := []struct {
		name string
		uri  func(t *testing.T) string
	}{
		{"closed port", func(t *testing.T) string { return "http://" + closedPort(t) + "/app.git" }},
		{"server that never answers", silentServer},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := Fetch(context.Background(), gitBuild(tc.uri(t), "", "", ""), t.TempDir(), "", nil, WithConnectTimeout(2*time.Second))
			wantFailure(t, err, buildv1.StatusReasonFetchSourceFailed, MessageFetchSourceFailed)
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %s to fail", d)
			}
		})
	}
}

func TestFetchCancelledContext(t *testing.T) {
	r := makeTestRepos(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Fetch(ctx, gitBuild(r.fileURL("app.git"), "", "", ""), t.TempDir(), "", nil, localOK)
	wantFailure(t, err, buildv1.StatusReasonFetchSourceFailed, MessageFetchSourceFailed)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not say the context was cancelled", err)
	}
}

func writeSecret(t *testing.T, keys map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for k, v := range keys {
		if err := os.WriteFile(filepath.Join(dir, k), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFetchHTTPBasicAuth(t *testing.T) {
	r := makeTestRepos(t)
	const user, password = "developer", "s3cr3t-Pa55"
	base, rejected := r.serveHTTP(t, user, password)
	uri := base + "/app.git"

	cases := []struct {
		name     string
		secret   map[string]string
		ref      string
		wantOK   bool
		noSecret bool
	}{
		{name: "no source secret", noSecret: true},
		{name: "wrong password", secret: map[string]string{"username": user, "password": "wrong-" + password}},
		{name: "right credentials, shallow with submodule", secret: map[string]string{"username": user, "password": password + "\n"}, wantOK: true},
		{name: "right credentials, by ref", secret: map[string]string{"username": user, "password": password}, ref: "v1", wantOK: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			secretDir := ""
			if !tc.noSecret {
				secretDir = writeSecret(t, tc.secret)
			}
			before := rejected.Load()
			work := filepath.Join(t.TempDir(), "w")
			var log bytes.Buffer
			info, err := Fetch(context.Background(), gitBuild(uri, tc.ref, "", ""), work, secretDir, &log)
			for _, s := range []string{log.String(), errString(err)} {
				if strings.Contains(s, password) {
					t.Fatalf("password leaked: %s", s)
				}
			}
			if !tc.wantOK {
				f := wantFailure(t, err, buildv1.StatusReasonFetchSourceFailed, MessageFetchSourceFailed)
				if !strings.Contains(f.Error(), "Authentication failed") && !strings.Contains(f.Error(), "could not read Username") {
					t.Errorf("error does not say why: %v", f)
				}
				if rejected.Load() == before {
					t.Errorf("server rejected nothing")
				}
				return
			}
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if tc.ref == "" && (info.Commit != r.second || !exists(filepath.Join(work, "lib", "lib.txt")) || !isShallow(t, work)) {
				t.Errorf("commit %s, submodule present %v, shallow %v", info.Commit, exists(filepath.Join(work, "lib", "lib.txt")), isShallow(t, work))
			}
			if tc.ref == "v1" && info.Commit != r.first {
				t.Errorf("commit %s, want %s", info.Commit, r.first)
			}
			// The clone must not remember the credentials anywhere.
			cfg, _ := os.ReadFile(filepath.Join(work, ".git", "config"))
			if bytes.Contains(cfg, []byte(password)) {
				t.Errorf(".git/config holds the password")
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestFetchCredentialsInURLAreScrubbed(t *testing.T) {
	r := makeTestRepos(t)
	base, _ := r.serveHTTP(t, "u", "pw-in-url")
	uri := strings.Replace(base, "http://", "http://u:pw-in-url@", 1) + "/missing.git"
	var log bytes.Buffer
	_, err := Fetch(context.Background(), gitBuild(uri, "", "", ""), t.TempDir(), "", &log)
	wantFailure(t, err, buildv1.StatusReasonFetchSourceFailed, MessageFetchSourceFailed)
	for _, s := range []string{log.String(), err.Error()} {
		if strings.Contains(s, "pw-in-url") {
			t.Errorf("credentials leaked: %s", s)
		}
	}
	if !strings.Contains(log.String(), "http://redacted@") {
		t.Errorf("log %q", log.String())
	}
}

func TestFetchThroughHTTPProxy(t *testing.T) {
	r := makeTestRepos(t)
	base, _ := r.serveHTTP(t, "", "")
	var proxied atomic.Int32
	// A forward proxy: requests arrive with absolute URLs and are sent on.
	proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		proxied.Add(1)
		pr.Out.URL = pr.In.URL
	}})
	t.Cleanup(proxy.Close)

	b := gitBuild(base+"/app.git", "", "", "")
	b.Spec.Source.Git.HTTPProxy = &proxy.URL
	if _, err := Fetch(context.Background(), b, t.TempDir(), "", nil); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if proxied.Load() == 0 {
		t.Fatalf("git did not use spec.source.git.httpProxy")
	}

	// noProxy exempts the host.
	proxied.Store(0)
	noProxy := "127.0.0.1"
	b.Spec.Source.Git.NoProxy = &noProxy
	if _, err := Fetch(context.Background(), b, t.TempDir(), "", nil); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if n := proxied.Load(); n != 0 {
		t.Errorf("%d requests went through the proxy despite noProxy", n)
	}
}

func TestFetchInlineDockerfileWithoutGit(t *testing.T) {
	df := "FROM busybox\nRUN true\n"
	b := &buildv1.Build{}
	b.Spec.Source = buildv1.BuildSource{Type: buildv1.BuildSourceDockerfile, Dockerfile: &df}
	work := filepath.Join(t.TempDir(), "work")
	info, err := Fetch(context.Background(), b, work, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(work)
	got, _ := os.ReadFile(filepath.Join(work, "Dockerfile"))
	if len(entries) != 1 || string(got) != df || info.Dir != work || info.Commit != "" || info.SourceRevision() != nil {
		t.Errorf("work dir has %d entries, Dockerfile %q, info %+v", len(entries), got, info)
	}
}

func TestFetchLocalPathKeepsFileSubmodulesOnlyForLocalSources(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	local, err := newGit(&buildv1.GitBuildSource{URI: "file:///srv/app.git"}, "", io.Discard, options{connectTimeout: time.Second, lowSpeedTime: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	remote, err := newGit(&buildv1.GitBuildSource{URI: "https://example.com/app.git"}, "", io.Discard, options{connectTimeout: time.Second, lowSpeedTime: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	has := func(g *git) bool {
		for _, kv := range g.env {
			if strings.HasSuffix(kv, "=protocol.file.allow") {
				return true
			}
		}
		return false
	}
	if !has(local) || has(remote) {
		t.Errorf("protocol.file.allow: local %v remote %v", has(local), has(remote))
	}
}

func TestScrubURLs(t *testing.T) {
	cases := map[string]string{
		"fatal: unable to access 'https://user:pw@host/x.git/': 403": "fatal: unable to access 'https://redacted@host/x.git/': 403",
		"http://token@host/x":  "http://redacted@host/x",
		"ssh://git@host/x.git": "ssh://redacted@host/x.git",
		"no url here":          "no url here",
		"http://host/a@b":      "http://host/a@b",
	}
	for in, want := range cases {
		if got := scrubURLs(in); got != want {
			t.Errorf("scrubURLs(%q) = %q, want %q", in, got, want)
		}
	}
}
