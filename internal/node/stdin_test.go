package node

import (
	"context"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/podlogs"
)

// TestAgentStdin runs a host-process pod with stdin: true and stdinOnce:
// its stdin is the FIFO next to its log, fed by whoever opens it for
// writing; the writer's EOF ends the process.
func TestAgentStdin(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("needs /bin/sh")
	}
	api := startAPI(t)
	createServiceAccount(t, api)
	dataDir := t.TempDir()
	startAgent(t, api, dataDir)
	logs := podlogs.Dir(dataDir)
	ctx := context.Background()

	pod := hostPod("stdin-build", `echo start; cat; echo end`)
	pod.Spec.Containers[0].Stdin = true
	pod.Spec.Containers[0].StdinOnce = true
	if _, err := api.client.CoreV1().Pods(api.ns).Create(ctx, api.signed(t, pod), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitForPod(t, api, pod.Name, 20*time.Second, phaseIs(corev1.PodRunning))
	// The process waits for a writer: no EOF before one came.
	time.Sleep(300 * time.Millisecond)
	if p, _ := api.client.CoreV1().Pods(api.ns).Get(ctx, pod.Name, metav1.GetOptions{}); p.Status.Phase != corev1.PodRunning {
		t.Fatalf("pod ended before stdin was written: %s", p.Status.Phase)
	}
	fifo := logs.ContainerStdin(api.ns, pod.Name, "docker-build")
	f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("line one\nline two\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	waitForPod(t, api, pod.Name, 20*time.Second, phaseIs(corev1.PodSucceeded))
	b, err := os.ReadFile(logs.ContainerLog(api.ns, pod.Name, "docker-build"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "start\nline one\nline two\nend\n"; got != want {
		t.Fatalf("log = %q, want %q", got, want)
	}
	if _, err := os.Stat(fifo); !os.IsNotExist(err) {
		t.Errorf("the FIFO outlived the container: %v", err)
	}

	// A container that ends without a writer does not leave the feeder
	// blocked or the FIFO behind.
	pod2 := hostPod("stdin-unread", `echo bye`)
	pod2.Spec.Containers[0].Stdin = true
	pod2.Spec.Containers[0].StdinOnce = true
	if _, err := api.client.CoreV1().Pods(api.ns).Create(ctx, api.signed(t, pod2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitForPod(t, api, pod2.Name, 20*time.Second, phaseIs(corev1.PodSucceeded))
	fifo2 := logs.ContainerStdin(api.ns, pod2.Name, "docker-build")
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := os.Stat(fifo2)
		if os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("FIFO %s still there: %v", fifo2, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
