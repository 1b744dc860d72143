package buildkit_test

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	bkclient "github.com/moby/buildkit/client"

	"github.com/slipway-dev/slipway/internal/builder/build/buildtest"
	"github.com/slipway-dev/slipway/internal/buildkit"
)

func listWorkers(ctx context.Context, address string) error {
	c, err := bkclient.New(ctx, address)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.ListWorkers(ctx)
	return err
}

func TestDaemonRestartsAndStops(t *testing.T) {
	buildtest.RequireRoot(t)
	dataDir, err := os.MkdirTemp("", "bkd")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dataDir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := buildkit.Start(ctx, buildkit.Config{
		Binary:              buildtest.BuildkitdBinary(t),
		DataDir:             dataDir,
		PlainHTTPRegistries: []string{"127.0.0.1:5000"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "unix://" + dataDir + "/buildkit/buildkitd.sock"; d.Address() != want {
		t.Fatalf("Address() = %q, want %q", d.Address(), want)
	}
	toml, err := os.ReadFile(dataDir + "/buildkit/buildkitd.toml")
	if err != nil || !strings.Contains(string(toml), `[registry."127.0.0.1:5000"]`) {
		t.Fatalf("buildkitd.toml: %v\n%s", err, toml)
	}
	if err := listWorkers(ctx, d.Address()); err != nil {
		t.Fatalf("ListWorkers after Start: %v", err)
	}

	// A crash: the supervisor starts a new buildkitd that answers again.
	first := buildkit.PID(d)
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		pid := buildkit.PID(d)
		if pid != first && pid != 0 && listWorkers(ctx, d.Address()) == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("buildkitd was not restarted after a crash (pid %d)", pid)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Stop: Done closes and the process is gone.
	last := buildkit.PID(d)
	cancel()
	select {
	case <-d.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("Done not closed 30 s after ctx ended")
	}
	if err := syscall.Kill(last, 0); err == nil {
		t.Fatalf("buildkitd %d still running after stop", last)
	}
}

func TestStartFailsClearly(t *testing.T) {
	_, err := buildkit.Start(context.Background(), buildkit.Config{Binary: "/nonexistent/buildkitd", DataDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/buildkitd") {
		t.Fatalf("err = %v", err)
	}
	if _, err := buildkit.Start(context.Background(), buildkit.Config{Binary: "/bin/false"}); err == nil {
		t.Fatal("Start without a data dir: no error")
	}
	// A binary that exits at once is reported, not waited on for minutes.
	start := time.Now()
	_, err = buildkit.Start(context.Background(), buildkit.Config{Binary: "/bin/false", DataDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || time.Since(start) > 10*time.Second {
		t.Fatalf("err = %v after %s", err, time.Since(start))
	}
}
