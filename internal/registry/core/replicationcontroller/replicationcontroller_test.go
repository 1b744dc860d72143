package replicationcontroller

import (
	"context"
	"strings"
	"testing"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/registry/storagetest"
)

func newRC() *corev1.ReplicationController {
	return &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "app-1", Namespace: "ns"},
		Spec: corev1.ReplicationControllerSpec{Template: &corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"deployment": "app-1"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "img:1"}}},
		}},
	}
}

func TestPrepareForCreateDefaults(t *testing.T) {
	rc := newRC()
	rc.Status.Replicas = 4
	Strategy.PrepareForCreate(context.Background(), rc)
	if rc.Spec.Replicas == nil || *rc.Spec.Replicas != 1 {
		t.Errorf("replicas = %v, want 1", rc.Spec.Replicas)
	}
	if rc.Spec.Selector["deployment"] != "app-1" || rc.Labels["deployment"] != "app-1" {
		t.Errorf("selector %v labels %v", rc.Spec.Selector, rc.Labels)
	}
	if rc.Status.Replicas != 0 || rc.Generation != 1 {
		t.Errorf("status %+v generation %d", rc.Status, rc.Generation)
	}
	if rc.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways || rc.Spec.Template.Spec.Containers[0].ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("pod template not defaulted: %+v", rc.Spec.Template.Spec)
	}
	zero := int32(0)
	rc = newRC()
	rc.Spec.Replicas = &zero
	rc.Spec.Selector = map[string]string{"x": "y"}
	Strategy.PrepareForCreate(context.Background(), rc)
	if *rc.Spec.Replicas != 0 || rc.Spec.Selector["x"] != "y" {
		t.Errorf("explicit values overwritten: replicas %d selector %v", *rc.Spec.Replicas, rc.Spec.Selector)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.ReplicationController)
		want   string
	}{
		{name: "valid", mutate: func(*corev1.ReplicationController) {}},
		{name: "no template", mutate: func(rc *corev1.ReplicationController) {
			rc.Spec.Template = nil
			rc.Spec.Selector = map[string]string{"a": "b"}
		}, want: "spec.template: Required value"},
		{name: "selector mismatch", mutate: func(rc *corev1.ReplicationController) { rc.Spec.Selector = map[string]string{"a": "b"} }, want: "spec.template.metadata.labels: Invalid value"},
		{name: "negative replicas", mutate: func(rc *corev1.ReplicationController) { n := int32(-1); rc.Spec.Replicas = &n }, want: "spec.replicas: Invalid value"},
		{name: "restart never", mutate: func(rc *corev1.ReplicationController) {
			rc.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		}, want: "spec.template.spec.restartPolicy: Unsupported value"},
		{name: "no image", mutate: func(rc *corev1.ReplicationController) { rc.Spec.Template.Spec.Containers[0].Image = "" }, want: "spec.template.spec.containers[0].image: Required value"},
		{name: "no labels at all", mutate: func(rc *corev1.ReplicationController) { rc.Spec.Template.Labels = nil }, want: "spec.selector: Required value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := newRC()
			tt.mutate(rc)
			Strategy.PrepareForCreate(context.Background(), rc)
			errs := Strategy.Validate(context.Background(), rc)
			if tt.want == "" {
				if len(errs) != 0 {
					t.Fatalf("errors = %v", errs)
				}
				return
			}
			if len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), tt.want) {
				t.Fatalf("errors = %v, want %q", errs, tt.want)
			}
		})
	}
}

func TestUpdateGenerationAndStatus(t *testing.T) {
	old := newRC()
	Strategy.PrepareForCreate(context.Background(), old)
	old.Status.Replicas = 1

	rc := old.DeepCopy()
	rc.Status.Replicas = 9
	rc.Labels = map[string]string{"x": "y"}
	Strategy.PrepareForUpdate(context.Background(), rc, old)
	if rc.Generation != 1 || rc.Status.Replicas != 1 {
		t.Errorf("metadata-only update: generation %d status %d", rc.Generation, rc.Status.Replicas)
	}
	three := int32(3)
	rc.Spec.Replicas = &three
	Strategy.PrepareForUpdate(context.Background(), rc, old)
	if rc.Generation != 2 {
		t.Errorf("spec update generation = %d, want 2", rc.Generation)
	}

	rc = old.DeepCopy()
	rc.Spec.Replicas = &three
	rc.Status.ReadyReplicas = 1
	StatusStrategy.PrepareForUpdate(context.Background(), rc, old)
	if *rc.Spec.Replicas != 1 || rc.Status.ReadyReplicas != 1 {
		t.Errorf("status update: replicas %d ready %d", *rc.Spec.Replicas, rc.Status.ReadyReplicas)
	}
}

func TestTable(t *testing.T) {
	rc := newRC()
	Strategy.PrepareForCreate(context.Background(), rc)
	rc.Status.Replicas, rc.Status.ReadyReplicas = 1, 0
	table, err := TableConvertor.ConvertToTable(context.Background(), rc, nil)
	if err != nil {
		t.Fatal(err)
	}
	cells := table.Rows[0].Cells
	if cells[1] != int64(1) || cells[2] != int64(1) || cells[3] != int64(0) || cells[5] != "app" || cells[6] != "img:1" || cells[7] != "deployment=app-1" {
		t.Errorf("cells = %v", cells)
	}
}

func TestScale(t *testing.T) {
	store, _, scale, err := NewREST(storagetest.NewOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Destroy)
	ctx := genericapirequest.WithNamespace(genericapirequest.NewContext(), "ns")
	if _, err := store.Create(ctx, newRC(), rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	obj, err := scale.Get(ctx, "app-1", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := obj.(*autoscalingv1.Scale)
	if s.Spec.Replicas != 1 || s.Status.Selector != "deployment=app-1" || s.ResourceVersion == "" {
		t.Fatalf("scale = %+v", s)
	}

	stale := s.DeepCopy()
	s.Spec.Replicas = 3
	obj, _, err = scale.Update(ctx, "app-1", rest.DefaultUpdatedObjectInfo(s), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if obj.(*autoscalingv1.Scale).Spec.Replicas != 3 {
		t.Errorf("scale after update = %+v", obj)
	}
	rcObj, err := store.Get(ctx, "app-1", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rc := rcObj.(*corev1.ReplicationController); *rc.Spec.Replicas != 3 || rc.Generation != 2 {
		t.Errorf("rc replicas %d generation %d", *rc.Spec.Replicas, rc.Generation)
	}

	stale.Spec.Replicas = 5
	if _, _, err := scale.Update(ctx, "app-1", rest.DefaultUpdatedObjectInfo(stale), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("stale scale err = %v, want Conflict", err)
	}
	negative := obj.(*autoscalingv1.Scale).DeepCopy()
	negative.Spec.Replicas = -1
	if _, _, err := scale.Update(ctx, "app-1", rest.DefaultUpdatedObjectInfo(negative), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("negative scale err = %v, want Invalid", err)
	}
	if _, err := scale.Get(ctx, "missing", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("missing err = %v", err)
	}
}
