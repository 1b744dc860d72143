package node

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestRunningContainerWaitsForStart: the agent reports a container running
// once "runc run" has created it, and starts it a moment later. An exec or
// attach in that moment (CI saw one under load) waits for the start; it is
// not told that the container is not running.
func TestRunningContainerWaitsForStart(t *testing.T) {
	requireRuncDeps(t)
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox is not installed (hack/install-deps.sh)")
	}
	dir := t.TempDir()
	r := &runcRuntime{binary: "runc", root: filepath.Join(dir, "runc")}
	bundle := filepath.Join(dir, "bundle")
	if err := os.MkdirAll(filepath.Join(bundle, "rootfs", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "rootfs", "bin", "busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("runc", "spec", "--bundle", bundle).CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v: %s", err, out)
	}
	var spec map[string]any
	cfgPath := filepath.Join(bundle, "config.json")
	b, err = os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	proc := spec["process"].(map[string]any)
	proc["terminal"], proc["args"] = false, []string{"/bin/busybox", "sleep", "60"}
	if b, err = json.Marshal(spec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}

	uid, name := "0f1e2d3c", "app"
	id := uid + "-" + name + "-0"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The container's stdio is not runc's output pipe: CombinedOutput
	// would wait for the container to end.
	if err := exec.CommandContext(ctx, "runc", "--root", r.root, "create", "--bundle", bundle, id).Run(); err != nil {
		t.Fatalf("runc create: %v", err)
	}
	t.Cleanup(func() { _ = exec.Command("runc", "--root", r.root, "delete", "--force", id).Run() })

	type result struct {
		id  string
		err error
	}
	got := make(chan result, 1)
	go func() {
		id, err := r.runningContainer(ctx, uid, name)
		got <- result{id, err}
	}()
	time.Sleep(300 * time.Millisecond) // the request arrives while the container is created, not started
	if out, err := exec.CommandContext(ctx, "runc", "--root", r.root, "start", id).CombinedOutput(); err != nil {
		t.Fatalf("runc start: %v: %s", err, out)
	}
	if res := <-got; res.err != nil || res.id != id {
		t.Fatalf("runningContainer = %q, %v; want %q once the container started", res.id, res.err, id)
	}
	if _, err := r.runningContainer(ctx, uid, "other"); err != errContainerNotRunning {
		t.Errorf("runningContainer of a container that does not exist = %v; want errContainerNotRunning", err)
	}
}
