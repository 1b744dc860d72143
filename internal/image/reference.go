package image

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	godigest "github.com/opencontainers/go-digest"
)

// DockerHub is the registry name Docker Hub references are normalised to.
const DockerHub = "docker.io"

// tagPattern is docker's tag grammar.
var tagPattern = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)

// Reference is a parsed image reference; Docker Hub names are normalised
// ("busybox" -> docker.io/library/busybox, registry "docker.io").
type Reference struct{ Registry, Repository, Tag, Digest string }

// ParseReference parses registry/repo[:tag][@digest] the way docker does:
// the first path component is a registry only when it holds a "." or ":"
// or is "localhost"; anything else is a Docker Hub repository, and a
// single-component Hub name lives under library/.
func ParseReference(s string) (Reference, error) {
	var r Reference
	rest := s
	if before, dig, ok := strings.Cut(rest, "@"); ok {
		if err := godigest.Digest(dig).Validate(); err != nil {
			return Reference{}, fmt.Errorf("invalid image reference %q: digest: %w", s, err)
		}
		r.Digest, rest = dig, before
	}
	// A tag follows the last ":" after the last "/" (a ":" before it is a port).
	if i := strings.LastIndexByte(rest, ':'); i > strings.LastIndexByte(rest, '/') {
		r.Tag, rest = rest[i+1:], rest[:i]
		if !tagPattern.MatchString(r.Tag) {
			return Reference{}, fmt.Errorf("invalid image reference %q: tag %q does not match %s", s, r.Tag, tagPattern)
		}
	}
	first, path, hasPath := strings.Cut(rest, "/")
	if hasPath && (strings.ContainsAny(first, ".:") || first == "localhost") {
		r.Registry, r.Repository = RegistryHost(first), path
	} else {
		r.Registry, r.Repository = DockerHub, rest
	}
	if r.Registry == DockerHub && r.Repository != "" && !strings.Contains(r.Repository, "/") {
		r.Repository = "library/" + r.Repository
	}
	if slices.Contains(strings.Split(r.Repository, "/"), "") {
		return Reference{}, fmt.Errorf("invalid image reference %q: empty repository path component", s)
	}
	if _, err := name.NewRepository(r.RepositoryName()); err != nil {
		return Reference{}, fmt.Errorf("invalid image reference %q: %w", s, err)
	}
	return r, nil
}

// String is registry/repo[:tag][@digest], with what was given.
func (r Reference) String() string {
	s := r.RepositoryName()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Exact is registry/repo@digest when the digest is known, else
// registry/repo:tag with the tag defaulting to latest.
func (r Reference) Exact() string {
	if r.Digest != "" {
		return r.RepositoryName() + "@" + r.Digest
	}
	return r.RepositoryName() + ":" + r.TagOrLatest()
}

// RepositoryName is registry/repo.
func (r Reference) RepositoryName() string {
	return r.Registry + "/" + r.Repository
}

// TagOrLatest is the tag, "latest" when none was given.
func (r Reference) TagOrLatest() string {
	if r.Tag == "" {
		return "latest"
	}
	return r.Tag
}
