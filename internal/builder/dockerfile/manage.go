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
	"io"
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
		if err := source.WriteInlineDockerfile(dir, "", *inline); err != nil {
			return err
		}
	}
	if build.Spec.Strategy.DockerStrategy == nil {
		return nil
	}

	rel, err := RelativePath(build)
	if err != nil {
		return err
	}
	// Every access goes through the context directory's root: a
	// Dockerfile that is a link is followed only while it stays inside.
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("context directory: %w", err)
	}
	defer root.Close()
	in, err := ReadFile(root, rel)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no Dockerfile %q in the context directory", rel)
	}
	if err != nil {
		if _, lerr := root.Lstat(rel); lerr == nil {
			if _, serr := root.Stat(rel); serr != nil && !errors.Is(serr, fs.ErrNotExist) {
				return fmt.Errorf("dockerfilePath %q resolves outside the context directory", rel)
			}
		}
		return fmt.Errorf("reading %s: %w", rel, err)
	}
	out, err := Edit(in, build, info)
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	// Truncate rather than replace the file, so a Dockerfile that is a
	// symlink inside the context keeps pointing where it did.
	f, err := root.OpenFile(rel, os.O_WRONLY|os.O_TRUNC, 0)
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

// MaxSize bounds a Dockerfile (and its ignore file) as the builder reads
// it: BuildKit's own limit is lower still.
const MaxSize = 16 << 20

// ReadFile reads the file rel of root, at most MaxSize bytes, following
// links only while they stay inside root.
func ReadFile(root *os.Root, rel string) ([]byte, error) {
	f, err := root.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", rel, MaxSize)
	}
	return data, nil
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
