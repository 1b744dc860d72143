// Package dockerfile prepares a Docker-strategy build's Dockerfile the way
// OpenShift's manage-dockerfile step does: it writes an inline Dockerfile,
// points the last FROM at the resolved base image, substitutes
// source.images[].as names, inserts the strategy's env after every FROM and
// appends the OPENSHIFT_BUILD_* ENV and io.openshift.build.* LABEL lines.
//
// Slipway runs this step inside the single docker-build container of the
// build pod instead of OpenShift's manage-dockerfile init container.
package dockerfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	buildv1 "github.com/openshift/api/build/v1"

	"github.com/slipway-dev/slipway/internal/builder/failure"
	"github.com/slipway-dev/slipway/internal/builder/source"
)

// MessageManageDockerfileFailed is the message OpenShift's builder reports
// with reason ManageDockerfileFailed.
const MessageManageDockerfileFailed = "Failed to process the Dockerfile."

// DefaultPath is the Dockerfile's name when dockerStrategy.dockerfilePath
// is empty.
const DefaultPath = "Dockerfile"

// Manage prepares the Dockerfile of build in dir, the build's context
// directory, and rewrites it in place. info describes the checked-out
// source (nil when there is none). Only Docker-strategy builds are edited;
// an inline Dockerfile is written for every strategy.
//
// Failures are *failure.Failure with reason ManageDockerfileFailed. A
// Dockerfile the parser can read but BuildKit will reject is left for the
// build to report.
func Manage(build *buildv1.Build, dir string, info *source.Info) error {
	if err := manage(build, dir, info); err != nil {
		return failure.New(buildv1.StatusReasonManageDockerfileFailed, MessageManageDockerfileFailed, err)
	}
	return nil
}

func manage(build *buildv1.Build, dir string, info *source.Info) error {
	if inline := build.Spec.Source.Dockerfile; inline != nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating the context directory: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, DefaultPath), []byte(*inline), 0o644); err != nil {
			return fmt.Errorf("writing the inline Dockerfile: %w", err)
		}
	}
	if build.Spec.Strategy.DockerStrategy == nil {
		return nil
	}

	rel, err := RelativePath(build)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, rel)
	if err := checkInside(dir, path, rel); err != nil {
		return err
	}
	in, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no Dockerfile %q in the context directory", rel)
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", rel, err)
	}
	out, err := Edit(in, build, info)
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	// Truncate rather than replace the file, so a Dockerfile that is a
	// symlink inside the context keeps pointing where it did.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("rewriting %s: %w", rel, err)
	}
	if _, err := f.Write(out); err != nil {
		f.Close()
		return fmt.Errorf("rewriting %s: %w", rel, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("rewriting %s: %w", rel, err)
	}
	return nil
}

// RelativePath returns the build's Dockerfile path relative to its context
// directory: dockerStrategy.dockerfilePath, cleaned, or "Dockerfile". A path
// that leaves the context directory is an error.
func RelativePath(build *buildv1.Build) (string, error) {
	p := ""
	if ds := build.Spec.Strategy.DockerStrategy; ds != nil {
		p = ds.DockerfilePath
	}
	if p == "" {
		return DefaultPath, nil
	}
	cleaned := filepath.Clean(p)
	if !filepath.IsLocal(cleaned) {
		return "", fmt.Errorf("dockerfilePath %q is not inside the context directory", p)
	}
	return cleaned, nil
}

// checkInside makes sure path, after symlinks, is still inside dir: the
// build must not read or rewrite files outside its source.
func checkInside(dir, path, rel string) error {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("context directory: %w", err)
	}
	resolved, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no Dockerfile %q in the context directory", rel)
	}
	if err != nil {
		return fmt.Errorf("resolving %s: %w", rel, err)
	}
	if r, err := filepath.Rel(root, resolved); err != nil || !filepath.IsLocal(r) {
		return fmt.Errorf("dockerfilePath %q resolves outside the context directory", rel)
	}
	return nil
}
