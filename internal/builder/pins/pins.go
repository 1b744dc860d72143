// Package pins remembers which digest a project's builder image tag was
// pulled as on this node, so that its next builds use the image already
// present instead of asking the registry what the tag names now.
//
// That is OpenShift's rule for Docker builds (openshift-semantics.md 1.6,
// step 3): pull every FROM image that is not present, all of them with
// dockerStrategy.forcePull. BuildKit on its own resolves a FROM tag at the
// registry on every build (~15 ms of a warm build, and a registry that
// must answer). The builder pins dockerStrategy.from's tag to the digest a
// build of the same project pulled it as; forcePull resolves it again and
// moves the pin.
//
// Pins are per buildkitd (the images they name are in its store, so they
// live next to its socket) and per project: a project's builds only use
// images one of its own builds pulled with the project's credentials. A
// pin is a file named by a hash of the project and the image name; its
// content is the digest.
package pins

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/distribution/reference"
	digest "github.com/opencontainers/go-digest"

	"github.com/slipway-dev/slipway/internal/buildkit"
)

// Store is the pins of one buildkitd; the zero Store keeps none.
type Store struct {
	dir string
}

// Dir is the pins directory for a buildkitd address: next to its unix
// socket. Other addresses (a buildkitd elsewhere) have none: "".
func Dir(address string) string {
	state := buildkit.StateDir(address)
	if state == "" {
		return ""
	}
	return filepath.Join(state, "pins")
}

// Open returns the store in dir ("" for none); the directory is made on
// the first Put.
func Open(dir string) Store {
	return Store{dir: dir}
}

// Name is the normalised name:tag of ref ("busybox" is
// "docker.io/library/busybox:latest"), and false when ref is not an image
// reference by tag (one with a digest is pinned already).
func Name(ref string) (string, bool) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", false
	}
	if _, ok := named.(reference.Digested); ok {
		return "", false
	}
	return reference.TagNameOnly(named).String(), true
}

// Get returns the digest namespace's builds pulled ref as, "" when there
// is none (or ref is not a tag).
func (s Store) Get(namespace, ref string) digest.Digest {
	path, ok := s.path(namespace, ref)
	if !ok {
		return ""
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	d, err := digest.Parse(strings.TrimSpace(string(data)))
	if err != nil {
		return "" // a damaged pin is no pin: the tag is resolved again
	}
	return d
}

// Put records that namespace's build pulled ref as d.
func (s Store) Put(namespace, ref string, d digest.Digest) error {
	path, ok := s.path(namespace, ref)
	if !ok {
		return nil
	}
	if err := d.Validate(); err != nil {
		return fmt.Errorf("pinning %s: %w", ref, err)
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("pinning %s: %w", ref, err)
	}
	// Written aside and renamed: a reader sees the old pin or the new one.
	tmp, err := os.CreateTemp(s.dir, ".pin-*")
	if err != nil {
		return fmt.Errorf("pinning %s: %w", ref, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(d.String() + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("pinning %s: %w", ref, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("pinning %s: %w", ref, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("pinning %s: %w", ref, err)
	}
	return nil
}

// Forget drops namespace's pin of ref.
func (s Store) Forget(namespace, ref string) error {
	path, ok := s.path(namespace, ref)
	if !ok {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("dropping the pin of %s: %w", ref, err)
	}
	return nil
}

// path is the pin file of namespace and ref; false without a store or for
// a ref that is not a tag.
func (s Store) path(namespace, ref string) (string, bool) {
	name, ok := Name(ref)
	if s.dir == "" || !ok {
		return "", false
	}
	sum := sha256.Sum256([]byte(namespace + "\x00" + name))
	return filepath.Join(s.dir, hex.EncodeToString(sum[:])), true
}
