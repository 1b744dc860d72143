package pod

import (
	"context"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/podlogs"
	"github.com/slipway-dev/slipway/internal/registry/storagetest"
	"github.com/slipway-dev/slipway/internal/scheme"
)

func TestPodLogOptionsFromQueryThroughParameterCodec(t *testing.T) {
	q := url.Values{"container": {"docker-build"}, "follow": {"true"}, "tailLines": {"5"}, "limitBytes": {"100"}, "timestamps": {"1"}}
	var opts corev1.PodLogOptions
	if err := scheme.ParameterCodec.DecodeParameters(q, corev1.SchemeGroupVersion, &opts); err != nil {
		t.Fatal(err)
	}
	if opts.Container != "docker-build" || !opts.Follow || opts.TailLines == nil || *opts.TailLines != 5 ||
		opts.LimitBytes == nil || *opts.LimitBytes != 100 || !opts.Timestamps {
		t.Errorf("decoded %+v", opts)
	}
	if err := scheme.ParameterCodec.DecodeParameters(url.Values{"tailLines": {"x"}}, corev1.SchemeGroupVersion, &opts); err == nil {
		t.Error("tailLines=x decoded without error")
	}
}

func TestContainerForLog(t *testing.T) {
	one := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "git-clone"}},
		Containers:     []corev1.Container{{Name: "docker-build"}},
	}}
	two := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}}}
	tests := []struct {
		pod     *corev1.Pod
		name    string
		want    string
		wantErr string
	}{
		{one, "", "docker-build", ""},
		{one, "git-clone", "git-clone", ""},
		{one, "nope", "", "container nope is not valid for pod p"},
		{two, "", "", "a container name must be specified for pod p, choose one of: [a b]"},
		{two, "b", "b", ""},
	}
	for _, tt := range tests {
		got, err := ContainerForLog(tt.pod, tt.name)
		if tt.wantErr != "" {
			if err == nil || !apierrors.IsBadRequest(err) || err.Error() != tt.wantErr {
				t.Errorf("ContainerForLog(%q) error = %v, want %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ContainerForLog(%q) = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func read(t *testing.T, obj interface{}) string {
	t.Helper()
	s, ok := obj.(rest.ResourceStreamer)
	if !ok {
		t.Fatalf("Get returned %T, not a stream", obj)
	}
	r, _, mime, err := s.InputStream(context.Background(), "v1", "")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if mime != "text/plain" {
		t.Errorf("mime type %q", mime)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestLogREST reads logs through pods/log over real pod storage: whole,
// tail, a missing log, and a follow that ends when the pod succeeds.
func TestLogREST(t *testing.T) {
	dir := t.TempDir()
	opts := podlogs.WithDir(storagetest.NewOptions(t), podlogs.Dir(dir))
	pods, status, err := NewREST(opts)
	if err != nil {
		t.Fatal(err)
	}
	logs := NewLogREST(pods, opts)
	ctx := genericapirequest.WithNamespace(context.Background(), "p")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "b-1-build", Namespace: "p"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "docker-build", Image: "slipway/builder"}}},
	}
	obj, err := pods.Create(ctx, pod, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod = obj.(*corev1.Pod)

	if _, err := logs.Get(ctx, "b-1-build", &corev1.PodLogOptions{}); err != nil {
		// The stream is made lazily; the missing file shows when opened.
		t.Fatal(err)
	}
	stream, _ := logs.Get(ctx, "b-1-build", &corev1.PodLogOptions{})
	if _, _, _, err := stream.(rest.ResourceStreamer).InputStream(ctx, "v1", ""); !apierrors.IsBadRequest(err) {
		t.Errorf("log of a container that has not started: %v, want 400", err)
	}

	path := podlogs.Dir(dir).ContainerLog("p", "b-1-build", "docker-build")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("one\ntwo\nthree\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	obj, err = logs.Get(ctx, "b-1-build", &corev1.PodLogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, obj); got != "one\ntwo\nthree\n" {
		t.Errorf("log = %q", got)
	}
	two := int64(2)
	obj, _ = logs.Get(ctx, "b-1-build", &corev1.PodLogOptions{TailLines: &two})
	if got := read(t, obj); got != "two\nthree\n" {
		t.Errorf("tail 2 = %q", got)
	}
	if _, err := logs.Get(ctx, "b-1-build", &corev1.PodLogOptions{Container: "other"}); !apierrors.IsBadRequest(err) {
		t.Errorf("unknown container: %v", err)
	}
	if _, err := logs.Get(ctx, "nope", &corev1.PodLogOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("unknown pod: %v", err)
	}

	// Follow: the stream stays open while the pod runs and ends after it
	// succeeded, with everything written before.
	obj, err = logs.Get(ctx, "b-1-build", &corev1.PodLogOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() { got <- read(t, obj) }()
	select {
	case s := <-got:
		t.Fatalf("follow ended while the pod runs: %q", s)
	case <-time.After(700 * time.Millisecond):
	}
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	f.WriteString("four\n")
	f.Close()
	pod.Status.Phase = corev1.PodSucceeded
	if _, _, err := status.Update(ctx, pod.Name, rest.DefaultUpdatedObjectInfo(pod), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != "one\ntwo\nthree\nfour\n" {
			t.Errorf("followed %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end after the pod succeeded")
	}
}

func TestLogRESTWithoutDir(t *testing.T) {
	opts := storagetest.NewOptions(t)
	pods, _, err := NewREST(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := genericapirequest.WithNamespace(context.Background(), "p")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "p"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}},
	}
	if _, err := pods.Create(ctx, pod, rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = NewLogREST(pods, opts).Get(ctx, "x", &corev1.PodLogOptions{})
	if !apierrors.IsServiceUnavailable(err) {
		t.Errorf("err = %v, want 503", err)
	}
}
