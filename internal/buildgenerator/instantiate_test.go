package buildgenerator_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	buildv1 "github.com/openshift/api/build/v1"
	buildclient "github.com/openshift/client-go/build/clientset/versioned"
	buildv1client "github.com/openshift/client-go/build/clientset/versioned/typed/build/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/slipway-dev/slipway/internal/buildgenerator"
	"github.com/slipway-dev/slipway/internal/testserver"
)

// newGenerator starts a server and returns a Generator on it (its builds
// client wrapped by wrap, when given) and the BuildConfigs of its
// namespace "gen".
func newGenerator(t *testing.T, wrap ...func(buildv1client.BuildV1Interface) buildv1client.BuildV1Interface) (*buildgenerator.Generator, buildv1client.BuildConfigInterface) {
	t.Helper()
	s := testserver.Start(t, testserver.Options{})
	kube := kubernetes.NewForConfigOrDie(s.Admin)
	builds := buildclient.NewForConfigOrDie(s.Admin)
	images := imageclient.NewForConfigOrDie(s.Admin)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gen"}}
	if _, err := kube.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	client := builds.BuildV1()
	for _, w := range wrap {
		client = w(client)
	}
	return buildgenerator.New(client, images.ImageV1(), kube.CoreV1()), builds.BuildV1().BuildConfigs(ns.Name)
}

// Instantiate reads the BuildConfig from the API server's watch cache
// first. Back-to-back requests, each right after a change the cache may
// not have yet, must still get etcd's answer: consecutive numbers, the
// pause as it is now, a config created a moment ago.
func TestInstantiateRightAfterChanges(t *testing.T) {
	g, bcs := newGenerator(t)
	ctx := context.Background()
	const ns = "gen"
	req := func(name string) *buildv1.BuildRequest {
		return &buildv1.BuildRequest{ObjectMeta: metav1.ObjectMeta{Name: name}, TriggeredBy: []buildv1.BuildTriggerCause{{Message: "Manually triggered"}}}
	}
	for i := range 5 {
		name := fmt.Sprintf("app%d", i)
		bc := &buildv1.BuildConfig{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: buildv1.BuildConfigSpec{CommonSpec: buildv1.CommonSpec{
				Source:   buildv1.BuildSource{Git: &buildv1.GitBuildSource{URI: "https://git.test/app.git"}},
				Strategy: buildv1.BuildStrategy{DockerStrategy: &buildv1.DockerBuildStrategy{}},
			}},
		}
		if _, err := bcs.Create(ctx, bc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// Created a moment ago: the cache may not know it yet.
		for n := 1; n <= 4; n++ {
			b, err := g.Instantiate(ctx, ns, name, req(name))
			if err != nil {
				t.Fatalf("instantiate %s #%d: %v", name, n, err)
			}
			if want := fmt.Sprintf("%s-%d", name, n); b.Name != want {
				t.Errorf("build %s, want %s (numbers must follow each other)", b.Name, want)
			}
		}
		// The pause applies at once, and so does its end.
		for _, paused := range []bool{true, false} {
			cur, err := bcs.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if cur.Annotations == nil {
				cur.Annotations = map[string]string{}
			}
			cur.Annotations[buildv1.BuildConfigPausedAnnotation] = fmt.Sprint(paused)
			if _, err := bcs.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			_, err = g.Instantiate(ctx, ns, name, req(name))
			if paused && !apierrors.IsBadRequest(err) {
				t.Errorf("instantiate %s right after pausing it: %v, want 400", name, err)
			}
			if !paused && err != nil {
				t.Errorf("instantiate %s right after its pause ended: %v", name, err)
			}
		}
		// lastVersion as the client just read it from etcd passes.
		cur, err := bcs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r := req(name)
		r.LastVersion = &cur.Status.LastVersion
		if _, err := g.Instantiate(ctx, ns, name, r); err != nil {
			t.Errorf("instantiate %s with lastVersion %d, as just read: %v", name, cur.Status.LastVersion, err)
		}
		if bc, _ := bcs.Get(ctx, name, metav1.GetOptions{}); bc.Status.LastVersion != 6 {
			t.Errorf("%s lastVersion = %d, want 6 (one per build made)", name, bc.Status.LastVersion)
		}
	}
}

// Concurrent requests on one BuildConfig, while someone else keeps editing
// it, are all served: one build each, numbered 1..n without gaps.
func TestInstantiateConcurrently(t *testing.T) {
	g, bcs := newGenerator(t)
	ctx := context.Background()
	const ns, name, n = "gen", "busy", 30
	bc := &buildv1.BuildConfig{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: buildv1.BuildConfigSpec{RunPolicy: buildv1.BuildRunPolicyParallel, CommonSpec: buildv1.CommonSpec{
			Source:   buildv1.BuildSource{Git: &buildv1.GitBuildSource{URI: "https://git.test/app.git"}},
			Strategy: buildv1.BuildStrategy{DockerStrategy: &buildv1.DockerBuildStrategy{}},
		}},
	}
	if _, err := bcs.Create(ctx, bc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A writer outside the generator's turns: a user editing the config.
	stop := make(chan struct{})
	edits := make(chan int)
	go func() {
		count := 0
		defer func() { edits <- count }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			cur, err := bcs.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				continue
			}
			cur.Labels = map[string]string{"edit": fmt.Sprint(count)}
			if _, err := bcs.Update(ctx, cur, metav1.UpdateOptions{}); err == nil {
				count++
			}
		}
	}()
	names := make(chan string, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			b, err := g.Instantiate(ctx, ns, name, &buildv1.BuildRequest{ObjectMeta: metav1.ObjectMeta{Name: name}})
			if err != nil {
				errs <- err
				return
			}
			names <- b.Name
		}()
	}
	got := map[string]bool{}
	for range n {
		select {
		case err := <-errs:
			t.Errorf("instantiate: %v", err)
		case b := <-names:
			got[b] = true
		}
	}
	close(stop)
	t.Logf("%d edits of the config meanwhile", <-edits)
	for i := 1; i <= n; i++ {
		if b := fmt.Sprintf("%s-%d", name, i); !got[b] {
			t.Errorf("no build %s among %v", b, got)
		}
	}
	cur, err := bcs.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cur.Status.LastVersion != n {
		t.Errorf("lastVersion after %d instantiates = %d", n, cur.Status.LastVersion)
	}
}

// A build create the API could not take just then (503) is made again: the
// counter already moved, so failing would leave a gap in the numbers. The
// first create here is stored and still answered 503, as an aggregator
// that gave up on a request that went through answers: the build is found.
func TestInstantiateCreatesAgainWhenUnavailable(t *testing.T) {
	flaky := &flakyBuilds{}
	g, bcs := newGenerator(t, func(c buildv1client.BuildV1Interface) buildv1client.BuildV1Interface {
		flaky.BuildV1Interface = c
		return flaky
	})
	ctx := context.Background()
	bc := &buildv1.BuildConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Spec: buildv1.BuildConfigSpec{CommonSpec: buildv1.CommonSpec{
			Source:   buildv1.BuildSource{Git: &buildv1.GitBuildSource{URI: "https://git.test/app.git"}},
			Strategy: buildv1.BuildStrategy{DockerStrategy: &buildv1.DockerBuildStrategy{}},
		}},
	}
	if _, err := bcs.Create(ctx, bc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 2; n++ {
		b, err := g.Instantiate(ctx, "gen", "app", &buildv1.BuildRequest{ObjectMeta: metav1.ObjectMeta{Name: "app"}})
		if err != nil {
			t.Fatalf("instantiate #%d: %v", n, err)
		}
		if want := fmt.Sprintf("app-%d", n); b.Name != want || b.UID == "" {
			t.Errorf("instantiate #%d made %q (uid %q), want the stored %s", n, b.Name, b.UID, want)
		}
	}
	if !flaky.failed.Load() {
		t.Error("no create was answered 503: the test tested nothing")
	}
}

// flakyBuilds answers the first build create with 503 after storing it.
type flakyBuilds struct {
	buildv1client.BuildV1Interface
	failed atomic.Bool
}

func (f *flakyBuilds) Builds(namespace string) buildv1client.BuildInterface {
	return &flakyBuildCreates{BuildInterface: f.BuildV1Interface.Builds(namespace), failed: &f.failed}
}

type flakyBuildCreates struct {
	buildv1client.BuildInterface
	failed *atomic.Bool
}

func (f *flakyBuildCreates) Create(ctx context.Context, build *buildv1.Build, opts metav1.CreateOptions) (*buildv1.Build, error) {
	created, err := f.BuildInterface.Create(ctx, build, opts)
	if err == nil && f.failed.CompareAndSwap(false, true) {
		return nil, apierrors.NewServiceUnavailable("the server is currently unable to handle the request")
	}
	return created, err
}
