// Package imageref parses the container image references that image streams
// hold in spec.tags[].from.name (kind DockerImage), spec.dockerImageRepository
// and status tag events: [host[:port]/]path[:tag][@digest].
//
// It is deliberately small: the API server only needs to validate references
// and to rewrite the repository part of internal-registry references.
package imageref

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	// pathComponentRE is one lowercase repository path component, as in the
	// distribution spec: alphanumerics separated by '.', '_', '__' or dashes.
	pathComponentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	// hostComponentRE is one DNS label of a registry host name.
	hostComponentRE = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$`)
	portRE          = regexp.MustCompile(`^[0-9]+$`)
	// TagRE is a valid image tag (also the rule for image stream tag names).
	TagRE = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	// DigestRE is a content digest: sha256, sha384 or sha512 in lowercase hex.
	DigestRE = regexp.MustCompile(`^(?:sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$`)
)

// maxRepositoryLength bounds host + path, as the distribution reference does.
const maxRepositoryLength = 255

// Reference is a parsed image reference.
type Reference struct {
	// Registry is the host[:port] part, empty when the reference has none
	// (then a default registry such as docker.io is implied by clients).
	Registry string
	// Path is the repository path inside the registry, e.g. "library/nginx".
	Path string
	// Tag is the tag without its ':', empty when not given.
	Tag string
	// Digest is "sha256:<hex>" without its '@', empty when not given.
	Digest string
}

// Parse parses s as an image reference. The first path component is taken as
// a registry host when it contains '.' or ':' or is "localhost", which is how
// docker and every OpenShift client tell hosts and namespaces apart.
func Parse(s string) (Reference, error) {
	var ref Reference
	if s == "" {
		return ref, fmt.Errorf("reference is empty")
	}
	rest := s
	if i := strings.Index(rest, "@"); i >= 0 {
		ref.Digest = rest[i+1:]
		rest = rest[:i]
		if !DigestRE.MatchString(ref.Digest) {
			return Reference{}, fmt.Errorf("invalid digest %q in reference %q", ref.Digest, s)
		}
	}
	// A tag follows the last ':' unless that ':' is inside the host part
	// (a port), i.e. unless a '/' comes after it.
	if i := strings.LastIndex(rest, ":"); i >= 0 && !strings.Contains(rest[i+1:], "/") {
		ref.Tag = rest[i+1:]
		rest = rest[:i]
		if !TagRE.MatchString(ref.Tag) {
			return Reference{}, fmt.Errorf("invalid tag %q in reference %q", ref.Tag, s)
		}
	}
	if i := strings.Index(rest, "/"); i >= 0 {
		first := rest[:i]
		if strings.ContainsAny(first, ".:") || first == "localhost" {
			ref.Registry = first
			rest = rest[i+1:]
			if err := validateHost(ref.Registry); err != nil {
				return Reference{}, fmt.Errorf("invalid registry in reference %q: %w", s, err)
			}
		}
	}
	ref.Path = rest
	if ref.Path == "" {
		return Reference{}, fmt.Errorf("reference %q has no repository", s)
	}
	for _, component := range strings.Split(ref.Path, "/") {
		if !pathComponentRE.MatchString(component) {
			return Reference{}, fmt.Errorf("invalid repository path component %q in reference %q: must be lowercase letters, digits and separators", component, s)
		}
	}
	if n := len(ref.Repository()); n > maxRepositoryLength {
		return Reference{}, fmt.Errorf("repository name in %q is %d characters, more than %d", s, n, maxRepositoryLength)
	}
	return ref, nil
}

func validateHost(host string) error {
	name, port, hasPort := strings.Cut(host, ":")
	if hasPort && !portRE.MatchString(port) {
		return fmt.Errorf("invalid port %q", port)
	}
	for _, label := range strings.Split(name, ".") {
		if !hostComponentRE.MatchString(label) {
			return fmt.Errorf("invalid host name %q", name)
		}
	}
	return nil
}

// Repository returns registry and path without tag or digest.
func (r Reference) Repository() string {
	if r.Registry == "" {
		return r.Path
	}
	return r.Registry + "/" + r.Path
}

// String formats the reference back as [registry/]path[:tag][@digest].
func (r Reference) String() string {
	s := r.Repository()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Exact formats the reference with its digest when it has one (dropping the
// tag, which a digest makes redundant), else with its tag.
func (r Reference) Exact() string {
	if r.Digest != "" {
		return r.Repository() + "@" + r.Digest
	}
	return r.String()
}
