package build

import (
	"context"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	buildv1 "github.com/openshift/api/build/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/podlogs"
	"github.com/slipway-dev/slipway/internal/registry/storagetest"
	"github.com/slipway-dev/slipway/internal/scheme"
)

func TestBuildLogOptionsFromQuery(t *testing.T) {
	var opts buildv1.BuildLogOptions
	q := url.Values{"follow": {"true"}, "nowait": {"true"}, "version": {"2"}, "tailLines": {"3"}}
	if err := scheme.ParameterCodec.DecodeParameters(q, buildv1.GroupVersion, &opts); err != nil {
		t.Fatal(err)
	}
	if !opts.Follow || !opts.NoWait || opts.Version == nil || *opts.Version != 2 || opts.TailLines == nil || *opts.TailLines != 3 {
		t.Errorf("decoded %+v", opts)
	}
}

func readStream(t *testing.T, obj runtime.Object) string {
	t.Helper()
	r, _, _, err := obj.(rest.ResourceStreamer).InputStream(context.Background(), "v1", "")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLogREST serves builds/log over real build storage: the wait for a
// New build to start, version=N, nowait, and a follow that ends when the
// build completes.
func TestLogREST(t *testing.T) {
	dir := t.TempDir()
	opts := podlogs.WithDir(storagetest.NewOptions(t), podlogs.Dir(dir))
	builds, status, err := NewREST(opts)
	if err != nil {
		t.Fatal(err)
	}
	logs := NewLogREST(builds.Store, opts)
	logs.startWait = 2 * time.Second
	ctx := genericapirequest.WithNamespace(context.Background(), "demo")

	create := func(name, number, pod string) *buildv1.Build {
		b := newBuild()
		b.Name, b.ResourceVersion = name, ""
		b.Annotations = map[string]string{buildv1.BuildConfigAnnotation: "time", buildv1.BuildNumberAnnotation: number}
		if pod != "" {
			b.Annotations[buildv1.BuildPodNameAnnotation] = pod
		}
		obj, err := builds.Create(ctx, b, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return obj.(*buildv1.Build)
	}
	setPhase := func(b *buildv1.Build, phase buildv1.BuildPhase) *buildv1.Build {
		obj, err := builds.Get(ctx, b.Name, &metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		current := obj.(*buildv1.Build)
		current.Status.Phase = phase
		obj, _, err = status.Update(ctx, b.Name, rest.DefaultUpdatedObjectInfo(current), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
		if err != nil {
			t.Fatalf("setting %s %s: %v", b.Name, phase, err)
		}
		return obj.(*buildv1.Build)
	}
	writeLog := func(pod, content string) string {
		path := podlogs.Dir(dir).ContainerLog("demo", pod, "docker-build")
		os.MkdirAll(filepath.Dir(path), 0o700)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}

	first := create("time-1", "1", "")
	writeLog("time-1-build", "first build\n")

	// New: nowait answers at once with nothing; without it the wait times out.
	obj, err := logs.Get(ctx, "time-1", &buildv1.BuildLogOptions{NoWait: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := readStream(t, obj); got != "" {
		t.Errorf("nowait on a New build = %q", got)
	}
	start := time.Now()
	if _, err := logs.Get(ctx, "time-1", &buildv1.BuildLogOptions{}); !apierrors.IsTimeout(err) {
		t.Errorf("waiting for a build that never starts: %v", err)
	}
	if d := time.Since(start); d < 2*time.Second || d > 10*time.Second {
		t.Errorf("waited %s, want the start wait of 2s", d)
	}

	// The wait ends as soon as the build runs.
	go func() { time.Sleep(300 * time.Millisecond); setPhase(first, buildv1.BuildPhaseRunning) }()
	obj, err = logs.Get(ctx, "time-1", &buildv1.BuildLogOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() { got <- readStream(t, obj) }()
	select {
	case s := <-got:
		t.Fatalf("follow ended while the build runs: %q", s)
	case <-time.After(800 * time.Millisecond):
	}
	f, _ := os.OpenFile(podlogs.Dir(dir).ContainerLog("demo", "time-1-build", "docker-build"), os.O_APPEND|os.O_WRONLY, 0o600)
	f.WriteString("pushed\n")
	f.Close()
	setPhase(first, buildv1.BuildPhaseComplete)
	select {
	case s := <-got:
		if s != "first build\npushed\n" {
			t.Errorf("followed %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end when the build completed")
	}

	// version=2 of time-1's config reads time-2, from the pod its
	// annotation names.
	second := create("time-2", "2", "time-2-pod")
	setPhase(second, buildv1.BuildPhaseFailed)
	writeLog("time-2-pod", "second build\n")
	two := int64(2)
	obj, err = logs.Get(ctx, "time-1", &buildv1.BuildLogOptions{Version: &two})
	if err != nil {
		t.Fatal(err)
	}
	if got := readStream(t, obj); got != "second build\n" {
		t.Errorf("version 2 = %q", got)
	}
	three := int64(3)
	if _, err := logs.Get(ctx, "time-1", &buildv1.BuildLogOptions{Version: &three}); !apierrors.IsNotFound(err) {
		t.Errorf("version 3: %v, want 404", err)
	}
}
