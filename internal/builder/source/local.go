package source

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
)

// FlagLocalGitRoot is the server flag that names where local git sources
// may be; the builder's failures name it.
const FlagLocalGitRoot = "--local-git-root"

// transportHelper matches git's "<transport>::<address>" URLs.
var transportHelper = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9+.-]*::`)

// isLocal reports whether git takes uri for a repository on this machine:
// a file:// URL, or anything that is neither a URL, a transport helper's
// address nor ssh's "host:path" (git reads "repo" and "../repo" as paths).
func isLocal(uri string) bool {
	if strings.HasPrefix(strings.ToLower(uri), "file://") {
		return true
	}
	if strings.Contains(uri, "://") || transportHelper.MatchString(uri) {
		return false
	}
	return !isSCPLike(uri)
}

// localSource checks a local source against root, the directory the
// admin allows them under (WithLocalGitRoot): it returns the repository's
// path with its symlinks resolved, for git to clone that path and not
// whatever the URI names by then. Its errors are the build's failure.
func localSource(uri, root string) (string, error) {
	if root == "" {
		return "", refused(fmt.Sprintf("local git source %q refused: repositories on the build node are allowed only under the directory named by slipway server's %s, which is not set", scrubURL(uri), FlagLocalGitRoot))
	}
	p := uri
	if strings.HasPrefix(strings.ToLower(uri), "file://") {
		u, err := url.Parse(uri)
		if err != nil {
			return "", refused(fmt.Sprintf("local git source %q: %v", scrubURL(uri), err))
		}
		if u.Host != "" && u.Host != "localhost" {
			return "", refused(fmt.Sprintf("local git source %q names a host: a file:// URL is file:///path", scrubURL(uri)))
		}
		p = u.Path
	}
	if !filepath.IsAbs(p) {
		return "", refused(fmt.Sprintf("local git source %q is not an absolute path", uri))
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", refused(fmt.Sprintf("%s %s: %v", FlagLocalGitRoot, root, err))
	}
	notUnder := refused(fmt.Sprintf("local git source %q is not under %s %s", scrubURL(uri), FlagLocalGitRoot, root))
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		// Whether a path outside the root exists is none of the build's
		// business.
		if !within(realRoot, filepath.Clean(p)) && !within(filepath.Clean(root), filepath.Clean(p)) {
			return "", notUnder
		}
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("repository %s does not exist", p)
		}
		return "", fmt.Errorf("repository %s: %w", p, err)
	}
	if !within(realRoot, resolved) {
		return "", notUnder
	}
	return resolved, nil
}
