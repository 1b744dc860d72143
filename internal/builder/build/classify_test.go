package build

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	buildv1 "github.com/openshift/api/build/v1"

	"github.com/slipway-dev/slipway/internal/builder/failure"
)

func TestClassify(t *testing.T) {
	const out = "127.0.0.1:5000/veer/mytime:latest"
	tests := []struct {
		name   string
		err    error
		steps  []string
		reason buildv1.StatusReason
		msg    string
	}{
		{
			name:   "base image metadata",
			err:    errors.New("failed to solve: 127.0.0.1:5000/library/nosuch:latest: not found"),
			steps:  []string{"[internal] load metadata for 127.0.0.1:5000/library/nosuch:latest"},
			reason: buildv1.StatusReasonPullBuilderImageFailed,
			msg:    "nosuch:latest: not found",
		},
		{
			name:   "base image layers",
			err:    errors.New("failed to solve: failed to copy: httpReadSeeker: failed open: unexpected status code 500"),
			steps:  []string{"[1/3] FROM 127.0.0.1:5000/library/busybox:latest@sha256:abc"},
			reason: buildv1.StatusReasonPullBuilderImageFailed,
		},
		{
			name:   "resolve without progress",
			err:    errors.New("failed to solve: failed to resolve source metadata for docker.io/library/x:latest"),
			reason: buildv1.StatusReasonPullBuilderImageFailed,
		},
		{
			name:   "push unauthorized",
			err:    errors.New("failed to solve: failed to push " + out + ": failed to authorize: server message: unauthorized: authentication required"),
			steps:  []string{"exporting to image", "pushing layers"},
			reason: buildv1.StatusReasonPushImageToRegistryFailed,
			msg:    "pushing " + out + ": unauthorized: authentication required",
		},
		{
			name:   "push HEAD without body",
			err:    errors.New("failed to solve: unexpected status from HEAD request to https://r/v2/veer/mytime/manifests/latest: 401 Unauthorized"),
			steps:  []string{"exporting to image"},
			reason: buildv1.StatusReasonPushImageToRegistryFailed,
			msg:    "pushing " + out + ": unauthorized: authentication required",
		},
		{
			name:   "failing RUN names the step",
			err:    errors.New(`failed to solve: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3`),
			steps:  []string{"[2/2] RUN exit 3"},
			reason: buildv1.StatusReasonDockerBuildFailed,
			msg:    "at step [2/2] RUN exit 3: process",
		},
		{
			name:   "parse error",
			err:    errors.New("failed to solve: dockerfile parse error on line 2: unknown instruction: FOO"),
			steps:  []string{"[internal] load build definition from Dockerfile"},
			reason: buildv1.StatusReasonDockerBuildFailed,
			msg:    "unknown instruction: FOO",
		},
		{
			name:   "interrupted",
			err:    fmt.Errorf("solving: %w", context.Canceled),
			reason: buildv1.StatusReasonDockerBuildFailed,
			msg:    "interrupted",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := failure.As(classify(tt.err, tt.steps, out))
			if f.Reason != tt.reason || !strings.Contains(f.Message, tt.msg) {
				t.Fatalf("got %s %q, want %s containing %q", f.Reason, f.Message, tt.reason, tt.msg)
			}
			if !errors.Is(f, tt.err) && !errors.Is(f.Err, tt.err) {
				t.Fatalf("the original error is not wrapped")
			}
		})
	}
}

func TestFrontendAttrs(t *testing.T) {
	got := frontendAttrs("Dockerfile.prod", Options{BuildArgs: map[string]string{"A": "1"}, NoCache: true, Pull: true})
	want := map[string]string{"filename": "Dockerfile.prod", "build-arg:A": "1", "no-cache": "", "image-resolve-mode": "pull"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("attrs = %v, want %v", got, want)
	}
	if got := frontendAttrs("Dockerfile", Options{}); len(got) != 1 {
		t.Fatalf("default attrs = %v", got)
	}
}
