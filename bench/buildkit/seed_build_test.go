// Package buildkit_bench measures the seed build (time-app Dockerfile plus
// a RUN) from build start to the pushed digest in an htpasswd+TLS registry:
// BuildKit cold (cache pruned) and warm, and Debian's buildah (bud + push,
// runc) on the same Dockerfile and registry as the baseline. It prints the
// medians and the warm/buildah ratio (target ≤ 0.5).
//
//	go test -run '^$' -bench SeedBuild ./bench/buildkit/
package buildkit_bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bkclient "github.com/moby/buildkit/client"

	"github.com/slipway-dev/slipway/bench/benchserver"
	"github.com/slipway-dev/slipway/internal/builder/build"
	"github.com/slipway-dev/slipway/internal/builder/build/buildtest"
)

const seedDir = "/work/shared/fixtures/seed-walkthrough/time-app/busybox"

// rounds per variant; medians are printed.
const rounds = 5

func BenchmarkSeedBuild(b *testing.B) {
	buildtest.RequireRoot(b)
	reg := buildtest.StartRegistry(b, "veer", "s3cret")
	base := buildtest.PushBusybox(b, reg)
	daemon := buildtest.StartBuildkitd(b, reg)
	auth, err := build.ParseDockerConfig(reg.DockerConfig(reg.Password))
	if err != nil {
		b.Fatal(err)
	}
	contextDir := b.TempDir()
	initSh, err := os.ReadFile(filepath.Join(seedDir, "init.sh"))
	if err != nil {
		b.Skipf("seed fixture missing: %v", err)
	}
	os.WriteFile(filepath.Join(contextDir, "init.sh"), initSh, 0o755)
	dockerfile := fmt.Sprintf("FROM %s\nADD ./init.sh ./\nEXPOSE 8080\nCMD [\"./init.sh\"]\nRUN echo built > /built.txt\n", base)
	os.WriteFile(filepath.Join(contextDir, "Dockerfile"), []byte(dockerfile), 0o644)
	output := reg.Host + "/veer/mytime:latest"
	ctx := context.Background()

	buildkitRun := func() time.Duration {
		start := time.Now()
		res, err := build.Run(ctx, build.Options{
			Address: daemon.Address(), ContextDir: contextDir, Output: output,
			PushAuth: auth, PullAuth: auth, Log: &bytes.Buffer{},
		})
		if err != nil || res.Digest == "" {
			b.Fatalf("build: %v", err)
		}
		return time.Since(start)
	}
	prune := func() {
		c, err := bkclient.New(ctx, daemon.Address())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		if err := c.Prune(ctx, nil, bkclient.PruneAll); err != nil {
			b.Fatalf("prune: %v", err)
		}
	}

	var cold, warm, buildah []time.Duration
	b.ResetTimer()
	for range b.N {
		cold, warm, buildah = nil, nil, nil
		for range rounds {
			prune()
			cold = append(cold, buildkitRun())
		}
		for range rounds {
			warm = append(warm, buildkitRun())
		}
		if path, err := exec.LookPath("buildah"); err == nil {
			buildah = buildahRounds(b, path, reg, contextDir, output)
		}
	}
	b.StopTimer()
	b.ReportMetric(benchserver.Median(cold).Seconds(), "cold-s")
	b.ReportMetric(benchserver.Median(warm).Seconds(), "warm-s")
	fmt.Printf("seed build+push, median of %d: buildkit cold %s, warm %s", rounds, benchserver.Median(cold), benchserver.Median(warm))
	if len(buildah) > 0 {
		b.ReportMetric(benchserver.Median(buildah).Seconds(), "buildah-s")
		fmt.Printf(", buildah %s, warm/buildah %.2f", benchserver.Median(buildah), benchserver.Median(warm).Seconds()/benchserver.Median(buildah).Seconds())
	} else {
		fmt.Print(" (buildah not installed: no baseline)")
	}
	fmt.Println()
}

// buildahRounds times `buildah bud` + `buildah push` with its own storage.
func buildahRounds(b *testing.B, buildah string, reg *buildtest.Registry, contextDir, output string) []time.Duration {
	root := b.TempDir()
	certDir := b.TempDir()
	ca, _ := os.ReadFile(reg.CAFile)
	os.WriteFile(filepath.Join(certDir, "ca.crt"), ca, 0o644)
	authFile := filepath.Join(b.TempDir(), "auth.json")
	os.WriteFile(authFile, reg.DockerConfig(reg.Password), 0o600)
	storage := []string{"--root", filepath.Join(root, "root"), "--runroot", filepath.Join(root, "run"), "--storage-driver", "overlay"}
	run := func(args ...string) {
		cmd := exec.Command(buildah, append(slices.Clone(storage), args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("buildah %v: %v\n%s", args, err, out)
		}
	}
	var out []time.Duration
	for range rounds {
		start := time.Now()
		run("bud", "--runtime", "runc", "--layers", "--cert-dir", certDir, "--authfile", authFile, "-t", output, contextDir)
		run("push", "--cert-dir", certDir, "--authfile", authFile, output)
		out = append(out, time.Since(start))
	}
	return out
}
