package buildregistry

import (
	"context"
	"testing"

	buildv1 "github.com/openshift/api/build/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/registry/storagetest"
)

func TestStorageAgainstEtcd(t *testing.T) {
	storage, err := NewStorage(storagetest.NewOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"buildconfigs", "buildconfigs/status", "builds", "builds/status"} {
		if storage[path] == nil {
			t.Fatalf("no storage for %s", path)
		}
	}
	ctx := genericapirequest.WithNamespace(context.Background(), "demo")
	bcs := storage["buildconfigs"].(rest.StandardStorage)
	bcStatus := storage["buildconfigs/status"].(rest.Patcher)
	builds := storage["builds"].(rest.StandardStorage)
	buildStatus := storage["builds/status"].(rest.Patcher)
	create := func(s rest.Creater, obj runtime.Object) (runtime.Object, error) {
		return s.Create(ctx, obj, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	}
	update := func(s rest.Updater, name string, obj runtime.Object) (runtime.Object, error) {
		out, _, err := s.Update(ctx, name, rest.DefaultUpdatedObjectInfo(obj), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
		return out, err
	}

	common := buildv1.CommonSpec{
		Source:   buildv1.BuildSource{Git: &buildv1.GitBuildSource{URI: "https://github.com/VeerMuchandi/time"}, ContextDir: "busybox"},
		Strategy: buildv1.BuildStrategy{DockerStrategy: &buildv1.DockerBuildStrategy{From: &corev1.ObjectReference{Kind: "DockerImage", Name: "busybox:latest"}}},
		Output:   buildv1.BuildOutput{To: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "time:latest"}},
	}
	obj, err := create(bcs, &buildv1.BuildConfig{ObjectMeta: metav1.ObjectMeta{Name: "time"}, Spec: buildv1.BuildConfigSpec{CommonSpec: common}})
	if err != nil {
		t.Fatalf("create buildconfig: %v", err)
	}
	bc := obj.(*buildv1.BuildConfig)
	if bc.Spec.RunPolicy != buildv1.BuildRunPolicySerial || *bc.Spec.SuccessfulBuildsHistoryLimit != 5 {
		t.Errorf("created BuildConfig lacks defaults: %+v", bc.Spec)
	}

	noOutput := bc.DeepCopy()
	noOutput.Spec.Output.To.Name = ""
	_, err = update(bcs, "time", noOutput)
	if !apierrors.IsInvalid(err) {
		t.Fatalf("update without output name: err = %v, want 422", err)
	}
	if causes := err.(apierrors.APIStatus).Status().Details.Causes; len(causes) == 0 || causes[0].Field != "spec.output.to.name" {
		t.Errorf("422 causes = %+v, want spec.output.to.name", causes)
	}

	counted := bc.DeepCopy()
	counted.Status.LastVersion = 1
	if obj, err = update(bcStatus, "time", counted); err != nil {
		t.Fatalf("buildconfig status update: %v", err)
	}
	if v := obj.(*buildv1.BuildConfig).Status.LastVersion; v != 1 {
		t.Errorf("lastVersion = %d, want 1", v)
	}

	for _, name := range []string{"time-1", "time-2"} {
		if _, err := create(builds, &buildv1.Build{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: buildv1.BuildSpec{CommonSpec: common}}); err != nil {
			t.Fatalf("create build %s: %v", name, err)
		}
	}
	obj, err = builds.Get(ctx, "time-1", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b := obj.(*buildv1.Build)
	if b.Status.Phase != buildv1.BuildPhaseNew || b.Spec.ServiceAccount != "builder" {
		t.Errorf("new build: phase %q, serviceAccount %q", b.Status.Phase, b.Spec.ServiceAccount)
	}

	running := b.DeepCopy()
	running.Status.Phase = buildv1.BuildPhaseRunning
	if obj, err = update(buildStatus, "time-1", running); err != nil {
		t.Fatalf("build status update: %v", err)
	}
	list, err := builds.List(ctx, &metainternalversion.ListOptions{FieldSelector: fields.OneTermEqualSelector("status.phase", "Running")})
	if err != nil {
		t.Fatal(err)
	}
	if items := list.(*buildv1.BuildList).Items; len(items) != 1 || items[0].Name != "time-1" {
		t.Errorf("builds with status.phase=Running: %d items", len(items))
	}

	complete := obj.(*buildv1.Build).DeepCopy()
	complete.Status.Phase = buildv1.BuildPhaseComplete
	if obj, err = update(buildStatus, "time-1", complete); err != nil {
		t.Fatalf("completing: %v", err)
	}
	reopened := obj.(*buildv1.Build).DeepCopy()
	reopened.Status.Phase = buildv1.BuildPhaseRunning
	if _, err := update(buildStatus, "time-1", reopened); !apierrors.IsInvalid(err) {
		t.Errorf("moving a Complete build back to Running: err = %v, want 422", err)
	}
	respecced := obj.(*buildv1.Build).DeepCopy()
	respecced.Spec.Source.ContextDir = "other"
	if _, err := update(builds, "time-1", respecced); !apierrors.IsInvalid(err) {
		t.Errorf("changing a build's spec: err = %v, want 422", err)
	}
}
