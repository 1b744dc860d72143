// Package source fetches a build's input source into the build pod's work
// directory the way OpenShift's git-clone step does: with the git binary,
// shallow and recursive when no ref or commit is asked for, otherwise a full
// clone checked out at the commit or ref, submodules updated.
//
// Slipway runs this step inside the single docker-build container of the
// build pod instead of OpenShift's git-clone init container.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	buildv1 "github.com/openshift/api/build/v1"

	"github.com/slipway-dev/slipway/internal/builder/failure"
)

// Messages OpenShift's builder reports with the matching status reasons.
const (
	MessageFetchSourceFailed       = "Failed to fetch the input source."
	MessageInvalidContextDirectory = "The supplied context directory does not exist."
)

// Defaults for the timeouts of Fetch; WithConnectTimeout and
// WithLowSpeedTime change them.
const (
	// DefaultConnectTimeout bounds the first contact with the git server
	// (git ls-remote), so an unreachable or black-holed server fails the
	// build instead of hanging it until its completion deadline.
	DefaultConnectTimeout = 30 * time.Second
	// DefaultLowSpeedTime aborts an HTTP transfer that moved less than one
	// byte per second for this long (git's http.lowSpeedLimit/Time).
	DefaultLowSpeedTime = 60 * time.Second
)

// Info describes the checked-out source, for the image's
// io.openshift.build.* labels, OPENSHIFT_BUILD_* env and spec.revision.
type Info struct {
	// Commit is the full id of the commit checked out.
	Commit string
	// Author and Committer are "Name <email>".
	Author, AuthorName, AuthorEmail          string
	Committer, CommitterName, CommitterEmail string
	// Date is the author date in git's default format
	// ("Tue Aug 16 20:28:41 2016 -0400").
	Date string
	// Message is the subject line of the commit.
	Message string
	// Ref is the requested git ref, or the branch git checked out.
	Ref string
	// Location is the repository URI as written in the build.
	Location string
	// ContextDir is spec.source.contextDir, cleaned.
	ContextDir string
	// Dir is the absolute path of the context directory on disk.
	Dir string
}

// SourceRevision returns the revision to report in the Build's
// spec.revision (through builds/<name>/details); nil without a commit.
func (i *Info) SourceRevision() *buildv1.SourceRevision {
	if i == nil || i.Commit == "" {
		return nil
	}
	return &buildv1.SourceRevision{
		Type: buildv1.BuildSourceGit,
		Git: &buildv1.GitSourceRevision{
			Commit:    i.Commit,
			Author:    buildv1.SourceControlUser{Name: i.AuthorName, Email: i.AuthorEmail},
			Committer: buildv1.SourceControlUser{Name: i.CommitterName, Email: i.CommitterEmail},
			Message:   i.Message,
		},
	}
}

// Option changes how Fetch talks to the git server.
type Option func(*options)

type options struct {
	connectTimeout time.Duration
	lowSpeedTime   time.Duration
	cacheDir       string
	localGitRoot   string
}

// WithConnectTimeout bounds the first contact with the git server
// (default DefaultConnectTimeout).
func WithConnectTimeout(d time.Duration) Option {
	return func(o *options) { o.connectTimeout = d }
}

// WithLowSpeedTime sets how long an HTTP transfer may stall before git
// aborts it (default DefaultLowSpeedTime).
func WithLowSpeedTime(d time.Duration) Option {
	return func(o *options) { o.lowSpeedTime = d }
}

// WithCache keeps the checkouts of git sources under dir, shared by the
// builders of this machine, so that a build of a commit already checked
// out here copies it instead of cloning; "" (the default) keeps none. The
// server is still contacted on every build, with the build's credentials,
// to resolve the ref and prove access. See cache.go for the layout.
func WithCache(dir string) Option {
	return func(o *options) { o.cacheDir = dir }
}

// WithLocalGitRoot allows git sources on this machine (file:// URLs and
// paths) under dir, symlinks resolved; "" (the default) refuses them all:
// a build must not read another project's, or the node's, repositories.
func WithLocalGitRoot(dir string) Option {
	return func(o *options) { o.localGitRoot = dir }
}

// refused is the failure of a source the builder will not fetch; detail
// says why, in the build's status message.
func refused(detail string) error {
	return failure.New(buildv1.StatusReasonFetchSourceFailed, "Failed to fetch the input source: "+detail+".", nil)
}

// fetchFailure is err as a FetchSourceFailed failure, unless it is a
// failure already.
func fetchFailure(err error) error {
	var f *failure.Failure
	if errors.As(err, &f) {
		return f
	}
	return failure.New(buildv1.StatusReasonFetchSourceFailed, MessageFetchSourceFailed, err)
}

// Fetch puts the build's source into workDir and returns what was checked
// out. With a git source, workDir must be empty or absent: the repository
// is cloned into it. Without one (an inline Dockerfile, or a binary input
// already extracted into workDir by the caller) nothing is cloned; an
// inline Dockerfile is written to the context directory. sourceSecretDir
// is the directory holding the source secret's keys (username, password,
// ca.crt, ssh-privatekey, known_hosts, .gitconfig), or "" for none. Progress
// goes to log; credentials never do.
//
// Failures are *failure.Failure with reason FetchSourceFailed or
// InvalidContextDirectory.
func Fetch(ctx context.Context, build *buildv1.Build, workDir, sourceSecretDir string, log io.Writer, opts ...Option) (*Info, error) {
	o := options{connectTimeout: DefaultConnectTimeout, lowSpeedTime: DefaultLowSpeedTime}
	for _, opt := range opts {
		opt(&o)
	}
	if log == nil {
		log = io.Discard
	}
	src := build.Spec.Source

	contextDir, err := cleanContextDir(src.ContextDir)
	if err != nil {
		return nil, failure.New(buildv1.StatusReasonInvalidContextDirectory, MessageInvalidContextDirectory, err)
	}
	info := &Info{ContextDir: contextDir, Dir: filepath.Join(workDir, contextDir)}

	if src.Git != nil {
		if err := checkRevision(build); err != nil {
			return nil, refused(err.Error())
		}
		if err := clone(ctx, build, workDir, sourceSecretDir, log, o, info); err != nil {
			return nil, fetchFailure(err)
		}
	} else {
		if err := os.MkdirAll(workDir, 0o755); err != nil {
			return nil, failure.New(buildv1.StatusReasonFetchSourceFailed, MessageFetchSourceFailed, err)
		}
		if src.Dockerfile != nil {
			// No repository: the inline Dockerfile is the whole source. A
			// binary input may be in workDir already, links included.
			if err := WriteInlineDockerfile(workDir, contextDir, *src.Dockerfile); err != nil {
				if cerr := checkContextDir(workDir, info.Dir, src.ContextDir); cerr != nil {
					return nil, failure.New(buildv1.StatusReasonInvalidContextDirectory, MessageInvalidContextDirectory, cerr)
				}
				return nil, failure.New(buildv1.StatusReasonFetchSourceFailed, MessageFetchSourceFailed, err)
			}
		}
	}

	if err := checkContextDir(workDir, info.Dir, src.ContextDir); err != nil {
		return nil, failure.New(buildv1.StatusReasonInvalidContextDirectory, MessageInvalidContextDirectory, err)
	}
	return info, nil
}

// WriteInlineDockerfile writes dockerfile as contextDir/Dockerfile inside
// workDir, replacing whatever is there (a symlink is replaced, never
// written through), and fails rather than leave workDir through a link.
func WriteInlineDockerfile(workDir, contextDir, dockerfile string) error {
	root, err := os.OpenRoot(workDir)
	if err != nil {
		return fmt.Errorf("writing the inline Dockerfile: %w", err)
	}
	defer root.Close()
	dir := contextDir
	if dir == "" {
		dir = "."
	}
	if err := root.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing the inline Dockerfile: %w", err)
	}
	name := filepath.Join(dir, "Dockerfile")
	if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("writing the inline Dockerfile: %w", err)
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("writing the inline Dockerfile: %w", err)
	}
	if _, err := io.WriteString(f, dockerfile); err != nil {
		f.Close()
		return fmt.Errorf("writing the inline Dockerfile: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the inline Dockerfile: %w", err)
	}
	return nil
}

// checkContextDir verifies that dir, the context directory under workDir,
// exists, is a directory and does not leave workDir through a symlink.
func checkContextDir(workDir, dir, contextDir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("context directory %q not found in the source", contextDir)
	case err != nil:
		return fmt.Errorf("context directory %q: %w", contextDir, err)
	case !fi.IsDir():
		return fmt.Errorf("context directory %q is not a directory", contextDir)
	}
	root, err := filepath.EvalSymlinks(workDir)
	if err != nil {
		return fmt.Errorf("resolving the work directory: %w", err)
	}
	resolved, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("context directory %q: %w", contextDir, err)
	}
	if rel, err := filepath.Rel(root, resolved); err != nil || !filepath.IsLocal(rel) && rel != "." {
		return fmt.Errorf("context directory %q leaves the source tree", contextDir)
	}
	return nil
}

// cleanContextDir returns contextDir as a clean relative path that stays
// inside the repository ("" for its root).
func cleanContextDir(contextDir string) (string, error) {
	if contextDir == "" {
		return "", nil
	}
	cleaned := filepath.Clean(strings.TrimPrefix(contextDir, "/"))
	if cleaned == "." {
		return "", nil
	}
	if !filepath.IsLocal(cleaned) {
		return "", fmt.Errorf("context directory %q leaves the source tree", contextDir)
	}
	return cleaned, nil
}
