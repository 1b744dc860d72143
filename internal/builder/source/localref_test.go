package source

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// gitAnswer is what resolve's git commands answer for ref in the
// repository at dir: HEAD's commit and full name, or ref's commit as
// pickRef chooses it from show-ref.
func gitAnswer(t *testing.T, dir, ref string) (commit, name string) {
	t.Helper()
	if ref == "" {
		fields := strings.Fields(runGit(t, dir, "rev-parse", "HEAD^{commit}", "--symbolic-full-name", "HEAD"))
		if len(fields) != 2 {
			t.Fatalf("git rev-parse printed %q", fields)
		}
		return fields[0], fields[1]
	}
	return pickRef(runGit(t, dir, "show-ref", "--dereference", "refs/heads/"+ref, "refs/tags/"+ref), ref), "refs/heads/" + ref
}

// commitTo makes a commit in the repository at dir and returns its id.
func commitTo(t *testing.T, dir, file, content string) string {
	t.Helper()
	writeFile(t, filepath.Join(dir, file), content)
	runGit(t, dir, "add", ".")
	runGit(t, dir, "commit", "-q", "-m", "change "+file)
	return strings.TrimSpace(runGit(t, dir, "rev-parse", "HEAD"))
}

// Every state resolve reads without git gives git's own answer.
func TestReadLocalRefAgreesWithGit(t *testing.T) {
	requireGit(t)
	dir := filepath.Join(t.TempDir(), "app")
	runGit(t, "", "init", "-q", "-b", "main", dir)
	commitTo(t, dir, "a", "1")
	runGit(t, dir, "branch", "feature")
	commitTo(t, dir, "a", "2")
	bare := filepath.Join(t.TempDir(), "app.git")
	runGit(t, "", "clone", "-q", "--bare", dir, bare)

	check := func(name, dir, ref string) {
		t.Helper()
		wantCommit, wantName := gitAnswer(t, dir, ref)
		commit, full, ok := readLocalRef(dir, ref)
		if !ok {
			t.Errorf("%s: readLocalRef(%q) declined; git answers %s %s", name, ref, wantCommit, wantName)
			return
		}
		if commit != wantCommit || full != wantName {
			t.Errorf("%s: readLocalRef(%q) = %s %s, git answers %s %s", name, ref, commit, full, wantCommit, wantName)
		}
	}
	check("loose HEAD branch", dir, "")
	check("loose branch", dir, "feature")
	check("bare repository", bare, "")

	runGit(t, dir, "pack-refs", "--all")
	if _, err := os.Stat(filepath.Join(dir, ".git", "refs", "heads", "main")); err == nil {
		t.Fatal("pack-refs left the loose ref: the packed case is not tested")
	}
	check("packed HEAD branch", dir, "")
	check("packed branch", dir, "feature")

	commitTo(t, dir, "a", "3") // a loose ref again, newer than the packed one
	check("loose ref over a packed one", dir, "")

	runGit(t, dir, "checkout", "-q", "--detach", "feature")
	check("detached HEAD", dir, "")
	runGit(t, dir, "checkout", "-q", "main")

	runGit(t, dir, "symbolic-ref", "HEAD", "refs/heads/feature")
	check("HEAD on another branch", dir, "")
}

// Repositories it does not read with certainty are left to git.
func TestReadLocalRefDeclines(t *testing.T) {
	requireGit(t)
	root := t.TempDir()
	dir := filepath.Join(root, "app")
	runGit(t, "", "init", "-q", "-b", "main", dir)

	declines := func(name, dir, ref string) {
		t.Helper()
		if commit, full, ok := readLocalRef(dir, ref); ok {
			t.Errorf("%s: readLocalRef(%q) = %s %s, want it to leave the answer to git", name, ref, commit, full)
		}
	}
	declines("unborn branch", dir, "")
	commitTo(t, dir, "a", "1")
	runGit(t, dir, "tag", "-a", "-m", "release", "v1")
	declines("annotated tag", dir, "v1")
	declines("missing branch", dir, "nope")
	declines("ref leaving refs/heads", dir, "../../HEAD")
	declines("not a repository", root, "")
	writeFile(t, filepath.Join(dir, "sub", "f"), "x")
	declines("a repository's subdirectory", filepath.Join(dir, "sub"), "")

	wt := filepath.Join(root, "wt")
	runGit(t, dir, "worktree", "add", "-q", "-b", "other", wt)
	declines("linked worktree", wt, "")

	runGit(t, dir, "symbolic-ref", "refs/heads/alias", "refs/heads/main")
	declines("symbolic branch", dir, "alias")

	if os.Geteuid() == 0 {
		other := filepath.Join(root, "other")
		runGit(t, "", "init", "-q", "-b", "main", other)
		commitTo(t, other, "a", "1")
		if err := os.Chown(other, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		declines("another user's repository", other, "")
	}
}
