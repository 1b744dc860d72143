// Package build runs a Docker-strategy build on the shared buildkitd: it
// solves the Dockerfile frontend on a local context dir and, when an output
// is set, pushes the image straight from buildkitd to the registry with the
// push secret's credentials. Failures come back as *failure.Failure with
// OpenShift's reasons.
package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	bkclient "github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/util/progress/progressui"
	digest "github.com/opencontainers/go-digest"
	buildv1 "github.com/openshift/api/build/v1"
	"github.com/tonistiigi/fsutil"
	"golang.org/x/sync/errgroup"

	"github.com/slipway-dev/slipway/internal/builder/dockerfile"
	"github.com/slipway-dev/slipway/internal/builder/failure"
	"github.com/slipway-dev/slipway/internal/builder/loginlock"
	"github.com/slipway-dev/slipway/internal/image"
)

// Options is one build.
type Options struct {
	// Address is buildkitd's address (BUILDKIT_HOST).
	Address string
	// ContextDir is the build context on local disk.
	ContextDir string
	// DockerfilePath is relative to ContextDir; empty means "Dockerfile".
	DockerfilePath string
	// BuildArgs become --build-arg values.
	BuildArgs map[string]string
	// NoCache disables the layer cache; Pull re-resolves every FROM image
	// (dockerStrategy.forcePull).
	NoCache bool
	Pull    bool
	// Output is the image reference pushed to; empty builds without a push.
	Output string
	// PushAuth and PullAuth are the push and pull secrets' credentials.
	PushAuth Keyring
	PullAuth Keyring
	// Log receives the progress as plain text lines ("#5 CACHED").
	Log io.Writer
	// Timings adds when each step started and ended, relative to the
	// solve's start, to the log (BUILD_LOGLEVEL 5 and up).
	Timings bool
}

// Result is what a successful build produced.
type Result struct {
	// Digest is the pushed manifest's digest (empty when nothing was pushed).
	Digest string
	// BaseImages are the digests the build's FROM images resolved to, by
	// their names as the FROM steps show them ("docker.io/library/
	// busybox:latest"), read off those steps' names.
	BaseImages map[string]digest.Digest
}

// Run builds (and pushes) the image and reports which step failed.
func Run(ctx context.Context, opts Options) (res *Result, err error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	dockerfilePath := opts.DockerfilePath
	if dockerfilePath == "" {
		dockerfilePath = "Dockerfile"
	}

	contextFS, err := fsutil.NewFS(opts.ContextDir)
	if err != nil {
		return nil, failure.New(buildv1.StatusReasonDockerBuildFailed, "Docker build strategy has failed.", fmt.Errorf("build context: %w", err))
	}
	definition, err := definitionInput(opts.ContextDir, dockerfilePath)
	if err != nil {
		return nil, failure.New(buildv1.StatusReasonDockerBuildFailed, "Docker build strategy has failed.", err)
	}

	// A registry that never answers would hold the pull or the push (and
	// the build) forever: a watchdog beside the build ends it then. It is
	// off the build's path, and a quick build never starts it.
	ctx, stopWatchdog := watchRegistries(ctx, opts.ContextDir, dockerfilePath, opts.Output, RegistryWatchDelay, RegistryAnswerTimeout)
	defer func() {
		if silent := stopWatchdog(); silent != nil && err != nil {
			res, err = nil, silent
		}
	}()

	c, err := bkclient.New(ctx, opts.Address)
	if err != nil {
		return nil, failure.New(buildv1.StatusReasonDockerBuildFailed, "Docker build strategy has failed.", fmt.Errorf("connecting to buildkitd at %s: %w", opts.Address, err))
	}
	defer c.Close()
	s := &solver{client: c, lockDir: loginlock.Dir(opts.Address), log: opts.Log, timings: opts.Timings}

	base := bkclient.SolveOpt{
		Frontend:       "dockerfile.v0",
		FrontendAttrs:  frontendAttrs(filepath.Base(dockerfilePath), opts),
		LocalMounts:    map[string]fsutil.FS{"context": contextFS},
		FrontendInputs: map[string]llb.State{"dockerfile": definition},
	}
	pullFirst := overlay(opts.PullAuth, opts.PushAuth)
	if opts.Output == "" {
		if _, steps, err := s.solve(ctx, base, pullFirst); err != nil {
			return nil, classify(err, steps, "")
		}
		return s.result(nil), nil
	}

	outputHost, err := registryOf(opts.Output)
	if err != nil {
		return nil, failure.New(buildv1.StatusReasonInvalidOutputReference, "Output image could not be resolved.", err)
	}
	export := base
	export.Exports = []bkclient.ExportEntry{{
		Type: bkclient.ExporterImage,
		// store=false: the image goes to the registry only. Kept in
		// buildkitd's own image store as well, it cost two naming
		// transactions and a check of every layer per build, for an
		// image nothing reads back from there.
		Attrs: map[string]string{"name": opts.Output, "push": "true", "store": "false"},
	}}
	exportAuth := pushFirst(opts.PushAuth, opts.PullAuth, outputHost)

	pushLogin, pushHas := opts.PushAuth.Lookup(outputHost)
	pullLogin, pullHas := opts.PullAuth.Lookup(outputHost)
	if pushHas && pullHas && pushLogin != pullLogin {
		// BuildKit asks for one login per host and solve, so when the pull
		// and push secrets disagree on the output's registry, build first
		// with the pull login, then export from the cache with the push
		// login: a failure of the second solve is the push's.
		if _, steps, err := s.solve(ctx, base, pullFirst); err != nil {
			return nil, classify(err, steps, "")
		}
		resp, _, err := s.solve(ctx, export, exportAuth)
		if err != nil {
			return nil, pushFailure(err, opts.Output)
		}
		return s.result(resp), nil
	}
	resp, steps, err := s.solve(ctx, export, exportAuth)
	if err != nil {
		return nil, classify(err, steps, opts.Output)
	}
	return s.result(resp), nil
}

// solver runs solves on one buildkitd connection.
type solver struct {
	client *bkclient.Client
	// bases collects the FROM images' digests over the solves.
	bases baseImages
	// lockDir is the login lock directory ("" for none).
	lockDir string
	log     io.Writer
	timings bool
}

// result is what the solves found, with resp's pushed digest (nil resp:
// nothing was pushed).
func (s *solver) result(resp *bkclient.SolveResponse) *Result {
	r := &Result{BaseImages: s.bases.found}
	if resp != nil {
		r.Digest = resp.ExporterResponse[exptypes.ExporterImageDigestKey]
	}
	return r
}

// solve runs one solve whose session answers with auth's logins, printing
// its progress to the log, and returns the names of the steps that
// failed. It holds the login lock for auth while the session lives.
func (s *solver) solve(ctx context.Context, opt bkclient.SolveOpt, auth Keyring) (*bkclient.SolveResponse, []string, error) {
	release, err := loginlock.Acquire(ctx, s.lockDir, auth.logins(), func() {
		fmt.Fprintln(s.log, "Waiting for builds with other registry logins to finish on buildkitd ...")
	})
	if err != nil {
		return nil, nil, err
	}
	defer release()
	opt.Session = []session.Attachable{authProvider(auth)}
	var steps *stepTimes
	if s.timings {
		steps = &stepTimes{start: time.Now()}
		defer steps.print(s.log)
	}

	display, err := progressui.NewDisplay(s.log, progressui.PlainMode)
	if err != nil {
		return nil, nil, fmt.Errorf("progress display: %w", err)
	}
	statusCh := make(chan *bkclient.SolveStatus)
	displayCh := make(chan *bkclient.SolveStatus)
	failed := &failedSteps{}

	var resp *bkclient.SolveResponse
	eg, egCtx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		var err error
		resp, err = s.client.Solve(egCtx, nil, opt, statusCh)
		return err
	})
	eg.Go(func() error {
		// Tee: remember failed steps for the failure reason, and print.
		defer close(displayCh)
		for st := range statusCh {
			failed.record(st)
			steps.record(st)
			s.bases.record(st)
			displayCh <- st
		}
		return nil
	})
	eg.Go(func() error {
		// The display must drain displayCh even when ctx ends, so it gets
		// a context that is never cancelled; the channel closing ends it.
		_, err := display.UpdateFrom(context.WithoutCancel(ctx), displayCh)
		return err
	})
	err = eg.Wait()
	return resp, failed.names(), err
}

// definitionInput is the Dockerfile as the frontend's "dockerfile" input:
// an LLB state that makes the file inside buildkitd, instead of a local
// dir the frontend reads back from the builder over the session. The
// ignore file travels with it as <Dockerfile>.dockerignore, which the
// frontend reads from the same input and then loads no .dockerignore from
// the context: the Dockerfile's own ignore file when it has one, else the
// context's .dockerignore, as Docker picks them. That is one step less per
// build: the frontend's separate load of .dockerignore over the session.
// dockerfilePath is relative to contextDir; both files are read through an
// os.Root of contextDir, so a link out of it is not followed.
func definitionInput(contextDir, dockerfilePath string) (llb.State, error) {
	root, err := os.OpenRoot(contextDir)
	if err != nil {
		return llb.State{}, fmt.Errorf("opening the build context: %w", err)
	}
	defer root.Close()
	data, err := dockerfile.ReadFile(root, dockerfilePath)
	if err != nil {
		return llb.State{}, fmt.Errorf("reading the Dockerfile: %w", err)
	}
	// Never empty: an empty ignore file reads as none, and the frontend
	// would fetch the context's .dockerignore itself.
	ignore := []byte("# no .dockerignore\n")
	for _, path := range []string{dockerfilePath + ".dockerignore", ".dockerignore"} {
		dt, err := dockerfile.ReadFile(root, path)
		if err == nil {
			ignore = append(dt, '\n')
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return llb.State{}, fmt.Errorf("reading %s: %w", filepath.Base(path), err)
		}
	}
	name := filepath.Base(dockerfilePath)
	return llb.Scratch().File(
		llb.Mkfile(name, 0o644, data).Mkfile(name+".dockerignore", 0o644, ignore),
		llb.WithCustomName("[internal] load build definition from "+name),
	), nil
}

// registryOf is the registry host of an image reference (docker.io for
// Docker Hub), as keyrings key it.
func registryOf(ref string) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("output image %q: %w", ref, err)
	}
	return image.RegistryHost(r.Context().RegistryStr()), nil
}

// frontendAttrs turns the build options into dockerfile frontend attrs.
func frontendAttrs(filename string, opts Options) map[string]string {
	attrs := map[string]string{"filename": filename}
	for k, v := range opts.BuildArgs {
		attrs["build-arg:"+k] = v
	}
	if opts.NoCache {
		attrs["no-cache"] = ""
	}
	if opts.Pull {
		attrs["image-resolve-mode"] = "pull"
	}
	return attrs
}

// stepTimes collects when each vertex of a solve started and completed.
type stepTimes struct {
	start time.Time
	order []digest.Digest
	steps map[digest.Digest]*bkclient.Vertex
}

// record runs on the one goroutine that reads the status channel.
func (t *stepTimes) record(s *bkclient.SolveStatus) {
	if t == nil {
		return
	}
	if t.steps == nil {
		t.steps = map[digest.Digest]*bkclient.Vertex{}
	}
	for _, v := range s.Vertexes {
		if _, seen := t.steps[v.Digest]; !seen {
			t.order = append(t.order, v.Digest)
		}
		t.steps[v.Digest] = v
	}
}

// print writes one line per step: its start and end in milliseconds
// from the solve's start, and whether it was cached.
func (t *stepTimes) print(w io.Writer) {
	fmt.Fprintf(w, "Step timings (ms from the start of the solve, %d ms in all):\n", time.Since(t.start).Milliseconds())
	for _, d := range t.order {
		v := t.steps[d]
		if v.Started == nil {
			continue
		}
		end := "-"
		if v.Completed != nil {
			end = strconv.FormatInt(v.Completed.Sub(t.start).Milliseconds(), 10)
		}
		cached := ""
		if v.Cached {
			cached = " (cached)"
		}
		fmt.Fprintf(w, "  %5d %5s  %s%s\n", v.Started.Sub(t.start).Milliseconds(), end, v.Name, cached)
	}
}

// fromStep is the name of a FROM step with the digest its image resolved
// to: "[1/2] FROM docker.io/library/busybox:latest@sha256:..." (also
// "[stage 1/2] ...").
var fromStep = regexp.MustCompile(`^\[[^\]]*\] FROM (\S+)@(sha256:[0-9a-f]{64})$`)

// baseImages collects the digests of the FROM steps of a solve; record
// runs on the one goroutine that reads the status channel, found is read
// once the solve is over.
type baseImages struct {
	found map[string]digest.Digest
}

func (b *baseImages) record(s *bkclient.SolveStatus) {
	for _, v := range s.Vertexes {
		if m := fromStep.FindStringSubmatch(v.Name); m != nil {
			if b.found == nil {
				b.found = map[string]digest.Digest{}
			}
			b.found[m[1]] = digest.Digest(m[2])
		}
	}
}

// failedSteps collects the names of vertices that reported an error.
type failedSteps struct {
	mu    sync.Mutex
	steps map[string]string
}

func (f *failedSteps) record(s *bkclient.SolveStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, v := range s.Vertexes {
		if v.Error == "" || strings.Contains(v.Error, "context canceled") {
			continue
		}
		if f.steps == nil {
			f.steps = map[string]string{}
		}
		f.steps[v.Name] = v.Error
	}
}

func (f *failedSteps) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.steps))
	for n := range f.steps {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// classify maps a solve error to OpenShift's failure reasons: a FROM image
// that cannot be resolved or fetched is PullBuilderImageFailed, the export's
// push is PushImageToRegistryFailed (with the registry's words), anything
// else DockerBuildFailed naming the failing step.
func classify(err error, failedSteps []string, output string) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return failure.New(buildv1.StatusReasonDockerBuildFailed, "Docker build strategy has failed: the build was interrupted.", err)
	}
	detail := strings.TrimPrefix(err.Error(), "failed to solve: ")
	for _, step := range failedSteps {
		switch {
		case isPullStep(step):
			return failure.New(buildv1.StatusReasonPullBuilderImageFailed,
				fmt.Sprintf("Failed pulling builder image: %s", detail), err)
		case isPushStep(step):
			return pushFailure(err, output)
		}
	}
	switch {
	case strings.Contains(detail, "failed to resolve source metadata"):
		return failure.New(buildv1.StatusReasonPullBuilderImageFailed,
			fmt.Sprintf("Failed pulling builder image: %s", detail), err)
	case output != "" && strings.Contains(detail, "failed to push"):
		return pushFailure(err, output)
	}
	msg := "Docker build strategy has failed"
	if len(failedSteps) > 0 {
		msg += " at step " + strings.Join(failedSteps, ", ")
	}
	return failure.New(buildv1.StatusReasonDockerBuildFailed, msg+": "+detail, err)
}

// pushFailure is PushImageToRegistryFailed with the registry's words.
func pushFailure(err error, output string) error {
	detail := strings.TrimPrefix(err.Error(), "failed to solve: ")
	return failure.New(buildv1.StatusReasonPushImageToRegistryFailed,
		"Failed to push the image to the registry: "+registryMessage(detail, output), err)
}

// isPullStep is true for the vertices that resolve or fetch a FROM image.
func isPullStep(name string) bool {
	if strings.HasPrefix(name, "[internal] load metadata for ") {
		return true
	}
	// "[1/3] FROM docker.io/library/busybox:latest@sha256:..." or "[stage 1/3] FROM ..."
	if i := strings.Index(name, "] FROM "); i > 0 && strings.HasPrefix(name, "[") {
		return true
	}
	return false
}

// isPushStep is true for the export vertices of an image push.
func isPushStep(name string) bool {
	return name == "exporting to image" || strings.HasPrefix(name, "pushing ")
}

// registryMessage keeps the registry's own words ("unauthorized:
// authentication required") and drops containerd's wrapping around them.
// Answers to HEAD requests have no body, so their status stands for the
// distribution error the registry sends with it.
func registryMessage(detail, output string) string {
	for _, marker := range []string{"server message: ", "unexpected status: "} {
		if i := strings.LastIndex(detail, marker); i >= 0 {
			return fmt.Sprintf("pushing %s: %s", output, detail[i+len(marker):])
		}
	}
	switch {
	case strings.Contains(detail, "401 Unauthorized"):
		return fmt.Sprintf("pushing %s: unauthorized: authentication required", output)
	case strings.Contains(detail, "403 Forbidden"):
		return fmt.Sprintf("pushing %s: denied: requested access to the resource is denied", output)
	}
	return detail
}
