package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	buildv1 "github.com/openshift/api/build/v1"
)

// clone clones build's git source into workDir and fills info from the
// checked-out commit; with a cache (WithCache) it copies a cached checkout
// of the same commit instead when there is one.
func clone(ctx context.Context, build *buildv1.Build, workDir, secretDir string, log io.Writer, o options, info *Info) error {
	uri := build.Spec.Source.Git.URI
	if uri == "" {
		return errors.New("spec.source.git.uri is empty")
	}
	// A local repository is cloned from its resolved path, not its URL:
	// git then copies it with hard links instead of packing every object
	// through upload-pack (about half the time).
	src := uri
	if isLocal(uri) {
		path, err := localSource(uri, o.localGitRoot)
		if err != nil {
			return err
		}
		src = path
	}
	if err := prepareCloneDir(workDir); err != nil {
		return err
	}

	g, err := newGit(build.Spec.Source.Git, secretDir, log, o)
	if err != nil {
		return err
	}
	defer g.cleanup()
	g.src = src
	if isLocal(uri) {
		g.localRoot = o.localGitRoot
	}

	if o.cacheDir != "" {
		return g.cloneWithCache(ctx, build, workDir, log, o, info)
	}
	fmt.Fprintf(log, "Cloning %q ...\n", scrubURL(uri))
	if !isLocal(uri) {
		// Contact the server once with a short deadline first (see
		// lsRemote). A repository on this machine cannot hang that way.
		if _, err := g.lsRemote(ctx, uri, o.connectTimeout, "--heads", "--", uri); err != nil {
			return err
		}
	}
	return g.cloneInto(ctx, build, workDir, log, info)
}

// cloneInto clones build's git source into workDir, updates its
// submodules, fills info and logs the commit.
func (g *git) cloneInto(ctx context.Context, build *buildv1.Build, workDir string, log io.Writer, info *Info) error {
	gitSrc := build.Spec.Source.Git
	if err := g.checkout(ctx, gitSrc.Ref, buildCommit(build), g.src, workDir); err != nil {
		return err
	}
	if err := g.updateSubmodules(ctx, workDir, 0); err != nil {
		return err
	}

	if err := g.describe(ctx, workDir, info); err != nil {
		return err
	}
	info.Location = gitSrc.URI
	if gitSrc.Ref != "" {
		info.Ref = gitSrc.Ref
	}
	logCommit(log, info)
	return nil
}

// maxSubmoduleDepth bounds the nesting of a local source's submodules.
const maxSubmoduleDepth = 10

// updateSubmodules checks out the submodules of the tree in dir, if it has
// any: "git submodule update" (and clone --recursive) cost a few git
// processes even when there are none. A remote source's may not be local
// (protocol.file.allow is not set for it); a local source's may be, under
// the local git root only, so they are initialized, checked and updated
// one level at a time.
func (g *git) updateSubmodules(ctx context.Context, dir string, depth int) error {
	if _, err := os.Stat(filepath.Join(dir, ".gitmodules")); err != nil {
		return nil
	}
	if g.localRoot == "" {
		_, err := g.run(ctx, dir, "submodule", "update", "--init", "--recursive", "--quiet")
		return err
	}
	if depth >= maxSubmoduleDepth {
		return fmt.Errorf("submodules nested deeper than %d", maxSubmoduleDepth)
	}
	if _, err := g.run(ctx, dir, "submodule", "--quiet", "init"); err != nil {
		return err
	}
	// init wrote each submodule's URL, relative ones made absolute.
	urls, err := g.run(ctx, dir, "config", "--local", "--null", "--get-regexp", `^submodule\..*\.url$`)
	if err != nil && !strings.Contains(err.Error(), "exit status 1") {
		return err
	}
	for _, item := range strings.Split(urls, "\x00") {
		_, url, ok := strings.Cut(item, "\n")
		if !ok || !isLocal(url) {
			continue
		}
		if _, err := localSource(url, g.localRoot); err != nil {
			return err
		}
	}
	if _, err := g.run(ctx, dir, "submodule", "update", "--quiet"); err != nil {
		return err
	}
	paths, err := g.run(ctx, dir, "submodule", "--quiet", "foreach", "pwd")
	if err != nil {
		return err
	}
	for _, p := range strings.Split(strings.TrimSpace(paths), "\n") {
		if p == "" {
			continue
		}
		if err := g.updateSubmodules(ctx, p, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// logCommit writes the checked-out commit to the build log.
func logCommit(log io.Writer, info *Info) {
	fmt.Fprintf(log, "\tCommit:\t%s (%s)\n\tAuthor:\t%s\n\tDate:\t%s\n", info.Commit, info.Message, info.Author, info.Date)
}

// lsRemote runs "git ls-remote args..." against uri with a deadline of
// timeout: git itself has no connect timeout for HTTP, so a black-holed
// host would otherwise hang the clone until the build's own deadline.
func (g *git) lsRemote(ctx context.Context, uri string, timeout time.Duration, args ...string) (string, error) {
	lsCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := g.run(lsCtx, "", append([]string{"ls-remote"}, args...)...)
	if err != nil {
		if lsCtx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			return "", fmt.Errorf("git server %s did not answer within %s", scrubURL(uri), timeout)
		}
		return "", err
	}
	return out, nil
}

// checkout clones src into workDir and checks out what the build asks
// for: commit when set, else ref, else the default branch. A branch or tag
// is cloned directly with --branch; the default branch is a shallow clone,
// as OpenShift's builder makes it; other refs (refs/pull/1/head,
// refs/changes/...) and commits need the whole history. ref and commit
// are checked (checkRevision), and git still gets them where it cannot
// take them for options wherever its commands allow: in "--branch=<ref>"
// and after "--".
func (g *git) checkout(ctx context.Context, ref, commit, src, workDir string) error {
	switch {
	case ref == "" && commit == "":
		_, err := g.run(ctx, "", "clone", "--depth=1", "--quiet", "--", src, workDir)
		return err
	case commit == "":
		_, err := g.run(ctx, "", "clone", "--quiet", "--branch="+ref, "--", src, workDir)
		if err == nil {
			return nil
		}
		// Not a branch or tag name: start again with the whole history.
		if rerr := emptyDir(workDir); rerr != nil {
			return rerr
		}
	}
	if _, err := g.run(ctx, "", "clone", "--quiet", "--", src, workDir); err != nil {
		return err
	}
	target := ref
	if commit != "" {
		target = commit
	}
	// checkout has no way to end its options before a revision that git
	// 2.39 reads right (--end-of-options is taken for a second one):
	// target never starts with "-" (checkRevision).
	if _, err := g.run(ctx, workDir, "checkout", "--quiet", target, "--"); err != nil {
		// Refs that clone does not fetch are fetched by name and checked
		// out detached.
		if _, ferr := g.run(ctx, workDir, "fetch", "--quiet", "--", "origin", target); ferr != nil {
			return err
		}
		if _, err := g.run(ctx, workDir, "checkout", "--quiet", "--detach", "FETCH_HEAD", "--"); err != nil {
			return err
		}
	}
	return nil
}

// buildCommit is the commit the build asks for (start-build --commit, a
// webhook's), "" for none.
func buildCommit(b *buildv1.Build) string {
	if rev := b.Spec.Revision; rev != nil && rev.Git != nil {
		return rev.Git.Commit
	}
	return ""
}

// emptyDir removes everything inside dir, keeping dir.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("emptying the work directory: %w", err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("emptying the work directory: %w", err)
		}
	}
	return nil
}

// prepareCloneDir makes sure dir exists and is empty, as git clone wants.
func prepareCloneDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating the work directory: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading the work directory: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("work directory %s is not empty", dir)
	}
	return nil
}

// describe reads the checked-out commit's id, people, date and subject.
func (g *git) describe(ctx context.Context, dir string, info *Info) error {
	out, err := g.run(ctx, dir, "log", "-1", "--format=%H%x00%an%x00%ae%x00%cn%x00%ce%x00%ad%x00%s", "HEAD", "--")
	if err != nil {
		return err
	}
	f := strings.Split(strings.TrimRight(out, "\n"), "\x00")
	if len(f) != 7 {
		return fmt.Errorf("unexpected git log output %q", out)
	}
	c := commitInfo{Commit: f[0], AuthorName: f[1], AuthorEmail: f[2], CommitterName: f[3], CommitterEmail: f[4], Date: f[5], Message: f[6]}
	c.fill(info)
	ref, err := headRef(dir)
	if err != nil {
		return err
	}
	info.Ref = ref
	return nil
}

// headRef is what "git rev-parse --abbrev-ref HEAD" prints, read from the
// clone's HEAD file rather than with one more git process: the branch's
// short name, or "HEAD" when detached.
func headRef(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, ".git", "HEAD"))
	if err != nil {
		return "", fmt.Errorf("reading the clone's HEAD: %w", err)
	}
	head := strings.TrimSpace(string(data))
	if target, ok := strings.CutPrefix(head, "ref: "); ok {
		return shortRef(target), nil
	}
	return "HEAD", nil
}

// shortRef is a symbolic ref's target as Info.Ref shows it: a branch by its
// short name, anything else in full.
func shortRef(target string) string {
	if branch, ok := strings.CutPrefix(target, "refs/heads/"); ok {
		return branch
	}
	return target
}

func person(name, email string) string {
	if email == "" {
		return name
	}
	return fmt.Sprintf("%s <%s>", name, email)
}

// git runs the git binary with an environment built for one source: no
// prompts, no user or system configuration (a source secret's .gitconfig
// only through userGitConfig's allow-list), the http, https, ssh and git
// transports only (and file for a local source), the source secret's
// credentials through a credential helper that reads them from the
// secret's files (so they are never in a URL, an argument or a log), and
// the build's proxies.
type git struct {
	env     []string
	secrets []string // values scrubbed from git's output
	tmpDir  string
	// src is what git clones: the URI, or a local source's resolved path.
	src string
	// localRoot is the local git root of a local source, "" for a
	// remote one.
	localRoot string
}

func newGit(src *buildv1.GitBuildSource, secretDir string, log io.Writer, o options) (*git, error) {
	g := &git{src: src.URI}
	var config [][2]string
	if secretDir != "" {
		if fi, err := os.Stat(filepath.Join(secretDir, ".gitconfig")); err == nil && !fi.IsDir() {
			// First: what follows wins over it.
			kept, secrets, err := userGitConfig(filepath.Join(secretDir, ".gitconfig"), secretDir, log)
			if err != nil {
				return nil, err
			}
			config, g.secrets = kept, secrets
		}
	}
	config = append(config,
		[2]string{"advice.detachedHead", "false"},
		[2]string{"http.lowSpeedLimit", "1"},
		[2]string{"http.lowSpeedTime", strconv.Itoa(int(o.lowSpeedTime.Seconds()))},
		// No transport helpers (ext::, fd::, remote-<name> programs on
		// PATH) nor local paths, unless allowed below.
		[2]string{"protocol.allow", "never"},
		[2]string{"protocol.http.allow", "always"},
		[2]string{"protocol.https.allow", "always"},
		[2]string{"protocol.ssh.allow", "always"},
		[2]string{"protocol.git.allow", "always"},
	)
	if isLocal(src.URI) {
		// git refuses file:// submodules by default (CVE-2022-39253); a
		// repository that is itself local may use them. Remote ones may not.
		config = append(config, [2]string{"protocol.file.allow", "always"})
	}
	sshCommand := []string{"ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=" + strconv.Itoa(int(o.connectTimeout.Seconds()))}

	if secretDir != "" {
		has := func(key string) bool {
			fi, err := os.Stat(filepath.Join(secretDir, key))
			return err == nil && !fi.IsDir()
		}
		if has("password") {
			config = append(config, [2]string{"credential.helper", credentialHelper(secretDir, has("username"))})
			if pw, err := os.ReadFile(filepath.Join(secretDir, "password")); err == nil && len(bytes.TrimSpace(pw)) > 0 {
				g.secrets = append(g.secrets, strings.TrimSpace(string(pw)))
			}
		}
		if has("ca.crt") {
			config = append(config, [2]string{"http.sslCAInfo", filepath.Join(secretDir, "ca.crt")})
		}
		if has("ssh-privatekey") {
			key, err := privateKeyFile(filepath.Join(secretDir, "ssh-privatekey"))
			if err != nil {
				return nil, err
			}
			g.tmpDir = filepath.Dir(key)
			sshCommand = append(sshCommand, "-i", shellQuote(key), "-o", "IdentitiesOnly=yes")
			if has("known_hosts") {
				sshCommand = append(sshCommand, "-o", "UserKnownHostsFile="+shellQuote(filepath.Join(secretDir, "known_hosts")), "-o", "StrictHostKeyChecking=yes")
			} else {
				sshCommand = append(sshCommand, "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no")
			}
		}
	}
	config = append(config, [2]string{"core.sshCommand", strings.Join(sshCommand, " ")})

	env := make([]string, 0, len(os.Environ())+2*len(config)+12)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		// GIT_SSL_NO_VERIFY and GIT_LFS_SKIP_SMUDGE are build env OpenShift
		// passes on to git; every other GIT_* would change what we set.
		if strings.HasPrefix(name, "GIT_") && name != "GIT_SSL_NO_VERIFY" && name != "GIT_LFS_SKIP_SMUDGE" ||
			name == "SSH_ASKPASS" || name == "LC_ALL" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"LC_ALL=C",
		"GIT_CONFIG_COUNT="+strconv.Itoa(len(config)),
	)
	for i, kv := range config {
		env = append(env, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, kv[0]), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, kv[1]))
	}
	// curl reads only the lower-case http_proxy; the others in both cases.
	if src.HTTPProxy != nil && *src.HTTPProxy != "" {
		env = append(env, "http_proxy="+*src.HTTPProxy)
		g.secrets = append(g.secrets, userinfoPassword(*src.HTTPProxy)...)
	}
	if src.HTTPSProxy != nil && *src.HTTPSProxy != "" {
		env = append(env, "https_proxy="+*src.HTTPSProxy, "HTTPS_PROXY="+*src.HTTPSProxy)
		g.secrets = append(g.secrets, userinfoPassword(*src.HTTPSProxy)...)
	}
	if src.NoProxy != nil && *src.NoProxy != "" {
		env = append(env, "no_proxy="+*src.NoProxy, "NO_PROXY="+*src.NoProxy)
	}
	g.env = env
	return g, nil
}

func (g *git) cleanup() {
	if g.tmpDir != "" {
		os.RemoveAll(g.tmpDir)
	}
}

// run runs git in dir ("" for the current directory) and returns its
// stdout. The error carries git's stderr, scrubbed of credentials. The
// whole process group is killed when ctx ends, since git leaves helpers
// (git-remote-https, ssh) that would otherwise keep running.
func (g *git) run(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = g.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		msg := strings.TrimSpace(g.scrub(stderr.String()))
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		if msg != "" {
			return "", fmt.Errorf("git %s: %w: %s", args[0], err, msg)
		}
		return "", fmt.Errorf("git %s: %w", args[0], err)
	}
	return stdout.String(), nil
}

// scrub removes the user info of URLs and every known secret value from s.
func (g *git) scrub(s string) string {
	s = scrubURLs(s)
	for _, secret := range g.secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "<redacted>")
		}
	}
	return s
}

// credentialHelper returns a git credential helper (a shell snippet, as
// "!..." in credential.helper) that answers "get" with the username and
// password files of dir. Without a username file the user name is
// "builder": git needs one, and token-based servers ignore it.
func credentialHelper(dir string, withUsername bool) string {
	var b strings.Builder
	b.WriteString(`!f() { test "$1" = get || exit 0; `)
	if withUsername {
		fmt.Fprintf(&b, `printf 'username=%%s\n' "$(cat %s)"; `, shellQuote(filepath.Join(dir, "username")))
	} else {
		b.WriteString(`printf 'username=%s\n' builder; `)
	}
	fmt.Fprintf(&b, `printf 'password=%%s\n' "$(cat %s)"; }; f`, shellQuote(filepath.Join(dir, "password")))
	return b.String()
}

// privateKeyFile copies an SSH key to a private temporary file: ssh
// refuses keys readable by others, and secret volumes need not be 0600.
func privateKeyFile(path string) (string, error) {
	key, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the source secret's ssh-privatekey: %w", err)
	}
	dir, err := os.MkdirTemp("", "slipway-ssh-")
	if err != nil {
		return "", fmt.Errorf("storing the ssh key: %w", err)
	}
	out := filepath.Join(dir, "id")
	if len(key) > 0 && key[len(key)-1] != '\n' {
		key = append(key, '\n')
	}
	if err := os.WriteFile(out, key, 0o600); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("storing the ssh key: %w", err)
	}
	return out, nil
}

// shellQuote quotes s for sh between single quotes.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
