package source

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// readLocalRef answers, for the repository at path on this machine, what
// resolve otherwise starts git for: with ref "", the commit HEAD is at and
// HEAD's full name ("refs/heads/main", or "HEAD" when detached), as `git
// rev-parse HEAD^{commit} --symbolic-full-name HEAD` prints them; with a
// ref, the commit of branch ref, which `git show-ref --dereference` and
// pickRef choose before any tag of that name.
//
// Why: a warm build of a local repository spent 8 ms (idle) to 30 ms (the
// machine busy with the build's other parts) starting git to read two
// small files. The files' layout is git's documented one
// (gitrepository-layout(5)): HEAD, loose refs under refs/, packed-refs.
//
// ok is false, and the caller asks git, whenever the repository is not
// one this reads with certainty: path is not itself a repository (git
// would search the parent directories), a linked worktree or a .git file,
// reftable refs, a repository another user owns (git refuses those unless
// told it is safe), a symbolic ref beyond HEAD, an unborn branch, a
// branch that does not exist (ref may still name a tag, which needs
// peeling). The commit is not checked to be in the object store, nor
// peeled: a branch holds a commit, and an id that is not one only misses
// the source cache.
func readLocalRef(path, ref string) (commit, headName string, ok bool) {
	gitDir, ok := localGitDir(path)
	if !ok {
		return "", "", false
	}
	name := "refs/heads/" + ref
	if ref == "" {
		head, err := os.ReadFile(filepath.Join(gitDir, "HEAD"))
		if err != nil {
			return "", "", false
		}
		line := strings.TrimSuffix(string(head), "\n")
		if isFullCommitID(line) {
			return line, "HEAD", true // detached
		}
		target, isRef := strings.CutPrefix(line, "ref: ")
		if !isRef || !strings.HasPrefix(target, "refs/") {
			return "", "", false
		}
		name = target
	}
	if !validRefName(name) {
		return "", "", false
	}
	commit, ok = lookupRef(gitDir, name)
	if !ok {
		return "", "", false
	}
	return commit, name, true
}

// localGitDir returns the git directory of the repository at path (its
// .git directory, or path for a bare repository) when it is one
// readLocalRef reads.
func localGitDir(path string) (string, bool) {
	gitDir := filepath.Join(path, ".git")
	fi, err := os.Lstat(gitDir)
	switch {
	case err == nil && fi.IsDir():
	case errors.Is(err, fs.ErrNotExist) && isBareRepository(path):
		gitDir = path
	default:
		return "", false // a .git file (worktree, submodule), or unreadable
	}
	// Linked worktrees share refs through commondir; reftable repositories
	// keep their refs in tables.
	for _, other := range []string{"commondir", "reftable"} {
		if _, err := os.Lstat(filepath.Join(gitDir, other)); !errors.Is(err, fs.ErrNotExist) {
			return "", false
		}
	}
	// git only reads a repository the current user owns (safe.directory,
	// which Slipway's git runs do not set).
	for _, dir := range []string{path, gitDir} {
		if !ownedByUs(dir) {
			return "", false
		}
	}
	return gitDir, true
}

// isBareRepository reports whether dir has what git requires of a git
// directory: HEAD, objects and refs.
func isBareRepository(dir string) bool {
	for _, name := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}
	return true
}

func ownedByUs(path string) bool {
	fi, err := os.Lstat(path)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}

// validRefName keeps names that stay inside refs/ as file paths.
func validRefName(name string) bool {
	if !strings.HasPrefix(name, "refs/") || strings.HasSuffix(name, "/") || strings.HasSuffix(name, ".lock") {
		return false
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." || strings.HasPrefix(part, ".") {
			return false
		}
	}
	return !strings.ContainsAny(name, "\\\x00 ~^:?*[")
}

// lookupRef reads ref name as git does: the loose ref file, else its line
// in packed-refs. ok is false for a symbolic or missing ref.
func lookupRef(gitDir, name string) (string, bool) {
	data, err := os.ReadFile(filepath.Join(gitDir, filepath.FromSlash(name)))
	switch {
	case err == nil:
		id := strings.TrimSuffix(string(data), "\n")
		return id, isFullCommitID(id)
	case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
		return "", false
	}
	f, err := os.Open(filepath.Join(gitDir, "packed-refs"))
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	suffix := []byte(" " + name)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] == '#' || line[0] == '^' || !bytes.HasSuffix(line, suffix) {
			continue
		}
		id := string(line[:len(line)-len(suffix)])
		return id, isFullCommitID(id)
	}
	return "", false
}
