package source

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	buildv1 "github.com/openshift/api/build/v1"

	"github.com/slipway-dev/slipway/internal/builder/failure"
)

// Attacks on the builder from what a project controls (issue 12): each
// one ran a command, or read or wrote a host file, before it was fixed.

// TestGitconfigCannotRunCommands: a source secret's .gitconfig that names
// a command (credential helper, hooks, proxies, transports) must not get it
// run; the build goes on with the harmless keys only.
func TestGitconfigCannotRunCommands(t *testing.T) {
	r := makeTestRepos(t)
	open, _ := r.serveHTTP(t, "", "")
	authed, _ := r.serveHTTP(t, "u", "p")
	cases := []struct {
		name string
		uri  string
		// gitconfig is the .gitconfig; MARKER and SECRET are replaced by
		// the marker file and the secret directory.
		gitconfig string
		files     map[string]string // more keys of the secret, executable
	}{
		{name: "credential.helper", uri: authed + "/app.git",
			gitconfig: "[credential]\n\thelper = \"!touch MARKER; echo username=u; echo password=p\"\n"},
		{name: "core.hooksPath", uri: open + "/app.git",
			gitconfig: "[core]\n\thooksPath = SECRET\n",
			files:     map[string]string{"post-checkout": "#!/bin/sh\ntouch MARKER\n"}},
		{name: "ext transport through url.insteadOf", uri: open + "/app.git",
			gitconfig: "[protocol \"ext\"]\n\tallow = always\n[url \"ext::sh -c touch% MARKER% #\"]\n\tinsteadOf = " + open + "/\n"},
		{name: "include.path", uri: authed + "/app.git",
			gitconfig: "[include]\n\tpath = SECRET/more\n",
			files:     map[string]string{"more": "[credential]\n\thelper = \"!touch MARKER; echo username=u; echo password=p\"\n"}},
		{name: "core.gitProxy", uri: "git://" + closedPort(t) + "/app.git",
			gitconfig: "[core]\n\tgitProxy = SECRET/proxy\n",
			files:     map[string]string{"proxy": "#!/bin/sh\ntouch MARKER\n"}},
		{name: "core.fsmonitor", uri: open + "/app.git",
			gitconfig: "[core]\n\tfsmonitor = SECRET/monitor\n",
			files:     map[string]string{"monitor": "#!/bin/sh\ntouch MARKER\n"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "marker")
			secret := t.TempDir()
			expand := func(s string) string {
				return strings.NewReplacer("MARKER", marker, "SECRET", secret).Replace(s)
			}
			writeFile(t, filepath.Join(secret, ".gitconfig"), expand(tc.gitconfig))
			for name, content := range tc.files {
				writeFile(t, filepath.Join(secret, name), expand(content))
				if err := os.Chmod(filepath.Join(secret, name), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			var log bytes.Buffer
			_, err := Fetch(context.Background(), gitBuild(tc.uri, "", "", ""), filepath.Join(t.TempDir(), "w"), secret, &log)
			if _, serr := os.Stat(marker); serr == nil {
				t.Fatalf("the source secret's .gitconfig ran a command (Fetch: %v)\n%s", err, log.String())
			}
		})
	}
}

// TestGitconfigKeepsHarmlessKeys: what a .gitconfig may set still reaches
// git, and what it may not is named in the log.
func TestGitconfigKeepsHarmlessKeys(t *testing.T) {
	secret := t.TempDir()
	writeFile(t, filepath.Join(secret, "ca.pem"), "x")
	writeFile(t, filepath.Join(secret, ".gitconfig"), "[user]\n\tname = Me\n[http]\n\tsslVerify = false\n\tsslCAInfo = "+
		filepath.Join(secret, "ca.pem")+"\n[http \"https://git.example.com/\"]\n\textraHeader = Authorization: Bearer tok3n\n"+
		"[http]\n\tsslCert = /etc/passwd\n[credential]\n\thelper = store\n[core]\n\tautocrlf = input\n\tsshCommand = evil\n"+
		"[url \"https://mirror.example.com/\"]\n\tinsteadOf = https://git.example.com/\n[url \"/srv/\"]\n\tinsteadOf = https://other.example.com/\n")
	var log bytes.Buffer
	kept, secrets, err := userGitConfig(filepath.Join(secret, ".gitconfig"), secret, &log)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range kept {
		got[kv[0]] = kv[1]
	}
	want := map[string]string{
		"user.name": "Me", "http.sslverify": "false", "http.sslcainfo": filepath.Join(secret, "ca.pem"),
		"http.https://git.example.com/.extraheader": "Authorization: Bearer tok3n", "core.autocrlf": "input",
		"url.https://mirror.example.com/.insteadof": "https://git.example.com/",
	}
	if len(got) != len(want) {
		t.Errorf("kept %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (kept %v)", k, got[k], v, got)
		}
	}
	if !strings.Contains(strings.Join(secrets, " "), "tok3n") {
		t.Errorf("extraHeader value not scrubbed: %v", secrets)
	}
	for _, key := range []string{"credential.helper", "core.sshcommand", "http.sslcert", "url./srv/.insteadof"} {
		if !strings.Contains(log.String(), key) {
			t.Errorf("log does not name the ignored %s:\n%s", key, log.String())
		}
	}
	if strings.Contains(log.String(), "tok3n") {
		t.Errorf("log shows a header value:\n%s", log.String())
	}
}

// TestCommitAndRefAreNotOptions: a webhook's or start-build's commit, or a
// BuildConfig's ref, that looks like an option never reaches git as one.
func TestCommitAndRefAreNotOptions(t *testing.T) {
	r := makeTestRepos(t)
	for _, cached := range []bool{false, true} {
		for _, field := range []string{"commit", "ref", "ref and commit"} {
			t.Run(field+map[bool]string{true: " cached"}[cached], func(t *testing.T) {
				marker := filepath.Join(t.TempDir(), "marker")
				evil := "--upload-pack=touch " + marker + ";git-upload-pack"
				b := gitBuild(r.fileURL("app.git"), "", evil, "")
				switch field {
				case "ref":
					b = gitBuild(r.fileURL("app.git"), evil, "", "")
				case "ref and commit":
					b = gitBuild(r.fileURL("app.git"), evil, r.first, "")
				}
				opts := []Option{WithLocalGitRoot(r.root)}
				if cached {
					opts = append(opts, WithCache(t.TempDir()))
				}
				_, err := Fetch(context.Background(), b, filepath.Join(t.TempDir(), "w"), "", nil, opts...)
				if _, serr := os.Stat(marker); serr == nil {
					t.Fatalf("%s %q ran a command (Fetch: %v)", field, evil, err)
				}
				wantRefusal(t, err, "invalid")
			})
		}
	}
}

// wantRefusal checks that err is a FetchSourceFailed failure whose
// message, which the Build's status shows, says why (contain).
func wantRefusal(t *testing.T, err error, contain string) {
	t.Helper()
	var f *failure.Failure
	if !errors.As(err, &f) {
		t.Fatalf("error %v is not a build failure", err)
	}
	if f.Reason != buildv1.StatusReasonFetchSourceFailed || !strings.Contains(f.Message, contain) {
		t.Fatalf("failure %s %q, want %s saying %q (%v)", f.Reason, f.Message, buildv1.StatusReasonFetchSourceFailed, contain, f.Err)
	}
}

func TestValidRevision(t *testing.T) {
	for _, ok := range []string{"main", "v1", "feature/x", "refs/pull/1/head", "refs/changes/01/1/1", "release-1.2"} {
		if err := checkRef(ok); err != nil {
			t.Errorf("ref %q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"-x", "--upload-pack=x", "a..b", "a b", "a~1", "a^", "a:b", "x.lock", "/x", "x/", "a//b", ".x", "a/.b", "@", "a@{1}", "a\\b", "a\x01"} {
		if err := checkRef(bad); err == nil {
			t.Errorf("ref %q accepted", bad)
		}
	}
	for _, ok := range []string{"abcd", "0123456789abcdef0123456789abcdef01234567", "ABCDEF1"} {
		if err := checkCommit(ok); err != nil {
			t.Errorf("commit %q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"-x", "abc", "HEAD", "main", "--upload-pack=x", strings.Repeat("a", 65)} {
		if err := checkCommit(bad); err == nil {
			t.Errorf("commit %q accepted", bad)
		}
	}
}

// TestLocalSourcesNeedARoot: a file:// URL or a path reads a repository on
// the node; only under the directory the admin names (--local-git-root).
func TestLocalSourcesNeedARoot(t *testing.T) {
	r := makeTestRepos(t)
	outside := t.TempDir()
	// A link inside the root to a repository outside it.
	linkDir := t.TempDir()
	if err := os.Symlink(filepath.Join(r.root, "app.git"), filepath.Join(linkDir, "app.git")); err != nil {
		t.Fatal(err)
	}
	// The root itself through a link.
	rootLink := filepath.Join(t.TempDir(), "root")
	if err := os.Symlink(r.root, rootLink); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, uri, root string
		ok              bool
		errContain      string
	}{
		{name: "no root", uri: r.fileURL("app.git"), errContain: "--local-git-root"},
		{name: "no root, a path", uri: filepath.Join(r.root, "app.git"), errContain: "--local-git-root"},
		{name: "outside the root", uri: r.fileURL("app.git"), root: outside, errContain: "not under"},
		{name: "dot-dot out of the root", uri: "file://" + outside + "/../" + filepath.Base(filepath.Dir(r.root)) + "/srv/app.git", root: outside, errContain: "not under"},
		{name: "symlink out of the root", uri: "file://" + filepath.Join(linkDir, "app.git"), root: outside, errContain: "not under"},
		{name: "relative path", uri: "srv/app.git", root: "/", errContain: "absolute"},
		{name: "under the root", uri: r.fileURL("app.git"), root: r.root, ok: true},
		{name: "under the root, a path", uri: filepath.Join(r.root, "app.git"), root: r.root, ok: true},
		{name: "root named through a link", uri: r.fileURL("app.git"), root: rootLink, ok: true},
		{name: "symlink into the root", uri: "file://" + filepath.Join(linkDir, "app.git"), root: r.root, ok: true},
	}
	for _, tc := range cases {
		for _, cached := range []bool{false, true} {
			t.Run(tc.name+map[bool]string{true: " cached"}[cached], func(t *testing.T) {
				work := filepath.Join(t.TempDir(), "w")
				opts := []Option{WithLocalGitRoot(tc.root)}
				if cached {
					opts = append(opts, WithCache(t.TempDir()))
				}
				info, err := Fetch(context.Background(), gitBuild(tc.uri, "", "", ""), work, "", nil, opts...)
				if tc.ok {
					if err != nil || info.Commit != r.second {
						t.Fatalf("Fetch: %v, %+v", err, info)
					}
					return
				}
				wantRefusal(t, err, tc.errContain)
				if exists(filepath.Join(work, "app.txt")) {
					t.Errorf("the repository was cloned")
				}
			})
		}
	}
}

// TestInlineDockerfileStaysInTheWorkDir: a binary input whose links lead
// out of the work dir (each link's target looks local on its own) must not
// carry the inline Dockerfile's write out.
func TestInlineDockerfileStaysInTheWorkDir(t *testing.T) {
	parent := t.TempDir()
	work := filepath.Join(parent, "inputs")
	data := tarOf(t, false,
		entry{name: "a", link: ".", typ: tar.TypeSymlink},
		entry{name: "b", link: "a/..", typ: tar.TypeSymlink},
	)
	if err := ExtractBinary(bytes.NewReader(data), work, ""); err != nil {
		return // refused at extraction: as good
	}
	df := "FROM busybox\n"
	b := &buildv1.Build{}
	b.Spec.Source = buildv1.BuildSource{Type: buildv1.BuildSourceBinary, Binary: &buildv1.BinaryBuildSource{}, Dockerfile: &df, ContextDir: "b"}
	_, err := Fetch(context.Background(), b, work, "", nil)
	if exists(filepath.Join(parent, "Dockerfile")) {
		t.Fatalf("the inline Dockerfile was written outside the work dir (Fetch: %v)", err)
	}
	if err == nil {
		t.Fatal("Fetch accepted a context dir that leaves the work dir")
	}
}

// TestExtractBinaryBounds: a tar (or gzip) bomb stops at the size bound.
func TestExtractBinaryBounds(t *testing.T) {
	defer func(n int64) { maxBinaryBytes = n }(maxBinaryBytes)
	maxBinaryBytes = 1 << 20
	big := strings.Repeat("0", 2<<20)
	for _, gz := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "inputs")
		err := ExtractBinary(bytes.NewReader(tarOf(t, gz, entry{name: "a", body: big[:600<<10]}, entry{name: "b", body: big[:600<<10]})), dir, "")
		if err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("gzip=%v: archive beyond the bound: %v", gz, err)
		}
		err = ExtractBinary(strings.NewReader(big), filepath.Join(t.TempDir(), "inputs"), "app.jar")
		if err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("asFile beyond the bound: %v", err)
		}
	}
	defer func(n int) { maxBinaryEntries = n }(maxBinaryEntries)
	maxBinaryEntries = 10
	var entries []entry
	for i := range 11 {
		entries = append(entries, entry{name: "f" + string(rune('a'+i))})
	}
	if err := ExtractBinary(bytes.NewReader(tarOf(t, true, entries...)), filepath.Join(t.TempDir(), "inputs"), ""); err == nil || !strings.Contains(err.Error(), "entries") {
		t.Errorf("archive with too many entries: %v", err)
	}
}

// TestLocalSubmodulesStayUnderTheRoot: a repository under the root whose
// submodule names a repository outside it does not get it cloned.
func TestLocalSubmodulesStayUnderTheRoot(t *testing.T) {
	r := makeTestRepos(t)
	tmp := t.TempDir()
	secret := filepath.Join(tmp, "outside", "secret")
	runGit(t, "", "init", "-q", "-b", "main", secret)
	writeFile(t, filepath.Join(secret, "secret.txt"), "host secret\n")
	runGit(t, secret, "add", ".")
	runGit(t, secret, "commit", "-q", "-m", "secret")
	evil := filepath.Join(tmp, "evil")
	runGit(t, "", "init", "-q", "-b", "main", evil)
	writeFile(t, filepath.Join(evil, "Dockerfile"), "FROM busybox\n")
	runGit(t, evil, "add", ".")
	runGit(t, evil, "commit", "-q", "-m", "one")
	runGit(t, evil, "-c", "protocol.file.allow=always", "submodule", "add", "-q", secret, "sec")
	runGit(t, evil, "commit", "-q", "-m", "two")
	runGit(t, "", "clone", "-q", "--bare", evil, filepath.Join(r.root, "evil.git"))

	for _, cached := range []bool{false, true} {
		work := filepath.Join(t.TempDir(), "w")
		opts := []Option{WithLocalGitRoot(r.root)}
		if cached {
			opts = append(opts, WithCache(t.TempDir()))
		}
		_, err := Fetch(context.Background(), gitBuild(r.fileURL("evil.git"), "", "", ""), work, "", nil, opts...)
		if exists(filepath.Join(work, "sec", "secret.txt")) {
			t.Fatalf("cached=%v: a submodule outside --local-git-root was cloned (Fetch: %v)", cached, err)
		}
		wantRefusal(t, err, "not under")
	}
	// The relative submodule under the root still works.
	if _, err := Fetch(context.Background(), gitBuild(r.fileURL("app.git"), "", "", ""), filepath.Join(t.TempDir(), "w"), "", nil, WithLocalGitRoot(r.root)); err != nil {
		t.Fatal(err)
	}
}
