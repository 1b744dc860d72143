package source

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// A source secret's .gitconfig is the project's, and git runs as the node's
// user: many keys run a command (credential.helper, core.sshCommand,
// core.fsmonitor, core.hooksPath, core.gitProxy, filter.*, diff drivers),
// open other files (include.path) or reach other transports (protocol.*,
// url.*.insteadOf to a path or ext::). So git never reads the file itself:
// userGitConfig keeps the keys below, and the rest are named in the build
// log as ignored.
var (
	// gitConfigKeys are the keys kept as they are, by section.
	gitConfigKeys = map[string][]string{
		"user": {"name", "email"},
		"core": {"autocrlf", "eol", "safecrlf"},
		// Also per URL (http.<url>.<key>). http.sslCAInfo and friends
		// name files: pathKeys.
		"http": {"sslverify", "sslversion", "extraheader", "proxy", "version", "postbuffer"},
	}
	// gitConfigPathKeys are http keys naming a file, kept when the file
	// is inside the source secret's directory.
	gitConfigPathKeys = []string{"sslcainfo", "sslcapath", "sslcert", "sslkey"}
)

// userGitConfig reads the .gitconfig at path (a key of the source secret
// mounted at secretDir) and returns the keys git may be given, as
// key/value pairs for GIT_CONFIG_KEY_n, and the values to scrub from
// git's output (headers, proxy passwords). It logs the keys it ignores.
func userGitConfig(path, secretDir string, log io.Writer) (kept [][2]string, secrets []string, err error) {
	// git config with --file reads that file only, without its includes:
	// it runs nothing the file names.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "config", "--file", path, "--no-includes", "--null", "--list")
	cmd.Dir = "/"
	cmd.Env = append(gitFreeEnv(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "LC_ALL=C")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, nil, fmt.Errorf("reading the source secret's .gitconfig: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var ignored []string
	for _, item := range strings.Split(stdout.String(), "\x00") {
		if item == "" {
			continue
		}
		key, value, hasValue := strings.Cut(item, "\n")
		if !hasValue {
			value = "true" // "[section] key" alone is a true boolean
		}
		v, ok := allowedGitConfig(key, value, secretDir)
		if !ok {
			if !slices.Contains(ignored, key) {
				ignored = append(ignored, key)
			}
			continue
		}
		kept = append(kept, [2]string{key, v})
		section, _, name := splitConfigKey(key)
		switch {
		case section == "http" && name == "extraheader":
			secrets = append(secrets, v)
			if _, credential, ok := strings.Cut(v, ":"); ok && strings.TrimSpace(credential) != "" {
				secrets = append(secrets, strings.TrimSpace(credential))
			}
		case section == "http" && name == "proxy":
			secrets = append(secrets, userinfoPassword(v)...)
		}
	}
	if len(ignored) > 0 {
		fmt.Fprintf(log, "warning: the source secret's .gitconfig sets keys builds do not use; ignored: %s\n", strings.Join(ignored, ", "))
	}
	return kept, secrets, nil
}

// allowedGitConfig returns the value git gets for key (section and name in
// lower case, as git config --list prints them), and false for a key
// builds do not take from a source secret.
func allowedGitConfig(key, value, secretDir string) (string, bool) {
	section, sub, name := splitConfigKey(key)
	switch section {
	case "user", "core":
		return value, sub == "" && slices.Contains(gitConfigKeys[section], name)
	case "http":
		if slices.Contains(gitConfigKeys["http"], name) {
			return value, true
		}
		if slices.Contains(gitConfigPathKeys, name) {
			return fileInside(value, secretDir)
		}
	case "url":
		// url.<base>.insteadOf rewrites to <base>: only to a server.
		return value, name == "insteadof" && isNetworkURL(sub)
	}
	return "", false
}

// splitConfigKey splits "section.sub.section.name" into its parts; sub
// may hold dots (a URL).
func splitConfigKey(key string) (section, sub, name string) {
	first, last := strings.IndexByte(key, '.'), strings.LastIndexByte(key, '.')
	if first < 0 {
		return key, "", ""
	}
	if first == last {
		return key[:first], "", key[last+1:]
	}
	return key[:first], key[first+1 : last], key[last+1:]
}

// fileInside returns the absolute, resolved path of p (relative to dir
// when not absolute), and false when it is not inside dir.
func fileInside(p, dir string) (string, bool) {
	if dir == "" || strings.HasPrefix(p, "~") {
		return "", false
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", false
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", false
	}
	return resolved, within(root, resolved)
}

// within reports whether path is root or below it; both are clean and
// free of symlinks.
func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}

// isNetworkURL reports whether uri names a git server git may reach
// without running anything of ours: http(s), ssh, git, or ssh's scp form.
func isNetworkURL(uri string) bool {
	if scheme, _, ok := strings.Cut(uri, "://"); ok {
		switch strings.ToLower(scheme) {
		case "http", "https", "ssh", "git", "git+ssh", "ssh+git":
			return true
		}
		return false
	}
	return isSCPLike(uri)
}

// isSCPLike reports whether uri is ssh's "[user@]host:path", as git tells
// it from a local path: a colon before any slash, and no transport helper
// ("<name>::").
func isSCPLike(uri string) bool {
	colon := strings.IndexByte(uri, ':')
	if colon <= 0 || strings.HasPrefix(uri, "-") || strings.Contains(uri, "::") {
		return false
	}
	slash := strings.IndexByte(uri, '/')
	return slash < 0 || colon < slash
}

// gitFreeEnv is this process's environment without git's own variables
// (GIT_DIR, GIT_CONFIG_*, ...), which would change what git reads.
func gitFreeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "GIT_") || name == "LC_ALL" {
			continue
		}
		env = append(env, kv)
	}
	return env
}
