package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	buildv1 "github.com/openshift/api/build/v1"
	buildclient "github.com/openshift/client-go/build/clientset/versioned"
)

// defaultBinaryExclude is oc's default --exclude: the .git directory.
const defaultBinaryExclude = `(^|/)\.git(/|$)`

// binaryInput is what start-build --from-* sends to instantiatebinary.
type binaryInput struct {
	body     io.ReadCloser
	asFile   string
	revision *buildv1.GitSourceRevision
}

// isBinary reports whether a --from-* binary source was given.
func (o *startBuildOptions) isBinary() bool {
	return o.FromDir != "" || o.FromFile != "" || o.FromArchive != "" || o.FromRepo != ""
}

// binaryInput opens the one --from-* source given.
func (o *startBuildOptions) binaryInput(ctx context.Context) (*binaryInput, error) {
	n := 0
	for _, s := range []string{o.FromDir, o.FromFile, o.FromArchive, o.FromRepo} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		return nil, errors.New("only one of --from-file, --from-dir, --from-archive or --from-repo may be given")
	}
	if o.FromBuild != "" {
		return nil, errors.New("--from-build may not be combined with a binary source")
	}
	if o.Commit != "" && o.FromRepo == "" {
		return nil, errors.New("--commit may only be given with --from-repo for a binary build")
	}
	switch {
	case o.FromFile != "":
		if u, err := url.Parse(o.FromFile); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.FromFile, nil)
			if err != nil {
				return nil, err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return nil, err
			}
			if resp.StatusCode != http.StatusOK {
				resp.Body.Close()
				return nil, fmt.Errorf("downloading %s: %s", o.FromFile, resp.Status)
			}
			return &binaryInput{body: resp.Body, asFile: path.Base(u.Path)}, nil
		}
		f, err := os.Open(o.FromFile)
		if err != nil {
			return nil, err
		}
		return &binaryInput{body: f, asFile: filepath.Base(o.FromFile)}, nil
	case o.FromArchive != "":
		f, err := os.Open(o.FromArchive)
		if err != nil {
			return nil, err
		}
		return &binaryInput{body: f}, nil
	case o.FromDir != "":
		exclude, err := regexp.Compile(o.Exclude)
		if err != nil {
			return nil, fmt.Errorf("--exclude: %w", err)
		}
		if fi, err := os.Stat(o.FromDir); err != nil {
			return nil, err
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("--from-dir %s is not a directory", o.FromDir)
		}
		r, w := io.Pipe()
		go func() { w.CloseWithError(tarGzDir(o.FromDir, exclude, w)) }()
		return &binaryInput{body: r}, nil
	default:
		return repoInput(ctx, o.FromRepo, o.Commit)
	}
}

// tarGzDir writes dir as a gzip'd tar to w, leaving out the paths
// (relative, slash-separated) exclude matches.
func tarGzDir(dir string, exclude *regexp.Regexp, w io.Writer) error {
	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if exclude.MatchString(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = rel
		if d.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}

// repoInput archives commit (HEAD by default) of the git repository at
// dir as a tar, with the commit's metadata as the build's revision.
func repoInput(ctx context.Context, dir, commit string) (*binaryInput, error) {
	if commit == "" {
		commit = "HEAD"
	}
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "log", "-1", "--format=%H%x00%an%x00%ae%x00%cn%x00%ce%x00%s", commit).Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return nil, fmt.Errorf("--from-repo %s: %s", dir, strings.TrimSpace(string(exit.Stderr)))
		}
		return nil, fmt.Errorf("--from-repo %s: %w", dir, err)
	}
	f := strings.Split(strings.TrimRight(string(out), "\n"), "\x00")
	if len(f) != 6 {
		return nil, fmt.Errorf("--from-repo %s: unexpected git log output", dir)
	}
	rev := &buildv1.GitSourceRevision{Commit: f[0], Message: f[5],
		Author:    buildv1.SourceControlUser{Name: f[1], Email: f[2]},
		Committer: buildv1.SourceControlUser{Name: f[3], Email: f[4]}}
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "archive", "--format=tar", f[0])
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	r, w := io.Pipe()
	cmd.Stdout = w
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		err := cmd.Wait()
		if err != nil {
			err = fmt.Errorf("git archive: %v: %s", err, strings.TrimSpace(stderr.String()))
		}
		w.CloseWithError(err)
	}()
	return &binaryInput{body: r, revision: rev}, nil
}

// instantiateBinary posts in to buildconfigs/<name>/instantiatebinary;
// the answer comes once the build's pod has read the input.
func instantiateBinary(ctx context.Context, builds buildclient.Interface, namespace, name string, in *binaryInput) (*buildv1.Build, error) {
	req := builds.BuildV1().RESTClient().Post().Namespace(namespace).Resource("buildconfigs").Name(name).
		SubResource("instantiatebinary").Body(in.body)
	if in.asFile != "" {
		req = req.Param("asFile", in.asFile)
	}
	if r := in.revision; r != nil {
		for k, v := range map[string]string{
			"revision.commit": r.Commit, "revision.message": r.Message,
			"revision.authorName": r.Author.Name, "revision.authorEmail": r.Author.Email,
			"revision.committerName": r.Committer.Name, "revision.committerEmail": r.Committer.Email,
		} {
			if v != "" {
				req = req.Param(k, v)
			}
		}
	}
	b := &buildv1.Build{}
	if err := req.Do(ctx).Into(b); err != nil {
		return nil, err
	}
	return b, nil
}
