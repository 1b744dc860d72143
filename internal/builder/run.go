// Package builder is `slipway builder`, the process a build pod runs: it
// fetches the source, prepares the Dockerfile, builds and pushes the image
// on the shared buildkitd and reports the outcome through
// builds/<name>/details.
//
// OpenShift splits this work over the init containers git-clone and
// manage-dockerfile and the main container docker-build; Slipway runs every
// step in the one docker-build container, so one process owns the work dir
// and the log.
package builder

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	buildv1 "github.com/openshift/api/build/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/builder/build"
	"github.com/slipway-dev/slipway/internal/builder/dockerfile"
	"github.com/slipway-dev/slipway/internal/builder/failure"
	"github.com/slipway-dev/slipway/internal/builder/source"
	"github.com/slipway-dev/slipway/internal/podenv"
)

// Reporter writes the builder's findings to builds/<name>/details; apply
// sets them on the current Build.
type Reporter interface {
	ReportDetails(ctx context.Context, apply func(*buildv1.Build)) error
}

// connector is a Reporter that can open its connection ahead of need.
type connector interface {
	Connect(ctx context.Context)
}

// Job is one run of the builder, filled from the pod's environment.
type Job struct {
	Build *buildv1.Build
	// WorkDir holds the clone (WorkDir/inputs).
	WorkDir string
	// BuildkitAddress is buildkitd's address.
	BuildkitAddress string
	// SourceCache is the node's cache of git checkouts, shared by its
	// builders; "" for none (source.WithCache).
	SourceCache string
	// LocalGitRoot is where git sources on this machine may be; "" for
	// nowhere (source.WithLocalGitRoot).
	LocalGitRoot string
	// PushSecretDir, PullSecretDir and SourceSecretDir are the mounted
	// secrets' directories, "" when absent.
	PushSecretDir, PullSecretDir, SourceSecretDir string
	// LogLevel is BUILD_LOGLEVEL: from 5 on, the log shows each build
	// step's timing.
	LogLevel int
	// TerminationLog receives a one-line failure message ("" for none).
	TerminationLog string
	// Out is the build log.
	Out io.Writer
	// Stdin is a binary build's input (the pod's stdin); nil reads none.
	Stdin io.Reader
	// Reporter reports to the API; nil reports nothing.
	Reporter Reporter
}

// Outcome is what a successful job produced.
type Outcome struct {
	Source *source.Info
	Digest string
}

// Run performs the job. On failure it reports the reason and message,
// writes the termination log and returns the *failure.Failure.
func Run(ctx context.Context, job Job) (*Outcome, error) {
	if job.Out == nil {
		job.Out = io.Discard
	}
	if c, ok := job.Reporter.(connector); ok {
		go c.Connect(ctx)
	}
	var stages []buildv1.StageInfo
	out, err := run(ctx, job, &stages)
	if err != nil {
		f := failure.As(err)
		fmt.Fprintf(job.Out, "error: %s\n", f.Message)
		// One line: the pod's terminated.message, the build's logSnippet.
		podenv.WriteTerminationMessage(job.TerminationLog, f.Message)
		if job.Reporter != nil {
			rerr := job.Reporter.ReportDetails(ctx, func(b *buildv1.Build) {
				if out != nil && out.Source != nil {
					b.Spec.Revision = out.Source.SourceRevision()
				}
				applyFailure(b, f, stages)
			})
			if rerr != nil {
				fmt.Fprintf(job.Out, "warning: reporting the failure: %v\n", rerr)
			}
		}
		return nil, f
	}
	if job.Reporter != nil {
		if err := job.Reporter.ReportDetails(ctx, func(b *buildv1.Build) { applySuccess(b, out, stages) }); err != nil {
			return out, failure.New(buildv1.StatusReasonGenericBuildFailed, "Failed to report the build's details.", err)
		}
	}
	return out, nil
}

// run does the work; the Outcome may be partial on failure (the source
// revision is still worth reporting).
func run(ctx context.Context, job Job, stages *[]buildv1.StageInfo) (*Outcome, error) {
	b := job.Build
	if b.Spec.Strategy.DockerStrategy == nil {
		return nil, failure.New(buildv1.StatusReasonGenericBuildFailed,
			fmt.Sprintf("Slipway's builder runs Docker-strategy builds only, not %s.", b.Spec.Strategy.Type), nil)
	}
	out := &Outcome{}

	fetchStart := time.Now()
	inputs := filepath.Join(job.WorkDir, "inputs")
	if bin := b.Spec.Source.Binary; bin != nil {
		if job.Stdin == nil {
			return out, failure.New(buildv1.StatusReasonFetchSourceFailed, source.MessageFetchSourceFailed, errors.New("a binary build needs its input on stdin"))
		}
		if bin.AsFile != "" {
			fmt.Fprintf(job.Out, "Receiving source from STDIN as file %s\n", bin.AsFile)
		} else {
			fmt.Fprintln(job.Out, "Receiving source from STDIN as archive ...")
		}
		if err := source.ExtractBinary(job.Stdin, inputs, bin.AsFile); err != nil {
			addStage(stages, buildv1.StageFetchInputs, buildv1.StepFetchGitSource, fetchStart)
			return out, failure.New(buildv1.StatusReasonFetchSourceFailed, source.MessageFetchSourceFailed, err)
		}
	}
	info, err := source.Fetch(ctx, b, inputs, job.SourceSecretDir, job.Out, source.WithCache(job.SourceCache), source.WithLocalGitRoot(job.LocalGitRoot))
	addStage(stages, buildv1.StageFetchInputs, buildv1.StepFetchGitSource, fetchStart)
	if err != nil {
		return out, err
	}
	out.Source = info
	rel, err := dockerfile.RelativePath(b)
	if err != nil {
		return out, failure.New(buildv1.StatusReasonManageDockerfileFailed, dockerfile.MessageManageDockerfileFailed, err)
	}
	pin := newBasePin(b, job.BuildkitAddress)
	// With a pinned builder image, the source's Dockerfile is kept for a
	// build again without the pin (nil for an inline one, which Manage
	// writes).
	var original []byte
	if pin.pinned != "" {
		original, _ = readInContext(info.Dir, rel)
	}
	if err := dockerfile.Manage(pin.build(b, job.Out), info.Dir, info); err != nil {
		return out, err
	}
	printSteps(job.Out, info.Dir, rel)

	push, err := loadKeyring(job.PushSecretDir, "push")
	if err != nil {
		return out, failure.New(buildv1.StatusReasonPushImageToRegistryFailed, "Failed to push the image to the registry: "+err.Error(), err)
	}
	pull, err := loadKeyring(job.PullSecretDir, "pull")
	if err != nil {
		return out, failure.New(buildv1.StatusReasonPullBuilderImageFailed, "Failed pulling builder image: "+err.Error(), err)
	}

	strategy := b.Spec.Strategy.DockerStrategy
	args := map[string]string{}
	for _, a := range strategy.BuildArgs {
		args[a.Name] = a.Value
	}
	output := outputReference(b)
	if output != "" {
		fmt.Fprintf(job.Out, "\nPushing image %s ...\n", output)
	}
	buildStart := time.Now()
	opts := build.Options{
		Address:        job.BuildkitAddress,
		ContextDir:     info.Dir,
		DockerfilePath: rel,
		BuildArgs:      args,
		NoCache:        strategy.NoCache,
		Pull:           strategy.ForcePull,
		Output:         output,
		PushAuth:       push,
		PullAuth:       pull,
		Log:            job.Out,
		Timings:        job.LogLevel >= 5,
	}
	res, err := build.Run(ctx, opts)
	if err != nil && pin.pinned != "" && failure.As(err).Reason == buildv1.StatusReasonPullBuilderImageFailed {
		pin.drop(job.Out)
		if original != nil {
			if err := writeInContext(info.Dir, rel, original); err != nil {
				return out, failure.New(buildv1.StatusReasonManageDockerfileFailed, dockerfile.MessageManageDockerfileFailed, err)
			}
		}
		if err := dockerfile.Manage(b, info.Dir, info); err != nil {
			return out, err
		}
		res, err = build.Run(ctx, opts)
	}
	addStage(stages, buildv1.StageBuild, buildv1.StepDockerBuild, buildStart)
	if err != nil {
		return out, err
	}
	pin.record(res.BaseImages, job.Out)
	out.Digest = res.Digest
	if output != "" {
		fmt.Fprintf(job.Out, "Successfully pushed %s@%s\nPush successful\n", output, res.Digest)
	}
	return out, nil
}

// outputReference is where the image goes: the controller's resolved
// status.outputDockerImageReference, else a DockerImage output verbatim.
func outputReference(b *buildv1.Build) string {
	if ref := b.Status.OutputDockerImageReference; ref != "" {
		return ref
	}
	if to := b.Spec.Output.To; to != nil && to.Kind == "DockerImage" {
		return to.Name
	}
	return ""
}

func loadKeyring(dir, what string) (build.Keyring, error) {
	if dir == "" {
		return build.Keyring{}, nil
	}
	k, err := build.LoadKeyring(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the %s secret: %w", what, err)
	}
	return k, nil
}

func addStage(stages *[]buildv1.StageInfo, name buildv1.StageName, step buildv1.StepName, start time.Time) {
	ms := time.Since(start).Milliseconds()
	*stages = append(*stages, buildv1.StageInfo{
		Name:                 name,
		StartTime:            metav1.NewTime(start),
		DurationMilliseconds: ms,
		Steps: []buildv1.StepInfo{{
			Name:                 step,
			StartTime:            metav1.NewTime(start),
			DurationMilliseconds: ms,
		}},
	})
}

// applySuccess sets what a successful builder reports.
func applySuccess(b *buildv1.Build, out *Outcome, stages []buildv1.StageInfo) {
	if out.Source != nil {
		b.Spec.Revision = out.Source.SourceRevision()
	}
	if out.Digest != "" {
		if b.Status.Output.To == nil {
			b.Status.Output.To = &buildv1.BuildStatusOutputTo{}
		}
		b.Status.Output.To.ImageDigest = out.Digest
	}
	b.Status.Stages = stages
}

// applyFailure sets what a failed builder reports.
func applyFailure(b *buildv1.Build, f *failure.Failure, stages []buildv1.StageInfo) {
	b.Status.Phase = buildv1.BuildPhaseFailed
	b.Status.Reason = f.Reason
	b.Status.Message = f.Message
	b.Status.LogSnippet = oneLine(f.Message)
	b.Status.Stages = stages
}

// oneLine flattens a message for the termination log.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// userinfo matches credentials in URLs, which must not reach the log.
var userinfo = regexp.MustCompile(`(://)[^/@\s]+@`)

// readInContext reads the file rel of the context directory dir without
// following links out of it.
func readInContext(dir, rel string) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	return dockerfile.ReadFile(root, rel)
}

// writeInContext rewrites the file rel of the context directory dir
// without following links out of it.
func writeInContext(dir, rel string, data []byte) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return root.WriteFile(rel, data, 0o644)
}

// printSteps prints the managed Dockerfile's instructions (the file rel of
// the context directory dir) as oc does ("STEP 1/5: FROM busybox"), so the
// appended ENV and LABEL are visible.
func printSteps(w io.Writer, dir, rel string) {
	data, err := readInContext(dir, rel)
	if err != nil {
		return
	}
	var steps []string
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if body, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(strings.TrimSpace(body) + " ")
			continue
		}
		cur.WriteString(line)
		steps = append(steps, cur.String())
		cur.Reset()
	}
	if cur.Len() > 0 {
		steps = append(steps, strings.TrimSpace(cur.String()))
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return
	}
	for i, s := range steps {
		fmt.Fprintf(w, "STEP %d/%d: %s\n", i+1, len(steps), userinfo.ReplaceAllString(s, "$1"))
	}
}
