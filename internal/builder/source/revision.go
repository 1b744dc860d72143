package source

import (
	"fmt"
	"strings"

	buildv1 "github.com/openshift/api/build/v1"
)

// checkRevision validates what the build asks git to check out: the
// commit of spec.revision (start-build --commit, webhooks) and
// spec.source.git.ref. Both come from users and webhook payloads and
// reach git's command line, where "--upload-pack=..." would be an option
// that runs a command.
func checkRevision(build *buildv1.Build) error {
	if commit := buildCommit(build); commit != "" {
		if err := checkCommit(commit); err != nil {
			return fmt.Errorf("invalid commit %q in spec.revision.git.commit: %w", commit, err)
		}
	}
	if ref := build.Spec.Source.Git.Ref; ref != "" {
		if err := checkRef(ref); err != nil {
			return fmt.Errorf("invalid ref %q in spec.source.git.ref: %w", ref, err)
		}
	}
	return nil
}

// checkCommit accepts a commit id, whole or abbreviated (at least 4 hex
// digits, as git abbreviates; SHA-1 or SHA-256).
func checkCommit(commit string) error {
	if len(commit) < 4 || len(commit) > 64 {
		return fmt.Errorf("a commit id has 4 to 64 hexadecimal digits")
	}
	for _, r := range commit {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') && (r < 'A' || r > 'F') {
			return fmt.Errorf("a commit id has only hexadecimal digits")
		}
	}
	return nil
}

// checkRef accepts what `git check-ref-format --allow-onelevel` accepts
// ("main", "v1.2", "refs/pull/1/head"), except a name starting with "-".
func checkRef(ref string) error {
	switch {
	case ref == "" || len(ref) > 1024:
		return fmt.Errorf("a ref has 1 to 1024 characters")
	case strings.HasPrefix(ref, "-"):
		return fmt.Errorf("a ref may not start with '-'")
	case strings.HasPrefix(ref, "/") || strings.HasSuffix(ref, "/") || strings.HasSuffix(ref, "."):
		return fmt.Errorf("a ref may not start with '/' or end with '/' or '.'")
	case strings.Contains(ref, "..") || strings.Contains(ref, "@{") || ref == "@":
		return fmt.Errorf("a ref may not contain '..' or '@{', nor be '@'")
	}
	for _, r := range ref {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) {
			return fmt.Errorf("a ref may not contain control characters, spaces or any of ~^:?*[\\")
		}
	}
	for _, part := range strings.Split(ref, "/") {
		if part == "" || strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
			return fmt.Errorf("a ref's components may not be empty, start with '.' or end with '.lock'")
		}
	}
	return nil
}
