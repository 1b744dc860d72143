package appsregistry

import (
	"context"
	"testing"

	appsv1 "github.com/openshift/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/registry/storagetest"
)

func TestStorageAgainstEtcd(t *testing.T) {
	storage, err := NewStorage(storagetest.NewOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"deploymentconfigs", "deploymentconfigs/status", "deploymentconfigs/scale"} {
		if storage[path] == nil {
			t.Fatalf("no storage for %s", path)
		}
	}
	ctx := genericapirequest.WithNamespace(context.Background(), "demo")
	dcs := storage["deploymentconfigs"].(rest.StandardStorage)
	scale := storage["deploymentconfigs/scale"].(rest.Patcher)
	status := storage["deploymentconfigs/status"].(rest.Patcher)

	dc := &appsv1.DeploymentConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "mytime", Namespace: "demo"},
		Spec: appsv1.DeploymentConfigSpec{
			Replicas: 1,
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "mytime"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "mytime", Image: "busybox"}}},
			},
		},
		Status: appsv1.DeploymentConfigStatus{LatestVersion: 8},
	}
	obj, err := dcs.Create(ctx, dc, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	created := obj.(*appsv1.DeploymentConfig)
	if created.Generation != 1 || created.Status.LatestVersion != 0 || len(created.Spec.Triggers) != 1 || created.Spec.Selector["app"] != "mytime" {
		t.Errorf("created DC: generation %d, latestVersion %d, triggers %v, selector %v", created.Generation, created.Status.LatestVersion, created.Spec.Triggers, created.Spec.Selector)
	}

	invalid := dc.DeepCopy()
	invalid.Name = "broken"
	invalid.Spec.Triggers = appsv1.DeploymentTriggerPolicies{{Type: appsv1.DeploymentTriggerOnImageChange, ImageChangeParams: &appsv1.DeploymentTriggerImageChangeParams{ContainerNames: []string{"mytime"}}}}
	if _, err := dcs.Create(ctx, invalid, rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("creating an image trigger without from: err = %v, want 422", err)
	}

	// Scale: read, write, and a stale write.
	obj, err = scale.Get(ctx, "mytime", &metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get scale: %v", err)
	}
	current := obj.(*extensionsv1beta1.Scale)
	if current.Spec.Replicas != 1 || current.Status.TargetSelector != "app=mytime" || current.Status.Selector["app"] != "mytime" {
		t.Errorf("scale = %+v", current)
	}
	want := current.DeepCopy()
	want.Spec.Replicas = 3
	obj, _, err = scale.Update(ctx, "mytime", rest.DefaultUpdatedObjectInfo(want), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("update scale: %v", err)
	}
	if got := obj.(*extensionsv1beta1.Scale).Spec.Replicas; got != 3 {
		t.Errorf("scale answer replicas = %d, want 3", got)
	}
	obj, err = dcs.Get(ctx, "mytime", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scaled := obj.(*appsv1.DeploymentConfig)
	if scaled.Spec.Replicas != 3 || scaled.Generation != 2 {
		t.Errorf("after scale: replicas %d generation %d, want 3 and 2", scaled.Spec.Replicas, scaled.Generation)
	}
	if _, _, err := scale.Update(ctx, "mytime", rest.DefaultUpdatedObjectInfo(want), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("stale scale update: err = %v, want 409", err)
	}

	// Status: the controller's write lands, a spec change through it does not.
	update := scaled.DeepCopy()
	update.Status.LatestVersion, update.Status.ObservedGeneration = 1, 2
	update.Spec.Replicas = 10
	obj, _, err = status.Update(ctx, "mytime", rest.DefaultUpdatedObjectInfo(update), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("status update: %v", err)
	}
	if got := obj.(*appsv1.DeploymentConfig); got.Status.LatestVersion != 1 || got.Spec.Replicas != 3 {
		t.Errorf("after status update: latestVersion %d replicas %d, want 1 and 3", got.Status.LatestVersion, got.Spec.Replicas)
	}

	// The table lists it as oc would.
	list, err := dcs.List(ctx, &metainternalversion.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	table, err := dcs.ConvertToTable(ctx, list, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(table.Rows) != 1 || table.Rows[0].Cells[4] != "config" || table.Rows[0].Cells[1] != int64(1) {
		t.Errorf("table rows = %+v", table.Rows)
	}
}
