package image

import (
	"fmt"
	"strings"

	"github.com/slipway-dev/slipway/internal/registry/image/imageref"
)

// DockerHub is the registry name Docker Hub references are normalised to.
const DockerHub = "docker.io"

// Reference is a parsed image reference; Docker Hub names are normalised
// ("busybox" -> docker.io/library/busybox, registry "docker.io").
type Reference struct{ Registry, Repository, Tag, Digest string }

// ParseReference parses registry/repo[:tag][@digest] with the API server's
// grammar (imageref: the first component is a registry only when it holds
// a "." or ":" or is "localhost"), then normalises Docker Hub: no registry
// or any of its aliases is docker.io, and a one-component Hub repository
// lives under library/.
func ParseReference(s string) (Reference, error) {
	parsed, err := imageref.Parse(s)
	if err != nil {
		return Reference{}, fmt.Errorf("invalid image reference %q: %w", s, err)
	}
	r := Reference{Registry: DockerHub, Repository: parsed.Path, Tag: parsed.Tag, Digest: parsed.Digest}
	if parsed.Registry != "" {
		r.Registry = RegistryHost(parsed.Registry)
	}
	if r.Registry == DockerHub && !strings.Contains(r.Repository, "/") {
		r.Repository = "library/" + r.Repository
	}
	return r, nil
}

// String is registry/repo[:tag][@digest], with what was given.
func (r Reference) String() string {
	return r.apiReference().String()
}

// Exact is registry/repo@digest when the digest is known, else
// registry/repo:tag with the tag defaulting to latest.
func (r Reference) Exact() string {
	ref := r.apiReference()
	ref.Tag = r.TagOrLatest()
	return ref.Exact()
}

// apiReference is r in the API server's terms, which format it the same
// way.
func (r Reference) apiReference() imageref.Reference {
	return imageref.Reference{Registry: r.Registry, Path: r.Repository, Tag: r.Tag, Digest: r.Digest}
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
