package build_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	controlapi "github.com/moby/buildkit/api/services/control"
	bkclient "github.com/moby/buildkit/client"
	buildv1 "github.com/openshift/api/build/v1"

	"github.com/slipway-dev/slipway/internal/builder/build"
	"github.com/slipway-dev/slipway/internal/builder/build/buildtest"
	"github.com/slipway-dev/slipway/internal/builder/failure"
)

// BuildKit shares a base image's resolution and pull between the solves
// that need it at the same time, and asks any of their sessions for the
// registry login (moby/buildkit#2472). Builds with different logins for
// the same registry must therefore never see each other's: a wrong login
// must not fail a good build, and a good login must not let a build
// without access pull the image.
func TestConcurrentBuildsKeepTheirLogins(t *testing.T) {
	buildtest.RequireRoot(t)
	reg := buildtest.StartRegistry(t, "veer", "s3cret")
	base := buildtest.PushBusybox(t, reg)
	daemon := buildtest.StartBuildkitd(t, reg)

	good, err := build.ParseDockerConfig(reg.DockerConfig(reg.Password))
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := build.ParseDockerConfig(reg.DockerConfig("wrong"))
	if err != nil {
		t.Fatal(err)
	}

	const rounds = 4
	for round := range rounds {
		// Pull re-resolves the base image in every round, so each round
		// has the two builds resolve it at the same time.
		type result struct {
			err error
			log string
		}
		var wg sync.WaitGroup
		results := make([]result, 2)
		start := make(chan struct{})
		for i, keyring := range []build.Keyring{good, wrong} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Distinct RUN steps: only the base image is shared.
				df := fmt.Sprintf("FROM %s\nRUN echo round %d build %d > /n\n", base, round, i)
				var log bytes.Buffer
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				<-start
				_, err := build.Run(ctx, build.Options{
					Address:    daemon.Address(),
					ContextDir: seedContext(t, df),
					Pull:       true,
					Output:     fmt.Sprintf("%s/veer/round%d-%d:latest", reg.Host, round, i),
					PullAuth:   keyring,
					PushAuth:   keyring,
					Log:        &log,
				})
				results[i] = result{err, log.String()}
			}()
		}
		close(start)
		wg.Wait()
		if r := results[0]; r.err != nil {
			t.Fatalf("round %d: the build with the good login failed: %v\n%s", round, r.err, r.log)
		}
		f := failure.As(results[1].err)
		if results[1].err == nil || f.Reason != buildv1.StatusReasonPullBuilderImageFailed {
			t.Fatalf("round %d: the build with the wrong login ended with %v, want PullBuilderImageFailed\n%s", round, results[1].err, results[1].log)
		}
		if strings.Contains(results[1].log, "wrong") {
			t.Fatalf("round %d: the password is in the log", round)
		}
	}

	// Slipway keeps the build logs; buildkitd records no history of its
	// own (writing it delays the end of every solve).
	c, err := bkclient.New(context.Background(), daemon.Address())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stream, err := c.ControlClient().ListenBuildHistory(context.Background(), &controlapi.BuildHistoryRequest{EarlyExit: true})
	if err != nil {
		t.Fatal(err)
	}
	var records int
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Record != nil {
			records++
		}
	}
	if records != 0 {
		t.Fatalf("buildkitd kept %d build history records, want none", records)
	}
}
