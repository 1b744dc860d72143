package source

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	buildv1 "github.com/openshift/api/build/v1"
	"golang.org/x/sys/unix"

	"github.com/slipway-dev/slipway/internal/flock"
)

// The source cache (WithCache) keeps git checkouts per project and
// repository, so that a build of a commit already checked out on this
// machine copies it instead of cloning:
//
//	<dir>/<key>/<commit>/tree/      the clone as the builder made it, .git included
//	<dir>/<key>/<commit>/info.json  the commit's id, people, date and subject
//
// key is a hash of the build's namespace and the source URI: a project
// never gets another project's source, and access is proven again on
// every build by contacting the server with the build's own credentials
// before an entry is used. Entries appear by rename, so readers never see
// a partial one; a reader holds a shared flock on info.json while it
// copies, and an entry is only moved away (then deleted) under an
// exclusive one, so concurrent builders never copy half of a tree.
const (
	cacheInfoFile = "info.json"
	cacheTreeDir  = "tree"
	// cacheKeep is how many commits per project and repository stay.
	cacheKeep = 3
	// cacheTmpPrefix and cacheTrashPrefix name entries being stored and
	// being deleted; staleAfter is when those of a builder that died are
	// removed.
	cacheTmpPrefix   = ".tmp-"
	cacheTrashPrefix = ".trash-"
	staleAfter       = time.Hour
)

// commitInfo is what describe reads from a commit, stored as info.json.
type commitInfo struct {
	Commit         string `json:"commit"`
	AuthorName     string `json:"authorName"`
	AuthorEmail    string `json:"authorEmail"`
	CommitterName  string `json:"committerName"`
	CommitterEmail string `json:"committerEmail"`
	Date           string `json:"date"`
	Message        string `json:"message"`
}

// fill sets the commit's fields of info.
func (c commitInfo) fill(info *Info) {
	info.Commit, info.AuthorName, info.AuthorEmail = c.Commit, c.AuthorName, c.AuthorEmail
	info.CommitterName, info.CommitterEmail, info.Date, info.Message = c.CommitterName, c.CommitterEmail, c.Date, c.Message
	info.Author = person(c.AuthorName, c.AuthorEmail)
	info.Committer = person(c.CommitterName, c.CommitterEmail)
}

// wanted is the checkout a build asks for, when the server could tell
// which commit it is.
type wanted struct {
	// commit is the full commit id; "" when it is not known by name (a
	// short id, refs/pull/1/head): such builds clone.
	commit string
	// ref is the Info.Ref a clone would report.
	ref string
	// history is whether a clone would have the whole history: all but
	// the default branch, which a remote repository gives shallow.
	history bool
}

// cloneWithCache is clone with a cache: it resolves what the build asks
// for to a commit, copies the cached checkout of that commit when there
// is one, and otherwise clones and stores the clone. The cache never
// fails a build: when it cannot help, the build clones as without one.
func (g *git) cloneWithCache(ctx context.Context, build *buildv1.Build, workDir string, log io.Writer, o options, info *Info) error {
	uri := build.Spec.Source.Git.URI
	c := openCache(o.cacheDir, build.Namespace, uri)
	want, err := g.resolve(ctx, build, o.connectTimeout)
	if err != nil {
		return err
	}
	if want.commit != "" {
		hit, err := c.restore(want, workDir, info.ContextDir, info)
		if err != nil {
			fmt.Fprintf(log, "warning: using the cached checkout of %s: %v\n", want.commit, err)
			if err := emptyDir(workDir); err != nil {
				return err
			}
		}
		if hit {
			info.Location, info.Ref = uri, want.ref
			fmt.Fprintf(log, "Using the cached checkout of %s from %q\n", info.Commit, scrubURL(uri))
			logCommit(log, info)
			return nil
		}
	}
	fmt.Fprintf(log, "Cloning %q ...\n", scrubURL(uri))
	if err := g.cloneInto(ctx, build, workDir, log, info); err != nil {
		return err
	}
	if err := c.store(workDir, info); err != nil {
		fmt.Fprintf(log, "warning: caching the checkout of %s: %v\n", info.Commit, err)
	}
	return nil
}

// resolve finds the commit build asks for with one git process: its
// spec.revision commit when that is a full id, else its ref (a branch,
// then a tag, as git clone --branch looks them up) or the default branch.
// For a remote repository this is "git ls-remote", which also serves as
// the first contact with the server (see lsRemote) and proves the build's
// credentials; its failure is the build's. For a repository on this
// machine a branch or HEAD is read from its files when it can be
// (readLocalRef), and any failure only means "clone it".
func (g *git) resolve(ctx context.Context, build *buildv1.Build, timeout time.Duration) (wanted, error) {
	src := build.Spec.Source.Git
	commit := strings.ToLower(buildCommit(build))
	byCommit := isFullCommitID(commit)
	want := wanted{ref: src.Ref, history: src.Ref != "" || commit != ""}
	if byCommit && want.ref == "" {
		// A commit is checked out detached.
		want.ref = "HEAD"
	}

	if path := g.src; isLocal(src.URI) {
		if !byCommit {
			// Read from the repository's files when they are plain;
			// otherwise git answers.
			if commit, name, ok := readLocalRef(path, src.Ref); ok {
				want.commit = commit
				if src.Ref == "" {
					want.ref = shortRef(name)
				}
				return want, nil
			}
		}
		var out string
		var err error
		switch {
		case byCommit:
			// The commit must still be in the repository, as for a clone.
			out, err = g.run(ctx, path, "rev-parse", "--verify", "--quiet", commit+"^{commit}")
		case src.Ref != "":
			out, err = g.run(ctx, path, "show-ref", "--dereference", "refs/heads/"+src.Ref, "refs/tags/"+src.Ref)
		default:
			// The commit, then HEAD's branch ("HEAD" when detached).
			out, err = g.run(ctx, path, "rev-parse", "HEAD^{commit}", "--symbolic-full-name", "HEAD")
		}
		if err != nil {
			return wanted{}, nil
		}
		if byCommit {
			want.commit = commit
			return want, nil
		}
		if src.Ref == "" {
			fields := strings.Fields(out)
			if len(fields) != 2 {
				return wanted{}, nil
			}
			want.commit, want.ref = fields[0], shortRef(fields[1])
			return want, nil
		}
		want.commit = pickRef(out, src.Ref)
		return want, nil
	}

	args := []string{"--", src.URI, "HEAD"}
	if src.Ref != "" {
		// Annotated tags are listed peeled only when asked for so.
		args = []string{"--", src.URI, src.Ref, src.Ref + "^{}"}
	} else if !byCommit {
		args = append([]string{"--symref"}, args...)
	}
	out, err := g.lsRemote(ctx, src.URI, timeout, args...)
	if err != nil {
		return wanted{}, err
	}
	switch {
	case byCommit:
		want.commit = commit
	case src.Ref != "":
		want.commit = pickRef(out, src.Ref)
	default:
		// Without the server saying which branch HEAD is, Info.Ref is
		// unknown: clone.
		for _, line := range strings.Split(out, "\n") {
			if target, ok := strings.CutPrefix(line, "ref: "); ok && strings.HasSuffix(target, "\tHEAD") {
				want.ref = shortRef(strings.TrimSuffix(target, "\tHEAD"))
			}
		}
		if want.ref != "" {
			want.commit = pickRef(out, "")
		}
	}
	return want, nil
}

// pickRef picks from "<id> <name>" lines (git ls-remote, git show-ref
// --dereference) the commit git clone --branch ref checks out: the branch,
// else the tag's commit; HEAD's commit for ref "". "" when none is listed.
func pickRef(out, ref string) string {
	ids := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && isFullCommitID(f[0]) {
			ids[f[1]] = f[0]
		}
	}
	names := []string{"HEAD"}
	if ref != "" {
		names = []string{"refs/heads/" + ref, "refs/tags/" + ref + "^{}", "refs/tags/" + ref}
	}
	for _, n := range names {
		if id, ok := ids[n]; ok {
			return id
		}
	}
	return ""
}

// isFullCommitID reports whether s is a whole commit id (SHA-1 or SHA-256
// repositories), lower case.
func isFullCommitID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

// cache is the part of the source cache of one namespace and repository.
type cache struct {
	dir string
}

func openCache(root, namespace, uri string) cache {
	sum := sha256.Sum256([]byte(namespace + "\x00" + uri))
	return cache{dir: filepath.Join(root, hex.EncodeToString(sum[:16]))}
}

// restore copies the cached checkout of want.commit into workDir (which
// is empty) and fills info from it. With a contextDir only that directory
// is copied: the build reads nothing outside it (the Dockerfile must be
// inside, and .git is not part of such a build's context), and copying
// is most of a hit's time. A contextDir the commit does not have is left
// absent, for Fetch to report as a clone would. It reports false when
// there is no usable entry; on an error workDir may hold part of a tree.
func (c cache) restore(want wanted, workDir, contextDir string, info *Info) (bool, error) {
	entry := filepath.Join(c.dir, want.commit)
	infoPath := filepath.Join(entry, cacheInfoFile)
	f, err := os.Open(infoPath)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	// Shared: remove takes it exclusively before it moves an entry away.
	if err := flock.Lock(f, unix.LOCK_SH); err != nil {
		return false, err
	}
	if !stillAt(f, infoPath) {
		return false, nil // removed between open and lock
	}
	if want.history && shallowClone(filepath.Join(entry, cacheTreeDir)) {
		return false, nil
	}
	var ci commitInfo
	if err := json.NewDecoder(f).Decode(&ci); err != nil {
		return false, fmt.Errorf("reading %s: %w", infoPath, err)
	}
	if ci.Commit != want.commit {
		return false, fmt.Errorf("%s describes commit %q", infoPath, ci.Commit)
	}
	tree := filepath.Join(entry, cacheTreeDir)
	src, dst := filepath.Join(tree, contextDir), filepath.Join(workDir, contextDir)
	fi, err := os.Lstat(src)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Nothing to copy: Fetch reports the missing context directory.
	case err == nil && fi.IsDir():
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return false, err
		}
		if err := copyTree(src, dst); err != nil {
			return false, err
		}
	default:
		// A context directory that is a symlink (or unreadable) leads
		// elsewhere in the tree: the whole tree, as a clone has it.
		if err := copyTree(tree, workDir); err != nil {
			return false, err
		}
	}
	// Recently used entries are the ones eviction keeps; a failure here
	// only makes this one older than it is.
	now := time.Now()
	_ = os.Chtimes(entry, now, now)
	ci.fill(info)
	return true, nil
}

// store adds the fresh clone in workDir, described by info, to the cache,
// then evicts the least recently used commits beyond cacheKeep. Trees with
// submodules are not stored (each submodule has its own remote and
// credentials), nor clones that remember a credential in a remote URL.
func (c cache) store(workDir string, info *Info) error {
	if _, err := os.Lstat(filepath.Join(workDir, ".gitmodules")); err == nil {
		return nil
	}
	if !isFullCommitID(info.Commit) {
		return fmt.Errorf("unexpected commit id %q", info.Commit)
	}
	config, err := os.ReadFile(filepath.Join(workDir, ".git", "config"))
	if err != nil {
		return fmt.Errorf("reading the clone's configuration: %w", err)
	}
	if urlWithCredentials(config) {
		return errors.New("the repository URL holds credentials; use a source secret instead")
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(c.dir, cacheTmpPrefix)
	if err != nil {
		return err
	}
	// Gone after the rename; otherwise what a failure left.
	defer os.RemoveAll(tmp)
	if err := copyTree(workDir, filepath.Join(tmp, cacheTreeDir)); err != nil {
		return err
	}
	ci := commitInfo{Commit: info.Commit, AuthorName: info.AuthorName, AuthorEmail: info.AuthorEmail,
		CommitterName: info.CommitterName, CommitterEmail: info.CommitterEmail, Date: info.Date, Message: info.Message}
	data, err := json.Marshal(ci)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, cacheInfoFile), data, 0o600); err != nil {
		return err
	}

	entry := filepath.Join(c.dir, info.Commit)
	err = os.Rename(tmp, entry)
	if errors.Is(err, fs.ErrExist) {
		// Another builder stored this commit first. Theirs stays unless
		// it is shallow and ours is not: builds by ref or commit need the
		// history.
		err = nil
		if shallowClone(filepath.Join(entry, cacheTreeDir)) && !shallowClone(filepath.Join(tmp, cacheTreeDir)) {
			removed, rerr := c.remove(info.Commit)
			if rerr != nil {
				return rerr
			}
			if removed {
				if err = os.Rename(tmp, entry); errors.Is(err, fs.ErrExist) {
					err = nil
				}
			}
		}
	}
	if err != nil {
		return err
	}
	now := time.Now()
	_ = os.Chtimes(entry, now, now)
	return c.evict()
}

// evict removes the least recently used commits beyond cacheKeep, and the
// leftovers of builders that died while storing or removing one. Entries
// being copied stay.
func (c cache) evict() error {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return err
	}
	type used struct {
		name string
		at   time.Time
	}
	var commits []used
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		if strings.HasPrefix(e.Name(), ".") {
			if time.Since(fi.ModTime()) > staleAfter {
				if err := os.RemoveAll(filepath.Join(c.dir, e.Name())); err != nil {
					return err
				}
			}
			continue
		}
		commits = append(commits, used{e.Name(), fi.ModTime()})
	}
	if len(commits) <= cacheKeep {
		return nil
	}
	sort.Slice(commits, func(i, j int) bool { return commits[i].at.After(commits[j].at) })
	for _, u := range commits[cacheKeep:] {
		if _, err := c.remove(u.name); err != nil {
			return err
		}
	}
	return nil
}

// remove moves the entry of commit out of the way and deletes it, unless
// a builder is copying it (then it reports false).
func (c cache) remove(commit string) (bool, error) {
	entry := filepath.Join(c.dir, commit)
	lock, err := os.Open(filepath.Join(entry, cacheInfoFile))
	switch {
	case err == nil:
		if err := flock.Lock(lock, unix.LOCK_EX|unix.LOCK_NB); err != nil {
			lock.Close()
			if flock.Busy(err) {
				return false, nil
			}
			return false, err
		}
	case errors.Is(err, fs.ErrNotExist):
		lock = nil // an entry without info.json is never read
	default:
		return false, err
	}
	// Under the lock no reader is in the entry; under a random name none
	// can find it any more. The lock ends once the entry has moved, not
	// after the deletion.
	trash := filepath.Join(c.dir, cacheTrashPrefix+rand.Text())
	err = os.Rename(entry, trash)
	if lock != nil {
		lock.Close()
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // another builder removed it
	} else if err != nil {
		return false, err
	}
	return true, os.RemoveAll(trash)
}

// stillAt reports whether path still names the open file f.
func stillAt(f *os.File, path string) bool {
	opened, err := f.Stat()
	if err != nil {
		return false
	}
	current, err := os.Stat(path)
	return err == nil && os.SameFile(opened, current)
}

// shallowClone reports whether the clone in dir has only part of the history.
func shallowClone(dir string) bool {
	_, err := os.Lstat(filepath.Join(dir, ".git", "shallow"))
	return err == nil
}

// urlWithCredentials reports whether a git configuration file holds a
// URL with a password, or a user name over HTTP (a token). The builder
// gives git the source secret through a credential helper, so only a URI
// written with credentials puts them there.
func urlWithCredentials(config []byte) bool {
	for _, line := range strings.Split(string(config), "\n") {
		key, value, ok := strings.Cut(line, "=")
		key = strings.ToLower(strings.TrimSpace(key))
		if !ok || key != "url" && key != "pushurl" {
			continue
		}
		value = strings.Trim(strings.TrimSpace(value), `"`)
		if !strings.Contains(value, "://") {
			continue // a path or scp-like ssh address: no password
		}
		u, err := url.Parse(value)
		if err != nil {
			return true // cannot tell: assume the worst
		}
		if u.User == nil {
			continue
		}
		if _, has := u.User.Password(); has || strings.HasPrefix(u.Scheme, "http") {
			return true
		}
	}
	return false
}

// copyTree copies the directory src into dst, which may exist:
// directories made, regular files copied with their modes, symlinks
// recreated. Files under .git/objects are hard-linked when src and dst
// share a file system, since git never rewrites them in place; everything
// else is a copy of its own, since the builder edits the Dockerfile in
// place.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			// Writable by us while we fill it.
			if err := os.Mkdir(target, fi.Mode().Perm()|0o700); err != nil && !(rel == "." && errors.Is(err, fs.ErrExist)) {
				return err
			}
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			if strings.HasPrefix(filepath.ToSlash(rel), ".git/objects/") && os.Link(path, target) == nil {
				return nil
			}
			return copyFile(path, target, fi.Mode().Perm())
		}
		// Sockets, devices and FIFOs are no source.
		return nil
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	// The exact mode, whatever the umask.
	if err := out.Chmod(perm); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
