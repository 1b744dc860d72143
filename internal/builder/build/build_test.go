package build_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	buildv1 "github.com/openshift/api/build/v1"

	"github.com/slipway-dev/slipway/internal/builder/build"
	"github.com/slipway-dev/slipway/internal/builder/build/buildtest"
	"github.com/slipway-dev/slipway/internal/builder/failure"
)

const seedDir = "/work/shared/fixtures/seed-walkthrough/time-app/busybox"

// seedContext copies the seed time-app context and writes dockerfile.
func seedContext(t *testing.T, dockerfile string) string {
	t.Helper()
	dir := t.TempDir()
	init, err := os.ReadFile(filepath.Join(seedDir, "init.sh"))
	if err != nil {
		t.Skipf("seed fixture missing: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "init.sh"), init, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// seedDockerfile is the seed Dockerfile with base and an extra RUN, and the
// ENV/LABEL lines the dockerfile step appends.
func seedDockerfile(base string) string {
	return "FROM " + base + `
ADD ./init.sh ./
EXPOSE 8080
CMD ["./init.sh"]
RUN echo built > /built.txt
ENV OPENSHIFT_BUILD_NAME="time-1" OPENSHIFT_BUILD_NAMESPACE="veer"
LABEL "io.openshift.build.name"="time-1" "io.openshift.build.namespace"="veer"
`
}

func TestBuildAndPush(t *testing.T) {
	buildtest.RequireRoot(t)
	reg := buildtest.StartRegistry(t, "veer", "s3cret")
	base := buildtest.PushBusybox(t, reg)
	daemon := buildtest.StartBuildkitd(t, reg)

	auth, err := build.ParseDockerConfig(reg.DockerConfig(reg.Password))
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := build.ParseDockerConfig(reg.DockerConfig("wrong"))
	if err != nil {
		t.Fatal(err)
	}
	output := reg.Host + "/veer/mytime:latest"
	runIn := func(t *testing.T, contextDir string, opts build.Options) (*build.Result, string, error) {
		t.Helper()
		var log bytes.Buffer
		opts.Address = daemon.Address()
		opts.ContextDir = contextDir
		opts.Log = &log
		if opts.PullAuth == nil {
			opts.PullAuth = auth
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		res, err := build.Run(ctx, opts)
		return res, log.String(), err
	}
	run := func(t *testing.T, dockerfile string, opts build.Options) (*build.Result, string, error) {
		t.Helper()
		return runIn(t, seedContext(t, dockerfile), opts)
	}
	wantFailure := func(t *testing.T, err error, reason buildv1.StatusReason, inMessage string) {
		t.Helper()
		var f *failure.Failure
		if !errors.As(err, &f) {
			t.Fatalf("err = %v, want a *failure.Failure", err)
		}
		if f.Reason != reason || !strings.Contains(f.Message, inMessage) {
			t.Fatalf("failure = %s / %q, want %s with %q", f.Reason, f.Message, reason, inMessage)
		}
		t.Logf("%s: %s", f.Reason, f.Message)
	}

	// First, before any good login was used: buildkitd must not reuse a
	// cached authorization from another build.
	t.Run("wrong password", func(t *testing.T) {
		_, log, err := run(t, seedDockerfile(base), build.Options{Output: reg.Host + "/veer/other:latest", PushAuth: wrong})
		wantFailure(t, err, buildv1.StatusReasonPushImageToRegistryFailed, "unauthorized")
		if strings.Contains(log, "wrong") || strings.Contains(err.Error(), "wrong") {
			t.Fatalf("the password leaked into the log or error:\n%s\n%v", log, err)
		}
	})

	var first *build.Result
	t.Run("cold build and push", func(t *testing.T) {
		res, log, err := run(t, seedDockerfile(base), build.Options{Output: output, PushAuth: auth})
		if err != nil {
			t.Fatalf("build: %v\n%s", err, log)
		}
		first = res
		if !strings.HasPrefix(res.Digest, "sha256:") {
			t.Fatalf("digest = %q", res.Digest)
		}
		img := reg.Image(t, output)
		d, _ := img.Digest()
		if d.String() != res.Digest {
			t.Fatalf("pushed digest %s, registry has %s", res.Digest, d)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := cf.Config.ExposedPorts["8080/tcp"]; !ok {
			t.Errorf("ExposedPorts = %v, want 8080/tcp", cf.Config.ExposedPorts)
		}
		if !reflect.DeepEqual(cf.Config.Cmd, []string{"./init.sh"}) {
			t.Errorf("Cmd = %q", cf.Config.Cmd)
		}
		if !slices.Contains(cf.Config.Env, "OPENSHIFT_BUILD_NAME=time-1") || !slices.Contains(cf.Config.Env, "OPENSHIFT_BUILD_NAMESPACE=veer") {
			t.Errorf("Env = %q", cf.Config.Env)
		}
		if cf.Config.Labels["io.openshift.build.name"] != "time-1" {
			t.Errorf("Labels = %v", cf.Config.Labels)
		}
		if !strings.Contains(log, "RUN echo built") {
			t.Errorf("log misses the RUN step:\n%s", log)
		}
	})
	if first == nil {
		t.FailNow()
	}

	t.Run("warm build reports CACHED and pushes the same layers", func(t *testing.T) {
		before := layers(t, reg, output)
		res, log, err := run(t, seedDockerfile(base), build.Options{Output: output, PushAuth: auth, Timings: true})
		if err != nil {
			t.Fatalf("build: %v\n%s", err, log)
		}
		if !strings.Contains(log, "CACHED") {
			t.Fatalf("second build shows no CACHED step:\n%s", log)
		}
		// BUILD_LOGLEVEL 5: each step's start and end, cached ones marked.
		_, timings, ok := strings.Cut(log, "Step timings (ms from the start of the solve, ")
		if !ok || !regexp.MustCompile(`(?m)^\s+\d+\s+\d+\s+exporting to image$`).MatchString(timings) ||
			!regexp.MustCompile(`(?m)^\s+\d+\s+\d+\s+\[\d/\d\] RUN echo built > /built.txt \(cached\)$`).MatchString(timings) {
			t.Fatalf("no step timings for the export and the cached RUN:\n%s", log)
		}
		if after := layers(t, reg, output); !reflect.DeepEqual(before, after) {
			t.Fatalf("layers changed: %v -> %v", before, after)
		}
		if res.Digest == "" {
			t.Fatal("no digest")
		}
	})

	t.Run("no cache rebuilds", func(t *testing.T) {
		_, log, err := run(t, seedDockerfile(base), build.Options{Output: output, PushAuth: auth, NoCache: true})
		if err != nil {
			t.Fatalf("build: %v\n%s", err, log)
		}
		if strings.Contains(log, "RUN echo built") && strings.Contains(cachedLine(log, "RUN echo built"), "CACHED") {
			t.Fatalf("RUN step cached despite noCache:\n%s", log)
		}
	})

	t.Run("build args", func(t *testing.T) {
		df := "FROM " + base + "\nARG GREETING=none\nRUN test \"$GREETING\" = hello\n"
		if _, log, err := run(t, df, build.Options{BuildArgs: map[string]string{"GREETING": "hello"}}); err != nil {
			t.Fatalf("build with GREETING=hello: %v\n%s", err, log)
		}
		_, _, err := run(t, df, build.Options{BuildArgs: map[string]string{"GREETING": "bye"}})
		wantFailure(t, err, buildv1.StatusReasonDockerBuildFailed, "RUN test")
	})

	t.Run("RUN steps do not reach the host's loopback", func(t *testing.T) {
		// The attack: `RUN nc 127.0.0.1 <etcd port>` answered from the
		// server's own etcd. A listener on the host's loopback stands for
		// the server's; a RUN step has its own network and loopback.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		reached := make(chan struct{}, 1)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
				select {
				case reached <- struct{}{}:
				default:
				}
			}
		}()
		port := l.Addr().(*net.TCPAddr).Port
		// Cache-busting: the same step must run on every test run.
		df := fmt.Sprintf("FROM %s\nRUN echo %d; nc -w 2 127.0.0.1 %d </dev/null && echo REACHED-$((40+2)) || echo refused; ip -4 addr\n", base, time.Now().UnixNano(), port)
		_, log, err := run(t, df, build.Options{})
		if err != nil {
			t.Fatalf("build: %v\n%s", err, log)
		}
		select {
		case <-reached:
			t.Fatalf("a RUN step connected to the host's 127.0.0.1:%d\n%s", port, log)
		default:
		}
		// The step's title holds the command; only its output says 42.
		if strings.Contains(log, "REACHED-42") {
			t.Fatalf("a RUN step connected to 127.0.0.1:%d\n%s", port, log)
		}
	})

	t.Run("unknown base image", func(t *testing.T) {
		_, _, err := run(t, seedDockerfile(reg.Host+"/library/nosuch:latest"), build.Options{Output: output, PushAuth: auth})
		wantFailure(t, err, buildv1.StatusReasonPullBuilderImageFailed, "nosuch")
	})

	t.Run("failing RUN", func(t *testing.T) {
		_, _, err := run(t, "FROM "+base+"\nRUN echo about to fail && exit 3\n", build.Options{Output: output, PushAuth: auth})
		wantFailure(t, err, buildv1.StatusReasonDockerBuildFailed, "exit 3")
	})

	// The Dockerfile's own ignore file wins over the context's .dockerignore,
	// as in Docker; either keeps init.sh out of the context.
	t.Run("ignore files", func(t *testing.T) {
		for _, tc := range []struct {
			name                    string
			dockerignore, ownIgnore string
			excluded                bool
		}{
			{name: "none"},
			{name: ".dockerignore", dockerignore: "init.sh", excluded: true},
			{name: "Dockerfile.dockerignore", ownIgnore: "*.sh", excluded: true},
			{name: "Dockerfile.dockerignore over .dockerignore", dockerignore: "init.sh", ownIgnore: "nothing-here", excluded: false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				dir := seedContext(t, "FROM "+base+"\nCOPY init.sh /copied.sh\n")
				for file, content := range map[string]string{".dockerignore": tc.dockerignore, "Dockerfile.dockerignore": tc.ownIgnore} {
					if content == "" {
						continue
					}
					if err := os.WriteFile(filepath.Join(dir, file), []byte(content+"\n"), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				_, log, err := runIn(t, dir, build.Options{})
				if !tc.excluded {
					if err != nil {
						t.Fatalf("COPY init.sh: %v\n%s", err, log)
					}
					return
				}
				wantFailure(t, err, buildv1.StatusReasonDockerBuildFailed, "init.sh")
			})
		}
	})

	t.Run("Dockerfile syntax error", func(t *testing.T) {
		_, _, err := run(t, "FROM "+base+"\nNOTANINSTRUCTION foo\n", build.Options{Output: output, PushAuth: auth})
		wantFailure(t, err, buildv1.StatusReasonDockerBuildFailed, "NOTANINSTRUCTION")
	})
}

// layers lists an image's layer digests.
func layers(t *testing.T, reg *buildtest.Registry, ref string) []string {
	t.Helper()
	ls, err := reg.Image(t, ref).Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d.String())
	}
	return out
}

// cachedLine returns the progress lines of the vertex whose name holds step.
func cachedLine(log, step string) string {
	var id string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, step) {
			id, _, _ = strings.Cut(line, " ")
		}
	}
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if id != "" && strings.HasPrefix(line, id+" ") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
