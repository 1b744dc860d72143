package buildgenerator_test

import (
	"context"
	"fmt"
	"testing"

	buildv1 "github.com/openshift/api/build/v1"
	buildclient "github.com/openshift/client-go/build/clientset/versioned"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/slipway-dev/slipway/internal/buildgenerator"
	"github.com/slipway-dev/slipway/internal/testserver"
)

// Instantiate reads the BuildConfig from the API server's watch cache
// first. Back-to-back requests, each right after a change the cache may
// not have yet, must still get etcd's answer: consecutive numbers, the
// pause as it is now, a config created a moment ago.
func TestInstantiateRightAfterChanges(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	kube := kubernetes.NewForConfigOrDie(s.Admin)
	builds := buildclient.NewForConfigOrDie(s.Admin)
	images := imageclient.NewForConfigOrDie(s.Admin)
	g := buildgenerator.New(builds.BuildV1(), images.ImageV1(), kube.CoreV1())
	ctx := context.Background()
	const ns = "gen"
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bcs := builds.BuildV1().BuildConfigs(ns)
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
