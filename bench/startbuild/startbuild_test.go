// Package startbuild_bench measures the seed build through the whole of
// Slipway: `slipway start-build time --wait` against a running `slipway
// server` (build controller, build pod, `slipway builder`, buildkitd) from
// the command's start to the Build being Complete with
// status.output.to.imageDigest set, the output pushed with a push secret to
// an htpasswd+TLS docker-registry. Cold (buildkit cache pruned) once, then
// warm rounds, side by side with Debian's buildah (bud --runtime runc +
// push) on the same Dockerfile and registry, a buildah round after each
// slipway round. It prints the medians and the warm/buildah ratio.
//
//	go test -run '^$' -bench StartBuild -benchtime 1x ./bench/startbuild/
package startbuild_bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	bkclient "github.com/moby/buildkit/client"
	buildv1 "github.com/openshift/api/build/v1"
	buildclient "github.com/openshift/client-go/build/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/slipway-dev/slipway/bench/benchserver"
	"github.com/slipway-dev/slipway/internal/builder/build/buildtest"
)

// warmRounds is the number of warm start-builds (and warm buildah runs).
const warmRounds = 7

const (
	hubUser     = "veer"
	hubPassword = "s3cret-pass"
	ns          = "ext-image-push"
)

func BenchmarkStartBuild(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("builds need root (buildkitd's runc worker, build pods as host processes); run the benchmark as root")
	}
	for _, bin := range []string{"go", "make", "runc", "docker-registry", "htpasswd", "busybox", "git", "buildah"} {
		if _, err := exec.LookPath(bin); err != nil {
			b.Skipf("%s is not installed (hack/install-deps.sh installs the build tests' packages; buildah is the baseline)", bin)
		}
	}
	root := benchserver.RepoRoot(b)
	appDir := fixtureApp(b, root)
	slipway := benchserver.BuildSlipway(b, root)
	buildkitd := buildBuildkitd(b, root)

	hub := buildtest.StartRegistry(b, hubUser, hubPassword)
	busybox := buildtest.PushBusybox(b, hub)
	args := []string{"--buildkitd", buildkitd, "--registry-ca", hub.Host + "=" + hub.CAFile}
	if os.Getenv("SLIPWAY_BENCH_PROFILE") != "" {
		args = append(args, "--profiling")
	}
	srv := benchserver.Start(b, slipway, args...)

	cfg, err := clientcmd.BuildConfigFromFlags("", srv.Kubeconfig())
	if err != nil {
		b.Fatal(err)
	}
	builds := buildclient.NewForConfigOrDie(cfg)
	var trace *timeline
	if os.Getenv("SLIPWAY_BENCH_TRACE") != "" {
		trace = &timeline{}
	}

	uri := gitRepo(b, appDir)
	output := hub.Host + "/veer/mytime:latest"
	srv.Run(b, "new-project", ns)
	srv.Run(b, "create", "secret", "docker-registry", "dockerhub", "--docker-server="+hub.Host,
		"--docker-username="+hubUser, "--docker-password="+hubPassword)
	srv.Run(b, "secrets", "link", "builder", "dockerhub", "--for=pull,mount")
	// No ConfigChange trigger: the first build is the one timed cold.
	bcFile := filepath.Join(b.TempDir(), "bc.yaml")
	writeFile(b, bcFile, fmt.Sprintf(`apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata:
  name: time
spec:
  runPolicy: Serial
  source:
    type: Git
    git:
      uri: %s
      ref: main
    contextDir: busybox
  strategy:
    type: Docker
    dockerStrategy:
      from:
        kind: DockerImage
        name: %s
  output:
    to:
      kind: DockerImage
      name: %s
    pushSecret:
      name: dockerhub
`, uri, busybox, output))
	srv.Run(b, "create", "-f", bcFile)

	ctx := context.Background()
	if trace != nil {
		tctx, cancel := context.WithCancel(ctx)
		b.Cleanup(cancel)
		if err := trace.watch(tctx, builds, kubernetes.NewForConfigOrDie(cfg), ns); err != nil {
			b.Fatal(err)
		}
	}
	started := regexp.MustCompile(`build\.build\.openshift\.io/(time-\d+) started`)
	startBuild := func() time.Duration {
		start := time.Now()
		args := []string{"start-build", "time", "--wait"}
		if trace != nil {
			// The builder logs each BuildKit step's timing at level 5.
			args = append(args, "--build-loglevel=5")
		}
		out := srv.Run(b, args...)
		// The user has the result when the command returns; the checks
		// below are the benchmark's own.
		returned := time.Since(start)
		m := started.FindStringSubmatch(out)
		if m == nil {
			b.Fatalf("start-build printed no build name:\n%s", out)
		}
		// --wait returns at the end; the Build must be Complete with its
		// digest (polled for, and timed to then, if it was not yet).
		for first := true; ; first = false {
			got, err := builds.BuildV1().Builds(ns).Get(ctx, m[1], metav1.GetOptions{})
			if err != nil {
				b.Fatal(err)
			}
			switch got.Status.Phase {
			case buildv1.BuildPhaseComplete:
				if got.Status.Output.To != nil && strings.HasPrefix(got.Status.Output.To.ImageDigest, "sha256:") {
					took := returned
					if !first {
						took = time.Since(start)
					}
					if trace != nil {
						trace.print(os.Stdout, start, got)
						logs, _, _ := srv.Exec("logs", "-n", ns, "build/"+m[1])
						if _, steps, ok := strings.Cut(logs, "Step timings"); ok {
							fmt.Print("  Step timings" + steps)
						}
					}
					return took
				}
			case buildv1.BuildPhaseFailed, buildv1.BuildPhaseError, buildv1.BuildPhaseCancelled:
				logs, _, _ := srv.Exec("logs", "-n", ns, "build/"+m[1])
				b.Fatalf("%s is %s (%s: %s)\n%s", m[1], got.Status.Phase, got.Status.Reason, got.Status.Message, logs)
			}
			if time.Since(start) > 5*time.Minute {
				b.Fatalf("%s not Complete with a digest after 5m: %s", m[1], got.Status.Phase)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	prune := func() {
		c, err := bkclient.New(ctx, "unix://"+filepath.Join(srv.DataDir, "buildkit", "buildkitd.sock"))
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		if err := c.Prune(ctx, nil, bkclient.PruneAll); err != nil {
			b.Fatalf("prune: %v", err)
		}
	}

	// buildah gets the Dockerfile slipway builds: the fixture's with the
	// last FROM replaced by strategy.from (slipway also appends its
	// OPENSHIFT_BUILD_* ENV and io.openshift.build.* LABEL lines).
	contextDir := buildahContext(b, filepath.Join(appDir, "busybox"), busybox)

	var cold time.Duration
	var warm, bahWarm []time.Duration
	var bahCold time.Duration
	b.ResetTimer()
	for range b.N {
		// Rounds alternate between the two, so that the machine's speed
		// drifting during the run moves both alike.
		prune()
		bah := newBuildah(b, hub, contextDir, output)
		cold, bahCold = startBuild(), bah()
		warm, bahWarm = nil, nil
		for range warmRounds {
			warm = append(warm, startBuild())
			bahWarm = append(bahWarm, bah())
		}
	}
	b.StopTimer()
	if out := os.Getenv("SLIPWAY_BENCH_PROFILE"); out != "" {
		profileServer(b, srv, out, startBuild)
	}
	ratio := benchserver.Median(warm).Seconds() / benchserver.Median(bahWarm).Seconds()
	b.ReportMetric(cold.Seconds(), "cold-s")
	b.ReportMetric(benchserver.Median(warm).Seconds(), "warm-s")
	b.ReportMetric(benchserver.Median(bahWarm).Seconds(), "buildah-s")
	b.ReportMetric(ratio, "warm/buildah")
	fmt.Printf("start-build cold %s, warm median %s, buildah median %s, warm/buildah %.2f (buildah cold %s; %d warm rounds each)\n",
		cold.Round(time.Millisecond), benchserver.Median(warm).Round(time.Millisecond), benchserver.Median(bahWarm).Round(time.Millisecond),
		ratio, bahCold.Round(time.Millisecond), warmRounds)
}

// buildahContext copies the app's context dir and rewrites its last FROM.
func buildahContext(b *testing.B, src, from string) string {
	dir := b.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		info, _ := e.Info()
		if e.Name() == "Dockerfile" {
			lines := strings.Split(string(data), "\n")
			for i := len(lines) - 1; i >= 0; i-- {
				if f := strings.Fields(lines[i]); len(f) > 1 && strings.EqualFold(f[0], "FROM") {
					lines[i] = "FROM " + from
					break
				}
			}
			data = []byte(strings.Join(lines, "\n"))
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, info.Mode().Perm()); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// newBuildah returns a function that times one `buildah bud` + `buildah
// push` with storage of its own: the first call is cold, the others warm
// (--layers).
func newBuildah(b *testing.B, reg *buildtest.Registry, contextDir, output string) func() time.Duration {
	root := b.TempDir()
	certDir := b.TempDir()
	ca, err := os.ReadFile(reg.CAFile)
	if err != nil {
		b.Fatal(err)
	}
	writeFile(b, filepath.Join(certDir, "ca.crt"), string(ca))
	authFile := filepath.Join(b.TempDir(), "auth.json")
	writeFile(b, authFile, string(reg.DockerConfig(reg.Password)))
	storage := []string{"--root", filepath.Join(root, "root"), "--runroot", filepath.Join(root, "run"), "--storage-driver", "overlay"}
	run := func(args ...string) {
		cmd := exec.Command("buildah", append(slices.Clone(storage), args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("buildah %v: %v\n%s", args, err, out)
		}
	}
	return func() time.Duration {
		start := time.Now()
		run("bud", "--runtime", "runc", "--layers", "--tls-verify", "--cert-dir", certDir, "--authfile", authFile, "-t", output, contextDir)
		run("push", "--tls-verify", "--cert-dir", certDir, "--authfile", authFile, output)
		return time.Since(start)
	}
}

// fixtureApp is ../shared's time-app, or the copy under test/e2e/testdata.
func fixtureApp(b *testing.B, root string) string {
	for _, dir := range []string{
		filepath.Join(root, "..", "shared", "fixtures", "seed-walkthrough", "time-app"),
		filepath.Join(root, "test", "e2e", "testdata", "seed-walkthrough", "time-app"),
	} {
		if _, err := os.Stat(filepath.Join(dir, "busybox", "Dockerfile")); err == nil {
			return dir
		}
	}
	b.Skip("seed-walkthrough time-app fixture not found")
	return ""
}

// buildBuildkitd is the repository's bin/buildkitd, made with `make
// bin/buildkitd` when it is missing.
func buildBuildkitd(b *testing.B, root string) string {
	bin := filepath.Join(root, "bin", "buildkitd")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cmd := exec.Command("make", "bin/buildkitd")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Skipf("buildkitd could not be built (make bin/buildkitd): %v\n%s", err, out)
	}
	return bin
}

// gitRepo makes a git repository on branch main from the time app and
// returns its file:// URL.
func gitRepo(b *testing.B, appDir string) string {
	dir := filepath.Join(b.TempDir(), "time")
	if out, err := exec.Command("cp", "-r", appDir, dir).CombinedOutput(); err != nil {
		b.Fatalf("copying time-app: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "."}, {"commit", "-q", "-m", "The time app"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Veer Muchandi", "GIT_AUTHOR_EMAIL=veer@example.com",
			"GIT_COMMITTER_NAME=Veer Muchandi", "GIT_COMMITTER_EMAIL=veer@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return "file://" + dir
}

func writeFile(b *testing.B, path, content string) {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		b.Fatal(err)
	}
}

// profileServer writes a CPU profile of the server taken over warm
// start-builds to out (SLIPWAY_BENCH_PROFILE=out), for `go tool pprof`.
func profileServer(b *testing.B, srv *benchserver.Server, out string, startBuild func() time.Duration) {
	const seconds = 10
	done := make(chan error, 1)
	go func() { done <- srv.SaveProfile(b, fmt.Sprintf("profile?seconds=%d", seconds), out) }()
	for n := 0; ; n++ {
		select {
		case err := <-done:
			if err != nil {
				b.Fatal(err)
			}
			fmt.Printf("server CPU profile over %d warm start-builds (%d s): %s\n", n, seconds, out)
			return
		default:
		}
		startBuild()
	}
}
