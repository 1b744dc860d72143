package source

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	buildv1 "github.com/openshift/api/build/v1"
	"golang.org/x/sys/unix"

	"github.com/slipway-dev/slipway/internal/builder/failure"
	"github.com/slipway-dev/slipway/internal/flock"
)

// cacheRepo is a real repository without submodules: a working clone
// whose commits are pushed to a bare "app.git" that builds clone. Its
// tree has an executable, a symlink and a subdirectory.
type cacheRepo struct {
	root, work, bare string
}

func makeCacheRepo(t testing.TB) *cacheRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git binary not installed (hack/install-deps.sh installs it)")
	}
	root := t.TempDir()
	r := &cacheRepo{root: root, work: filepath.Join(root, "work"), bare: filepath.Join(root, "app.git")}
	runGit(t, "", "init", "-q", "-b", "main", r.work)
	writeFile(t, filepath.Join(r.work, "Dockerfile"), "FROM busybox\nCOPY . /app\n")
	writeFile(t, filepath.Join(r.work, "sub", "data.txt"), "data\n")
	writeFile(t, filepath.Join(r.work, "run.sh"), "#!/bin/sh\necho hi\n")
	if err := os.Chmod(filepath.Join(r.work, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("run.sh", filepath.Join(r.work, "link")); err != nil {
		t.Fatal(err)
	}
	runGit(t, r.work, "add", ".")
	runGit(t, r.work, "commit", "-q", "-m", "first")
	runGit(t, r.work, "tag", "-a", "-m", "release 2", "v2")
	runGit(t, "", "clone", "-q", "--bare", r.work, r.bare)
	runGit(t, r.work, "remote", "add", "origin", r.bare)
	return r
}

// commit adds a commit to main, pushes it and returns its id.
func (r *cacheRepo) commit(t testing.TB, msg string) string {
	t.Helper()
	writeFile(t, filepath.Join(r.work, "change.txt"), msg+"\n")
	runGit(t, r.work, "add", ".")
	runGit(t, r.work, "commit", "-q", "-m", msg)
	runGit(t, r.work, "push", "-q", "origin", "HEAD:main")
	return r.head(t)
}

func (r *cacheRepo) head(t testing.TB) string {
	t.Helper()
	return strings.TrimSpace(runGit(t, r.work, "rev-parse", "HEAD"))
}

func (r *cacheRepo) uri() string { return "file://" + r.bare }

// fetched is one Fetch with a cache.
type fetched struct {
	info *Info
	work string
	log  string
	err  error
}

func (f fetched) hit() bool { return strings.Contains(f.log, "Using the cached checkout of ") }

func fetchCached(t testing.TB, cacheDir string, b *buildv1.Build, secretDir string) fetched {
	t.Helper()
	work := filepath.Join(t.TempDir(), "work")
	var log bytes.Buffer
	info, err := Fetch(context.Background(), b, work, secretDir, &log, WithCache(cacheDir), localOK)
	return fetched{info: info, work: work, log: log.String(), err: err}
}

func mustFetchCached(t testing.TB, cacheDir string, b *buildv1.Build) fetched {
	t.Helper()
	f := fetchCached(t, cacheDir, b, "")
	if f.err != nil {
		t.Fatalf("Fetch: %v\n%s", f.err, f.log)
	}
	return f
}

// tree describes every file under dir: its mode and its content or link
// target.
func tree(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			out[rel] = "link " + link
			return err
		case d.Type().IsRegular():
			data, err := os.ReadFile(path)
			out[rel] = fmt.Sprintf("%v %q", fi.Mode(), data)
			return err
		default:
			out[rel] = fi.Mode().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffTrees(a, b map[string]string) []string {
	var diff []string
	for k, v := range a {
		if b[k] != v {
			diff = append(diff, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			diff = append(diff, k)
		}
	}
	sort.Strings(diff)
	return diff
}

// withoutDir is info without its work-directory-specific path.
func withoutDir(info *Info) Info {
	i := *info
	i.Dir = ""
	return i
}

// cacheEntries lists the entries stored for b's namespace and repository.
func cacheEntries(t testing.TB, cacheDir string, b *buildv1.Build) []string {
	t.Helper()
	entries, err := os.ReadDir(openCache(cacheDir, b.Namespace, b.Spec.Source.Git.URI).dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestCacheSecondBuildOfARefHits(t *testing.T) {
	r := makeCacheRepo(t)
	cacheDir := t.TempDir()
	b := gitBuild(r.uri(), "main", "", "")

	first := mustFetchCached(t, cacheDir, b)
	if first.hit() || !strings.Contains(first.log, "Cloning ") {
		t.Fatalf("first build used the cache:\n%s", first.log)
	}
	if got := cacheEntries(t, cacheDir, b); len(got) != 1 || got[0] != first.info.Commit {
		t.Fatalf("cache holds %v, want [%s]", got, first.info.Commit)
	}
	// The builder edits the Dockerfile in place: the cache must not see it.
	writeFile(t, filepath.Join(first.work, "Dockerfile"), "FROM edited\n")

	second := mustFetchCached(t, cacheDir, b)
	wantLog := fmt.Sprintf("Using the cached checkout of %s from %q\n\tCommit:\t%s (first)\n", first.info.Commit, r.uri(), first.info.Commit)
	if !strings.HasPrefix(second.log, wantLog) || strings.Contains(second.log, "Cloning") {
		t.Fatalf("log %q, want it to start with %q", second.log, wantLog)
	}
	if withoutDir(second.info) != withoutDir(first.info) || second.info.Dir != second.work {
		t.Errorf("info %+v, want %+v", *second.info, *first.info)
	}
	// The tree, .git included, is the first clone's as it was made.
	writeFile(t, filepath.Join(first.work, "Dockerfile"), "FROM busybox\nCOPY . /app\n")
	if d := diffTrees(tree(t, first.work), tree(t, second.work)); len(d) > 0 {
		t.Errorf("trees differ in %v", d)
	}
	if out := runGit(t, second.work, "status", "--porcelain"); out != "" {
		t.Errorf("git status in the restored tree: %s", out)
	}

	writeFile(t, filepath.Join(second.work, "Dockerfile"), "FROM edited\n")
	third := mustFetchCached(t, cacheDir, b)
	if data, _ := os.ReadFile(filepath.Join(third.work, "Dockerfile")); !third.hit() || string(data) != "FROM busybox\nCOPY . /app\n" {
		t.Errorf("hit %v, Dockerfile %q after the previous build edited its copy", third.hit(), data)
	}
}

// With a contextDir a hit copies that directory only: nothing else of the
// tree is the build's, and copying is most of a hit's time.
func TestCacheHitCopiesTheContextDirOnly(t *testing.T) {
	r := makeCacheRepo(t)
	if err := os.Symlink("sub", filepath.Join(r.work, "sublink")); err != nil {
		t.Fatal(err)
	}
	runGit(t, r.work, "add", ".")
	runGit(t, r.work, "commit", "-q", "-m", "link")
	runGit(t, r.work, "push", "-q", "origin", "main")
	cacheDir := t.TempDir()

	first := mustFetchCached(t, cacheDir, gitBuild(r.uri(), "main", "", "sub"))
	second := mustFetchCached(t, cacheDir, gitBuild(r.uri(), "main", "", "sub"))
	if first.hit() || !second.hit() {
		t.Fatalf("hits: first %v, second %v", first.hit(), second.hit())
	}
	if d := diffTrees(tree(t, filepath.Join(first.work, "sub")), tree(t, second.info.Dir)); len(d) > 0 {
		t.Errorf("context dirs differ in %v", d)
	}
	entries, err := os.ReadDir(second.work)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "sub" {
		t.Errorf("work dir holds %v, want the context dir only", entries)
	}

	// A context dir that is a symlink leads elsewhere: the whole tree.
	linked := mustFetchCached(t, cacheDir, gitBuild(r.uri(), "main", "", "sublink"))
	if !linked.hit() {
		t.Fatalf("symlinked context dir missed:\n%s", linked.log)
	}
	if data, err := os.ReadFile(filepath.Join(linked.info.Dir, "data.txt")); err != nil || string(data) != "data\n" {
		t.Errorf("data.txt through the symlinked context dir: %q, %v", data, err)
	}

	// A context dir the commit lacks fails as after a clone.
	_, err = Fetch(context.Background(), gitBuild(r.uri(), "main", "", "nothere"), t.TempDir(), "", nil, WithCache(cacheDir), localOK)
	if f := failure.As(err); err == nil || f.Reason != buildv1.StatusReasonInvalidContextDirectory {
		t.Fatalf("missing context dir on a hit: %v, want InvalidContextDirectory", err)
	}
}

func TestCacheHitsGiveWhatACloneGives(t *testing.T) {
	r := makeCacheRepo(t)
	first := r.head(t)
	second := r.commit(t, "second")
	cacheDir := t.TempDir()
	// Both commits cached, by branch builds.
	runGit(t, r.work, "push", "-q", "-f", "origin", first+":refs/heads/main")
	mustFetchCached(t, cacheDir, gitBuild(r.uri(), "main", "", ""))
	runGit(t, r.work, "push", "-q", "-f", "origin", second+":refs/heads/main")
	mustFetchCached(t, cacheDir, gitBuild(r.uri(), "main", "", ""))

	cases := []struct {
		name        string
		ref, commit string
		want        string
	}{
		{"default branch", "", "", second},
		{"annotated tag", "v2", "", first},
		{"commit build", "", first, first},
		{"commit and ref", "main", first, first},
		{"upper-case commit", "", strings.ToUpper(second), second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := gitBuild(r.uri(), tc.ref, tc.commit, "")
			want, err := Fetch(context.Background(), b, filepath.Join(t.TempDir(), "w"), "", nil, localOK)
			if err != nil {
				t.Fatal(err)
			}
			got := mustFetchCached(t, cacheDir, b)
			if !got.hit() {
				t.Fatalf("not a hit:\n%s", got.log)
			}
			if withoutDir(got.info) != withoutDir(want) || got.info.Commit != tc.want {
				t.Errorf("info %+v, a clone gives %+v", *got.info, *want)
			}
			if head := strings.TrimSpace(runGit(t, got.work, "rev-parse", "HEAD")); head != tc.want {
				t.Errorf("HEAD %s, want %s", head, tc.want)
			}
		})
	}
}

func TestCacheNewCommitMissesThenHits(t *testing.T) {
	r := makeCacheRepo(t)
	cacheDir := t.TempDir()
	b := gitBuild(r.uri(), "main", "", "")
	old := mustFetchCached(t, cacheDir, b)

	next := r.commit(t, "next")
	miss := mustFetchCached(t, cacheDir, b)
	if miss.hit() || miss.info.Commit != next || !exists(filepath.Join(miss.work, "change.txt")) {
		t.Fatalf("after a push: hit %v, commit %s (want %s, was %s)", miss.hit(), miss.info.Commit, next, old.info.Commit)
	}
	hit := mustFetchCached(t, cacheDir, b)
	if !hit.hit() || hit.info.Commit != next {
		t.Fatalf("hit %v, commit %s, want %s", hit.hit(), hit.info.Commit, next)
	}
}

func TestCacheIsPerNamespace(t *testing.T) {
	r := makeCacheRepo(t)
	cacheDir := t.TempDir()
	mustFetchCached(t, cacheDir, gitBuild(r.uri(), "main", "", ""))
	other := gitBuild(r.uri(), "main", "", "")
	other.Namespace = "other-project"
	if f := mustFetchCached(t, cacheDir, other); f.hit() {
		t.Fatalf("another namespace used the cache:\n%s", f.log)
	}
}

func TestCacheUnknownRefStillFails(t *testing.T) {
	r := makeCacheRepo(t)
	cacheDir := t.TempDir()
	mustFetchCached(t, cacheDir, gitBuild(r.uri(), "main", "", ""))
	f := fetchCached(t, cacheDir, gitBuild(r.uri(), "nosuchbranch", "", ""), "")
	failed := wantFailure(t, f.err, buildv1.StatusReasonFetchSourceFailed, MessageFetchSourceFailed)
	if !strings.Contains(failed.Error(), "nosuchbranch") {
		t.Errorf("error %v", failed)
	}
}

func TestCacheRefsNotKnownByNameAreCloned(t *testing.T) {
	r := makeCacheRepo(t)
	first := r.head(t)
	r.commit(t, "second")
	runGit(t, r.bare, "update-ref", "refs/pull/1/head", first)
	cacheDir := t.TempDir()
	mustFetchCached(t, cacheDir, gitBuild(r.uri(), "", first, "")) // first is cached

	for _, ref := range []string{first, first[:10], "refs/pull/1/head"} {
		f := mustFetchCached(t, cacheDir, gitBuild(r.uri(), ref, "", ""))
		if f.hit() || f.info.Commit != first || f.info.Ref != ref {
			t.Errorf("ref %s: hit %v, commit %s, ref %s", ref, f.hit(), f.info.Commit, f.info.Ref)
		}
	}
}

func TestCacheKeepsTheThreeLeastRecentlyUsedCommits(t *testing.T) {
	r := makeCacheRepo(t)
	cacheDir := t.TempDir()
	commits := []string{r.head(t), r.commit(t, "c2"), r.commit(t, "c3"), r.commit(t, "c4")}
	build := func(c string) fetched { return mustFetchCached(t, cacheDir, gitBuild(r.uri(), "", c, "")) }
	for _, c := range commits[:3] {
		build(c)
	}
	if f := build(commits[0]); !f.hit() { // now the most recently used
		t.Fatalf("not a hit:\n%s", f.log)
	}
	build(commits[3])
	got := cacheEntries(t, cacheDir, gitBuild(r.uri(), "", "", ""))
	want := []string{commits[0], commits[2], commits[3]}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("cache holds %v, want %v (c2 least recently used)", got, want)
	}
	if f := build(commits[1]); f.hit() {
		t.Errorf("evicted commit was a hit")
	}
}

func TestCacheConcurrentBuildersOfOneCommit(t *testing.T) {
	r := makeCacheRepo(t)
	cacheDir := t.TempDir()
	b := gitBuild(r.uri(), "main", "", "")
	const builders = 4
	round := func() []fetched {
		out := make([]fetched, builders)
		var wg sync.WaitGroup
		for i := range out {
			wg.Go(func() { out[i] = fetchCached(t, cacheDir, b, "") })
		}
		wg.Wait()
		for i, f := range out {
			if f.err != nil || strings.Contains(f.log, "warning") {
				t.Fatalf("builder %d: %v\n%s", i, f.err, f.log)
			}
		}
		return out
	}
	// Each clone's .git has its own clone time and index: compare the
	// source only, then the copies of the cached tree in full.
	misses := round()
	for i, f := range misses[1:] {
		a, b := tree(t, misses[0].work), tree(t, f.work)
		maps.DeleteFunc(a, func(k, _ string) bool { return strings.HasPrefix(k, ".git") })
		maps.DeleteFunc(b, func(k, _ string) bool { return strings.HasPrefix(k, ".git") })
		if d := diffTrees(a, b); len(d) > 0 || f.info.Commit != misses[0].info.Commit {
			t.Errorf("builder %d: trees differ in %v", i+1, d)
		}
	}
	hits := round()
	for i, f := range hits {
		if !f.hit() {
			t.Errorf("builder %d missed", i)
		}
		if d := diffTrees(tree(t, hits[0].work), tree(t, f.work)); len(d) > 0 {
			t.Errorf("builder %d: trees differ in %v", i, d)
		}
	}
	if got := cacheEntries(t, cacheDir, b); len(got) != 1 {
		t.Errorf("cache holds %v, want one entry and no leftovers", got)
	}
}

func TestCacheSkipsSubmodules(t *testing.T) {
	r := makeTestRepos(t) // main has a submodule
	cacheDir := t.TempDir()
	b := gitBuild(r.fileURL("app.git"), "main", "", "")
	for range 2 {
		f := mustFetchCached(t, cacheDir, b)
		if f.hit() || !exists(filepath.Join(f.work, "lib", "lib.txt")) {
			t.Fatalf("hit %v, submodule present %v", f.hit(), exists(filepath.Join(f.work, "lib", "lib.txt")))
		}
	}
	if got := cacheEntries(t, cacheDir, b); len(got) != 0 {
		t.Errorf("cache holds %v", got)
	}
}

func TestCacheBrokenEntryFallsBackToCloning(t *testing.T) {
	r := makeCacheRepo(t)
	cacheDir := t.TempDir()
	b := gitBuild(r.uri(), "main", "", "")
	first := mustFetchCached(t, cacheDir, b)
	entry := filepath.Join(openCache(cacheDir, b.Namespace, r.uri()).dir, first.info.Commit)
	if err := os.WriteFile(filepath.Join(entry, cacheInfoFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := mustFetchCached(t, cacheDir, b)
	if f.hit() || !strings.Contains(f.log, "warning: using the cached checkout") || f.info.Commit != first.info.Commit {
		t.Errorf("hit %v, commit %s, log:\n%s", f.hit(), f.info.Commit, f.log)
	}
}

func TestCacheOverHTTP(t *testing.T) {
	r := makeCacheRepo(t)
	const user, password = "developer", "s3cr3t-Pa55"
	base, _ := (&testRepos{root: r.root}).serveHTTP(t, user, password)
	uri := base + "/app.git"
	good := writeSecret(t, map[string]string{"username": user, "password": password})
	bad := writeSecret(t, map[string]string{"username": user, "password": "wrong"})
	cacheDir := t.TempDir()
	fetch := func(ref, secret string) fetched {
		f := fetchCached(t, cacheDir, gitBuild(uri, ref, "", ""), secret)
		if strings.Contains(f.log+errString(f.err), password) {
			t.Fatalf("password leaked: %s %v", f.log, f.err)
		}
		return f
	}

	// The default branch of a remote repository is cloned shallow: it
	// serves default-branch builds only.
	shallow := fetch("", good)
	if shallow.err != nil || shallow.hit() || !isShallow(t, shallow.work) {
		t.Fatalf("err %v, hit %v:\n%s", shallow.err, shallow.hit(), shallow.log)
	}
	if f := fetch("", good); f.err != nil || !f.hit() || f.info.Ref != "main" || !isShallow(t, f.work) {
		t.Fatalf("err %v, hit %v, ref %q:\n%s", f.err, f.hit(), f.info.Ref, f.log)
	}
	// Access is proven on every build: a cached commit needs the right
	// credentials still.
	f := fetch("", bad)
	wantFailure(t, f.err, buildv1.StatusReasonFetchSourceFailed, MessageFetchSourceFailed)

	// A build by ref needs the history: it clones and its full clone
	// replaces the shallow entry, which then serves both.
	if f := fetch("main", good); f.err != nil || f.hit() || isShallow(t, f.work) {
		t.Fatalf("err %v, hit %v:\n%s", f.err, f.hit(), f.log)
	}
	for _, ref := range []string{"main", "", "v2"} {
		if f := fetch(ref, good); f.err != nil || !f.hit() || isShallow(t, f.work) {
			t.Errorf("ref %q: err %v, hit %v:\n%s", ref, f.err, f.hit(), f.log)
		}
	}

	// Credentials in the URI would be remembered in .git/config: not cached.
	inURL := strings.Replace(base, "http://", "http://"+user+":"+password+"@", 1) + "/app.git"
	cred := fetchCached(t, cacheDir, gitBuild(inURL, "main", "", ""), "")
	if cred.err != nil || !strings.Contains(cred.log, "warning: caching the checkout") || strings.Contains(cred.log, password) {
		t.Errorf("err %v, log:\n%s", cred.err, cred.log)
	}
	if got := cacheEntries(t, cacheDir, gitBuild(inURL, "main", "", "")); len(got) != 0 {
		t.Errorf("cache holds %v for a URI with credentials", got)
	}
}

func TestURLWithCredentials(t *testing.T) {
	cases := map[string]bool{
		"[remote \"origin\"]\n\turl = https://github.com/o/r.git\n":           false,
		"[remote \"origin\"]\n\turl = https://u:pw@github.com/o/r.git\n":      true,
		"[remote \"origin\"]\n\turl = https://ghp_token@github.com/o/r.git\n": true,
		"[remote \"origin\"]\n\tpushurl = ssh://u:pw@host/r.git\n":            true,
		"[remote \"origin\"]\n\turl = ssh://git@host/r.git\n":                 false,
		"[remote \"origin\"]\n\turl = git@github.com:o/r.git\n":               false,
		"[remote \"origin\"]\n\turl = /srv/app.git\n":                         false,
		"[remote \"origin\"]\n\turl = \"http://u:p@h/x\"\n":                   true,
	}
	for config, want := range cases {
		if got := urlWithCredentials([]byte(config)); got != want {
			t.Errorf("urlWithCredentials(%q) = %v, want %v", config, got, want)
		}
	}
}

// BenchmarkFetch times Fetch of the seed app (contextDir busybox, ref
// main) from a local repository: without a cache, a miss (clone and
// store) and a hit.
func BenchmarkFetch(b *testing.B) {
	if _, err := exec.LookPath("git"); err != nil {
		b.Skip("no git")
	}
	const seed = "/work/shared/fixtures/seed-walkthrough/time-app"
	if _, err := os.Stat(seed); err != nil {
		b.Skip("seed app not found")
	}
	repo := filepath.Join(b.TempDir(), "time-app")
	if err := os.CopyFS(repo, os.DirFS(seed)); err != nil {
		b.Fatal(err)
	}
	runGit(b, "", "init", "-q", "-b", "main", repo)
	runGit(b, repo, "add", ".")
	runGit(b, repo, "commit", "-q", "-m", "time app")
	build := gitBuild("file://"+repo, "main", "", "busybox")

	run := func(b *testing.B, cacheDir func() string) {
		for b.Loop() {
			b.StopTimer()
			work := filepath.Join(b.TempDir(), "work")
			var opts []Option
			if cacheDir != nil {
				opts = append(opts, WithCache(cacheDir()))
			}
			b.StartTimer()
			if _, err := Fetch(context.Background(), build, work, "", nil, append(opts, localOK)...); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("no-cache", func(b *testing.B) { run(b, nil) })
	b.Run("miss", func(b *testing.B) { run(b, func() string { return b.TempDir() }) })
	warm := b.TempDir()
	if _, err := Fetch(context.Background(), build, filepath.Join(b.TempDir(), "w"), "", nil, WithCache(warm), localOK); err != nil {
		b.Fatal(err)
	}
	b.Run("hit", func(b *testing.B) { run(b, func() string { return warm }) })
}

func TestCacheEntryBeingCopiedIsNotRemoved(t *testing.T) {
	r := makeCacheRepo(t)
	cacheDir := t.TempDir()
	b := gitBuild(r.uri(), "main", "", "")
	commit := mustFetchCached(t, cacheDir, b).info.Commit
	c := openCache(cacheDir, b.Namespace, r.uri())

	// What restore holds while it copies.
	reader, err := os.Open(filepath.Join(c.dir, commit, cacheInfoFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := flock.Lock(reader, unix.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	if removed, err := c.remove(commit); removed || err != nil {
		t.Fatalf("removed %v (%v) while a builder copies it", removed, err)
	}
	reader.Close()
	if removed, err := c.remove(commit); !removed || err != nil {
		t.Fatalf("removed %v (%v) once unused", removed, err)
	}
	if got := cacheEntries(t, cacheDir, b); len(got) != 0 {
		t.Errorf("cache holds %v", got)
	}
	if f := mustFetchCached(t, cacheDir, b); f.hit() {
		t.Errorf("removed entry was a hit")
	}
}

func TestCacheUnreachableServerFailsFast(t *testing.T) {
	uri := silentServer(t)
	start := time.Now()
	var log bytes.Buffer
	_, err := Fetch(context.Background(), gitBuild(uri, "main", "", ""), t.TempDir(), "", &log, WithCache(t.TempDir()), WithConnectTimeout(2*time.Second))
	wantFailure(t, err, buildv1.StatusReasonFetchSourceFailed, MessageFetchSourceFailed)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s to fail", d)
	}
}
