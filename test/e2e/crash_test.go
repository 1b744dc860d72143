package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	buildv1 "github.com/openshift/api/build/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/podlogs"
)

// TestBuildSurvivesAKilledServer: `slipway server` is killed (SIGKILL)
// while a build runs a long step, then started again on its data
// directory. The build ends with a reason a user can act on (not
// GenericBuildFailed), its builder process is gone, and the next build of
// the same config completes.
func TestBuildSurvivesAKilledServer(t *testing.T) {
	b := startBuildServer(t)
	c := b.c
	ctx := context.Background()
	const ns = "crash"
	b.newProject(t, ns)
	// The step's duration comes from a build arg, so the second build is
	// quick and the first one's cache does not answer for it.
	dockerfile := "FROM " + b.busybox + "\nARG NAP=0\nRUN sleep $NAP\n"
	bc := dockerBC("slow", "", "", dockerfile, b.busybox, nil, "")
	bc.Spec.Triggers = nil
	if _, err := b.builds.BuildV1().BuildConfigs(ns).Create(ctx, bc, createOpts); err != nil {
		t.Fatal(err)
	}
	c.run("start-build", "slow", "--build-arg", "NAP=60")
	eventually(t, 2*time.Minute, func() error {
		got, err := b.builds.BuildV1().Builds(ns).Get(ctx, "slow-1", getOpts)
		if err != nil {
			return err
		}
		if got.Status.Phase != buildv1.BuildPhaseRunning || !strings.Contains(b.buildLog(ns, "slow-1"), "sleep") {
			return errorf("slow-1 is %s, not yet running its step", got.Status.Phase)
		}
		return nil
	})
	pidFile := filepath.Join(podlogs.Dir(b.dataDir).PodDir(ns, "slow-1-build"), "pid")
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the build pod's pid file: %v", err)
	}
	// "<pid> <pod UID> <container>"
	builder, err := strconv.Atoi(strings.Fields(string(data))[0])
	if err != nil {
		t.Fatalf("pid file %q: %v", data, err)
	}

	if err := b.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-b.done
	b.start()

	got := b.waitBuild(t, ns, "slow-1", 2*time.Minute)
	if got.Status.Phase != buildv1.BuildPhaseFailed && got.Status.Phase != buildv1.BuildPhaseError {
		t.Fatalf("slow-1 after the restart: %s", got.Status.Phase)
	}
	if got.Status.Reason == "" || got.Status.Reason == buildv1.StatusReasonGenericBuildFailed || got.Status.Message == "" {
		t.Errorf("slow-1 ended %s with reason %q, message %q; want a reason a user can act on", got.Status.Phase, got.Status.Reason, got.Status.Message)
	}
	t.Logf("slow-1 after the restart: %s %s %q", got.Status.Phase, got.Status.Reason, got.Status.Message)
	eventually(t, 30*time.Second, func() error {
		if processAlive(builder) {
			return errorf("the killed server's builder process %d still runs", builder)
		}
		return nil
	})

	c.run("start-build", "slow", "--build-arg", "NAP=0", "--wait")
	if next := b.waitBuild(t, ns, "slow-2", 2*time.Minute); next.Status.Phase != buildv1.BuildPhaseComplete {
		t.Fatalf("slow-2 after the restart: %s (%s: %s)\n%s", next.Status.Phase, next.Status.Reason, next.Status.Message, b.buildLog(ns, "slow-2"))
	}
	if list, err := b.builds.BuildV1().Builds(ns).List(ctx, metav1.ListOptions{}); err != nil || len(list.Items) != 2 {
		t.Errorf("builds after the restart: %v, %v; want slow-1 and slow-2", list, err)
	}
}
