package source

import (
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// testRepos are real git repositories made with the git binary: a bare
// "lib.git" and a bare "app.git" whose main branch has two commits (the
// second adds lib as a submodule by relative URL), a tag v1 on the first
// commit and a branch "feature" with a third commit.
type testRepos struct {
	root                     string // holds app.git and lib.git
	first, second, featureID string
}

const (
	testAuthor = "A U Thor"
	testEmail  = "author@example.com"
)

func makeTestRepos(t *testing.T) *testRepos {
	t.Helper()
	requireGit(t)
	tmp := t.TempDir()
	r := &testRepos{root: filepath.Join(tmp, "srv")}
	work := filepath.Join(tmp, "work")

	lib := filepath.Join(work, "lib")
	runGit(t, "", "init", "-q", "-b", "main", lib)
	writeFile(t, filepath.Join(lib, "lib.txt"), "library\n")
	runGit(t, lib, "add", ".")
	runGit(t, lib, "commit", "-q", "-m", "library")
	runGit(t, "", "clone", "-q", "--bare", lib, filepath.Join(r.root, "lib.git"))
	// "submodule add ../lib.git" resolves against the superproject's own
	// directory while it has no remote.
	if err := os.Symlink(filepath.Join(r.root, "lib.git"), filepath.Join(work, "lib.git")); err != nil {
		t.Fatal(err)
	}

	app := filepath.Join(work, "app")
	runGit(t, "", "init", "-q", "-b", "main", app)
	writeFile(t, filepath.Join(app, "Dockerfile"), "FROM busybox\n")
	writeFile(t, filepath.Join(app, "sub", "Dockerfile"), "FROM busybox\nCMD [\"true\"]\n")
	runGit(t, app, "add", ".")
	runGit(t, app, "commit", "-q", "-m", "first commit")
	runGit(t, app, "tag", "v1")
	r.first = strings.TrimSpace(runGit(t, app, "rev-parse", "HEAD"))

	runGit(t, app, "-c", "protocol.file.allow=always", "submodule", "add", "-q", "../lib.git", "lib")
	// The recorded URL stays relative so the submodule is fetched from
	// wherever the superproject is served (file:// or HTTP).
	writeFile(t, filepath.Join(app, "app.txt"), "second\n")
	runGit(t, app, "add", ".")
	runGit(t, app, "commit", "-q", "-m", "second commit")
	r.second = strings.TrimSpace(runGit(t, app, "rev-parse", "HEAD"))

	runGit(t, app, "checkout", "-q", "-b", "feature", r.first)
	writeFile(t, filepath.Join(app, "feature.txt"), "feature\n")
	runGit(t, app, "add", "feature.txt")
	runGit(t, app, "commit", "-q", "-m", "feature work")
	r.featureID = strings.TrimSpace(runGit(t, app, "rev-parse", "HEAD"))
	runGit(t, app, "checkout", "-q", "main")

	runGit(t, "", "clone", "-q", "--bare", app, filepath.Join(r.root, "app.git"))
	return r
}

// fileURL is the file:// URL of a served repository.
func (r *testRepos) fileURL(name string) string { return "file://" + filepath.Join(r.root, name) }

// serveHTTP serves the repositories with git http-backend behind net/http/cgi
// on loopback. With user != "", every request needs that basic-auth user and
// password. It returns the base URL and a counter of rejected requests.
func (r *testRepos) serveHTTP(t *testing.T, user, password string) (string, *atomic.Int32) {
	t.Helper()
	backend, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v", err)
	}
	h := &cgi.Handler{
		Path:   filepath.Join(strings.TrimSpace(string(backend)), "git-http-backend"),
		Env:    []string{"GIT_PROJECT_ROOT=" + r.root, "GIT_HTTP_EXPORT_ALL=1"},
		Stderr: io.Discard,
	}
	var rejected atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if user != "" {
			u, p, ok := req.BasicAuth()
			if !ok || u != user || p != password {
				rejected.Add(1)
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &rejected
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// silentServer returns the URL of a repository on a server that accepts
// connections and reads nothing: only the connect timeout can end a clone.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return "http://" + l.Addr().String() + "/app.git"
}

func requireGit(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git binary not installed (hack/install-deps.sh installs it)")
	}
}

func runGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME="+testAuthor, "GIT_AUTHOR_EMAIL="+testEmail,
		"GIT_COMMITTER_NAME=C O Mitter", "GIT_COMMITTER_EMAIL=committer@example.com",
		"GIT_AUTHOR_DATE=2016-08-16T20:28:41-0400", "GIT_COMMITTER_DATE=2016-08-16T20:28:41-0400",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// localOK allows the local repositories tests make (under t.TempDir()).
var localOK = WithLocalGitRoot(os.TempDir())
