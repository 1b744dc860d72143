package node

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/builder/build/buildtest"
	"github.com/slipway-dev/slipway/internal/testregistry"
)

// A runc pod that writes past its emptyDir's sizeLimit, or past the
// node's EmptyDirMaxSize when it has none, is evicted as the kubelet
// evicts it: Failed, reason Evicted, the message naming the volume. A pod
// within its limit runs on.
func TestEmptyDirSizeLimit(t *testing.T) {
	requireRuncDeps(t)
	api := startAPI(t)
	reg := testregistry.Start(t, testregistry.Options{})
	busybox := buildtest.PushBusybox(t, reg)
	dataDir := t.TempDir()
	cfg := runcConfig(t, api, dataDir)
	cfg.EmptyDirMaxSize = 4 << 20
	cfg.EmptyDirCheckInterval = 500 * time.Millisecond
	runAgent(t, api, api.nodeConfig(t), cfg)

	withCache := func(name, mb string, limit *resource.Quantity) *corev1.Pod {
		pod := appPod(name, busybox, "dd if=/dev/zero of=/cache/fill bs=1048576 count="+mb+" && exec sleep 1000")
		pod.Spec.NodeName = api.node
		pod.Spec.Volumes = []corev1.Volume{{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: limit}}}}
		pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "cache", MountPath: "/cache"}}
		return pod
	}
	oneMi := resource.MustParse("1Mi")
	tenMi := resource.MustParse("10Mi")
	createPod(t, api, withCache("over-limit", "3", &oneMi))
	createPod(t, api, withCache("over-node-cap", "6", nil))
	createPod(t, api, withCache("within", "6", &tenMi))

	for name, want := range map[string]string{
		"over-limit":    `Usage of EmptyDir volume "cache" exceeds the limit "1Mi".`,
		"over-node-cap": `Usage of EmptyDir volume "cache" exceeds the limit "4Mi".`,
	} {
		p := waitForPod(t, api, name, time.Minute, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
		if p.Status.Reason != "Evicted" || !strings.Contains(p.Status.Message, want) {
			t.Errorf("%s: reason %q message %q; want Evicted, %q", name, p.Status.Reason, p.Status.Message, want)
		}
	}
	p, err := api.client.CoreV1().Pods(api.ns).Get(context.Background(), "within", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.Phase != corev1.PodRunning {
		t.Errorf("within: phase %s (%s: %s); want Running, its 6 MiB within the 10Mi sizeLimit", p.Status.Phase, p.Status.Reason, p.Status.Message)
	}
	// The evicted pods' containers are gone; the other one runs.
	if ids := runcIDs(t, dataDir); len(ids) != 1 || !strings.HasPrefix(ids[0], string(p.UID)) {
		t.Errorf("runc runs %v; want only the container of within (%s)", ids, p.UID)
	}
	for _, name := range []string{"over-limit", "over-node-cap"} {
		if err := api.client.CoreV1().Pods(api.ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	deletePodAndWait(t, api, dataDir, "within")
}

// The usage walk is cheap: 10,000 small files are measured well within
// the check interval.
func TestDiskUsageWalk(t *testing.T) {
	dir := t.TempDir()
	for i := range 100 {
		sub := filepath.Join(dir, "d"+strings.Repeat("x", i%7), string(rune('a'+i%26))+"-"+time.Now().Format("150405.000000000"))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for j := range 100 {
			if err := os.WriteFile(filepath.Join(sub, "f"+string(rune('0'+j%10))+strings.Repeat("y", j/10)), []byte("hello"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	began := time.Now()
	used, err := diskUsage(dir, 1<<40)
	took := time.Since(began)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("walked 10,000 files (%d bytes of blocks) in %s", used, took)
	if used < 10000*5 {
		t.Errorf("usage %d; want at least the files' bytes", used)
	}
	if took > DefaultEmptyDirCheckInterval/10 {
		t.Errorf("the walk took %s, more than a tenth of the check interval", took)
	}
	// Past the stop it ends early.
	if part, err := diskUsage(dir, 100<<10); err != nil || part <= 100<<10 || part >= used {
		t.Errorf("stopped walk: %d, %v; want just past 100 KiB", part, err)
	}
}
