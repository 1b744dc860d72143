package buildspec

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

var (
	// pathComponentRE is one lowercase repository path component, with
	// single '.', '_', double '_' or runs of '-' between alphanumerics.
	pathComponentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	// registryHostRE is a registry host name or IPv4 address with an
	// optional port; bracketed IPv6 addresses are accepted too.
	registryHostRE = regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$`)
	tagRE          = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	sha256DigestRE = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
)

// maxRepositoryLength is the longest repository name registries accept.
const maxRepositoryLength = 255

// ValidateDockerImageReference checks that ref is a pullable image
// reference: an optional registry host[:port], a lowercase repository path,
// an optional ":tag" and an optional "@sha256:<64 hex>" digest.
func ValidateDockerImageReference(ref string) error {
	if ref == "" {
		return errors.New("image reference must not be empty")
	}
	name := ref
	if at := strings.Index(name, "@"); at >= 0 {
		if digest := name[at+1:]; !sha256DigestRE.MatchString(digest) {
			return fmt.Errorf("invalid digest %q: must be sha256: followed by 64 lowercase hex characters", digest)
		}
		name = name[:at]
	}
	if colon := strings.LastIndex(name, ":"); colon > strings.LastIndex(name, "/") {
		if tag := name[colon+1:]; !tagRE.MatchString(tag) {
			return fmt.Errorf("invalid tag %q", tag)
		}
		name = name[:colon]
	}

	components := strings.Split(name, "/")
	if len(components) > 1 && isRegistryHost(components[0]) {
		if !registryHostRE.MatchString(components[0]) {
			return fmt.Errorf("invalid registry host %q", components[0])
		}
		components = components[1:]
	}
	repository := strings.Join(components, "/")
	if len(repository) > maxRepositoryLength {
		return fmt.Errorf("repository name must not be longer than %d characters", maxRepositoryLength)
	}
	for _, c := range components {
		if !pathComponentRE.MatchString(c) {
			return fmt.Errorf("invalid repository name %q: path components must be lowercase letters, digits and separators", repository)
		}
	}
	return nil
}

// isRegistryHost reports whether the first path component of a reference
// names a registry rather than a repository, as docker decides it.
func isRegistryHost(component string) bool {
	return strings.ContainsAny(component, ".:[") || component == "localhost" || strings.ToLower(component) != component
}
