package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	buildv1 "github.com/openshift/api/build/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestBinaryBuildSizeLimit uploads more than --max-binary-build-size to
// instantiatebinary: with its length known up front the request is
// refused with 413 before any build is made; streamed (start-build
// --from-file), it is refused with 413 once past the limit, and the build
// that was reading it is cancelled rather than built from a truncated
// input.
func TestBinaryBuildSizeLimit(t *testing.T) {
	b := startBuildServer(t, "--max-binary-build-size=1Mi")
	ctx := context.Background()
	ns := "binlimit"
	b.newProject(t, ns)
	bc := dockerBC("big", "", "", "", b.busybox, &corev1.ObjectReference{Kind: "DockerImage", Name: b.hub.Host + "/veer/big:latest"}, "dockerhub")
	bc.Spec.Source = buildv1.BuildSource{Type: buildv1.BuildSourceBinary, Binary: &buildv1.BinaryBuildSource{}}
	bc.Spec.Triggers = nil
	if _, err := b.builds.BuildV1().BuildConfigs(ns).Create(ctx, bc, createOpts); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 2<<20)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}

	// Content-Length 2 MiB: 413, and no build.
	err := b.builds.BuildV1().RESTClient().Post().Namespace(ns).Resource("buildconfigs").Name("big").
		SubResource("instantiatebinary").Param("asFile", "big.bin").Body(bytes.NewReader(big)).Do(ctx).Error()
	if !apierrors.IsRequestEntityTooLargeError(err) || !strings.Contains(err.Error(), "1Mi") {
		t.Errorf("instantiatebinary with 2 MiB: %v; want 413 naming the 1Mi limit", err)
	}
	if list, err := b.builds.BuildV1().Builds(ns).List(ctx, metav1.ListOptions{}); err != nil || len(list.Items) != 0 {
		t.Errorf("builds after the refused upload: %d (%v); want none", len(list.Items), err)
	}

	// Streamed by start-build: 413 past the limit, the build cancelled.
	path := filepath.Join(t.TempDir(), "big.bin")
	if err := os.WriteFile(path, big, 0o600); err != nil {
		t.Fatal(err)
	}
	out := b.c.fail("start-build", "big", "--from-file", path)
	if !strings.Contains(out, "larger than the limit") || !strings.Contains(out, "1Mi") {
		t.Errorf("start-build --from-file of 2 MiB:\n%s\nwant the limit named", out)
	}
	got := b.waitBuild(t, ns, "big-1", 2*time.Minute)
	if got.Status.Phase != buildv1.BuildPhaseCancelled {
		t.Errorf("big-1: %s (%s: %s); want Cancelled", got.Status.Phase, got.Status.Reason, got.Status.Message)
	}
}
