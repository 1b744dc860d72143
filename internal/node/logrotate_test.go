package node

import (
	"bufio"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/slipway-dev/slipway/internal/builder/build/buildtest"
	"github.com/slipway-dev/slipway/internal/podlogs"
	"github.com/slipway-dev/slipway/internal/testregistry"
)

// A container that prints a lot keeps at most ContainerLogMaxFiles files
// of about ContainerLogMaxSize each, and pods/log still serves it: the
// current file, as the kubelet does.
func TestContainerLogRotation(t *testing.T) {
	api := startAPI(t)
	dataDir := t.TempDir()
	cfg := api.agentConfig(t, dataDir)
	cfg.ContainerLogMaxSize, cfg.ContainerLogMaxFiles = 64<<10, 3
	runAgent(t, api, api.nodeConfig(t), cfg)

	// About 4 MiB of output, in lines of 100 bytes, then a last line.
	script := `i=0; while [ $i -lt 400 ]; do yes 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789 | head -n 100; i=$((i+1)); done; echo the last line`
	createPod(t, api, hostPod("chatty", script))
	waitForPod(t, api, "chatty", 2*time.Minute, phaseIs(corev1.PodSucceeded))

	logs := podlogs.Dir(dataDir)
	path := logs.ContainerLog(api.ns, "chatty", "docker-build")
	var total int64
	for _, p := range []string{path, path + ".1", path + ".2", logs.ContainerTimes(api.ns, "chatty", "docker-build")} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		// The size is checked after each chunk of up to 32 KiB.
		if fi.Size() > 64<<10+32<<10 {
			t.Errorf("%s is %d bytes; want at most the max size and a chunk", p, fi.Size())
		}
		total += fi.Size()
	}
	for _, p := range []string{path + ".3", path + ".4"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s: %v; want no more than 3 files", p, err)
		}
	}
	t.Logf("%d bytes of log kept for 4 MiB written", total)

	pods := api.client.CoreV1().Pods(api.ns)
	// The current file's last two lines: the last line, and a line of
	// digits unless the rotation fell just before the last line.
	cur, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(cur), "\n")
	want := strings.Join(lines[max(0, len(lines)-3):], "")
	b, err := pods.GetLogs("chatty", &corev1.PodLogOptions{TailLines: ptrInt64(2)}).DoRaw(context.Background())
	if err != nil || string(b) != want || !strings.HasSuffix(want, "the last line\n") {
		t.Errorf("pods/log tailLines=2 = %q, %v; want the current file's last lines %q, ending with the last line", b, err, want)
	}
	b, err = pods.GetLogs("chatty", &corev1.PodLogOptions{Timestamps: true}).DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != strings.Count(string(cur), "\n") || n == 0 || len(b) > len(cur)+n*40 {
		t.Errorf("pods/log serves %d lines (%d bytes); want the current file's %d", n, len(b), strings.Count(string(cur), "\n"))
	}
}

// The same for a runc container, whose output reaches the log through
// the same pipe: bounded files, and pods/log follows it across rotations.
func TestRuncContainerLogRotation(t *testing.T) {
	requireRuncDeps(t)
	api := startAPI(t)
	reg := testregistry.Start(t, testregistry.Options{})
	busybox := buildtest.PushBusybox(t, reg)
	dataDir := t.TempDir()
	cfg := runcConfig(t, api, dataDir)
	cfg.ContainerLogMaxSize, cfg.ContainerLogMaxFiles = 64<<10, 3
	runAgent(t, api, api.nodeConfig(t), cfg)

	// 3 MB in bursts of 100 KB: a rotation every burst or two, and a
	// follower that keeps up with them (one that falls behind by more
	// than the files kept loses the files dropped, as with the kubelet).
	pod := appPod("chatty", busybox, `sleep 2; i=0; while [ $i -lt 30 ]; do yes 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789 | head -n 1000; sleep 0.25; i=$((i+1)); done; echo the last line; exec sleep 1000`)
	pod.Spec.NodeName = api.node
	createPod(t, api, pod)
	waitForPod(t, api, "chatty", time.Minute, phaseIs(corev1.PodRunning))
	// Followed from the start: every line arrives, across the rotations.
	stream, err := api.client.CoreV1().Pods(api.ns).GetLogs("chatty", &corev1.PodLogOptions{Follow: true}).Stream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	lines := bufio.NewScanner(stream)
	n := 0
	for lines.Scan() {
		n++
		if lines.Text() == "the last line" {
			break
		}
	}
	if n != 30001 {
		t.Errorf("followed %d lines (%v); want 30,000 and the last", n, lines.Err())
	}
	path := podlogs.Dir(dataDir).ContainerLog(api.ns, "chatty", "app")
	for _, p := range []string{path, path + ".1", path + ".2"} {
		if fi, err := os.Stat(p); err != nil || fi.Size() > 64<<10+32<<10 {
			t.Errorf("%s: %v; want at most the max size and a chunk", p, err)
		}
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("%s.3: %v; want no more than 3 files", path, err)
	}
	deletePodAndWait(t, api, dataDir, "chatty")
}
