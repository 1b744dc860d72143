package replicationcontroller

import (
	"context"
	"fmt"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/registry/core/printing"
	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// NewREST returns the storage of replicationcontrollers and its status and
// scale subresources.
func NewREST(optsGetter generic.RESTOptionsGetter) (*genericregistry.Store, *storebase.SubresourceREST, *ScaleREST, error) {
	store, err := storebase.NewStore(optsGetter, storebase.Resource{
		Plural:   "replicationcontrollers",
		Singular: "replicationcontroller",
		New:      func() runtime.Object { return &corev1.ReplicationController{} },
		NewList:  func() runtime.Object { return &corev1.ReplicationControllerList{} },
		Strategy: Strategy,
		Table:    TableConvertor,
		Attrs:    GetAttrs,
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return store, storebase.NewSubresourceREST(store, StatusStrategy), &ScaleREST{store: store}, nil
}

// TableConvertor prints replication controllers as NAME DESIRED CURRENT
// READY AGE, with CONTAINERS IMAGES SELECTOR for -o wide.
var TableConvertor = printing.TableConvertor[*corev1.ReplicationController]{
	Columns: []metav1.TableColumnDefinition{
		printing.NameColumn,
		{Name: "Desired", Type: "integer", Description: "Number of desired pods."},
		{Name: "Current", Type: "integer", Description: "Number of pods currently running."},
		{Name: "Ready", Type: "integer", Description: "Number of pods ready."},
		printing.AgeColumn,
		{Name: "Containers", Type: "string", Priority: 1, Description: "Names of each container in the template."},
		{Name: "Images", Type: "string", Priority: 1, Description: "Images referenced by each container in the template."},
		{Name: "Selector", Type: "string", Priority: 1, Description: "Label selector for pods."},
	},
	Cells: func(rc *corev1.ReplicationController) []interface{} {
		desired := int64(0)
		if rc.Spec.Replicas != nil {
			desired = int64(*rc.Spec.Replicas)
		}
		var names, images []string
		if rc.Spec.Template != nil {
			for _, c := range rc.Spec.Template.Spec.Containers {
				names = append(names, c.Name)
				images = append(images, c.Image)
			}
		}
		return []interface{}{rc.Name, desired, int64(rc.Status.Replicas), int64(rc.Status.ReadyReplicas),
			printing.Age(rc.CreationTimestamp), strings.Join(names, ","), strings.Join(images, ","),
			labels.FormatLabels(rc.Spec.Selector)}
	},
}

// ScaleREST serves replicationcontrollers/<name>/scale as an
// autoscaling/v1 Scale, which is what `kubectl scale` and oc use.
type ScaleREST struct {
	store *genericregistry.Store
}

var (
	_ rest.Getter                   = &ScaleREST{}
	_ rest.Updater                  = &ScaleREST{}
	_ rest.GroupVersionKindProvider = &ScaleREST{}
)

// GroupVersionKind is autoscaling/v1 Scale, whatever the group serving it.
func (r *ScaleREST) GroupVersionKind(schema.GroupVersion) schema.GroupVersionKind {
	return autoscalingv1.SchemeGroupVersion.WithKind("Scale")
}

// New returns an empty Scale.
func (r *ScaleREST) New() runtime.Object { return &autoscalingv1.Scale{} }

// Destroy does nothing: the main store owns the storage.
func (r *ScaleREST) Destroy() {}

// Get returns the scale of a replication controller.
func (r *ScaleREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	obj, err := r.store.Get(ctx, name, options)
	if err != nil {
		return nil, err
	}
	return ScaleFromReplicationController(obj.(*corev1.ReplicationController)), nil
}

// Update sets spec.replicas from a Scale. The change is applied inside the
// store's update so a conflicting write retries against fresh data, and the
// Scale's resourceVersion guards it like the controller's own would.
func (r *ScaleREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, _ rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	obj, _, err := r.store.Update(ctx, name, &scaleUpdate{objInfo: objInfo, name: name},
		rest.ValidateAllObjectFunc,
		func(ctx context.Context, obj, old runtime.Object) error {
			return updateValidation(ctx, ScaleFromReplicationController(obj.(*corev1.ReplicationController)), ScaleFromReplicationController(old.(*corev1.ReplicationController)))
		},
		false, options)
	if err != nil {
		return nil, false, err
	}
	return ScaleFromReplicationController(obj.(*corev1.ReplicationController)), false, nil
}

// ScaleFromReplicationController returns the Scale view of rc.
func ScaleFromReplicationController(rc *corev1.ReplicationController) *autoscalingv1.Scale {
	replicas := int32(0)
	if rc.Spec.Replicas != nil {
		replicas = *rc.Spec.Replicas
	}
	return &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{
			Name:              rc.Name,
			Namespace:         rc.Namespace,
			UID:               rc.UID,
			ResourceVersion:   rc.ResourceVersion,
			CreationTimestamp: rc.CreationTimestamp,
		},
		Spec: autoscalingv1.ScaleSpec{Replicas: replicas},
		Status: autoscalingv1.ScaleStatus{
			Replicas: rc.Status.Replicas,
			Selector: labels.SelectorFromSet(rc.Spec.Selector).String(),
		},
	}
}

// scaleUpdate turns an update of the Scale into an update of the stored
// replication controller.
type scaleUpdate struct {
	objInfo rest.UpdatedObjectInfo
	name    string
}

func (u *scaleUpdate) Preconditions() *metav1.Preconditions { return u.objInfo.Preconditions() }

func (u *scaleUpdate) UpdatedObject(ctx context.Context, oldObj runtime.Object) (runtime.Object, error) {
	if oldObj == nil {
		return nil, apierrors.NewNotFound(corev1.Resource("replicationcontrollers/scale"), u.name)
	}
	rc := oldObj.(*corev1.ReplicationController).DeepCopy()
	obj, err := u.objInfo.UpdatedObject(ctx, ScaleFromReplicationController(rc))
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, apierrors.NewBadRequest("nil update passed to Scale")
	}
	scale, ok := obj.(*autoscalingv1.Scale)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("expected input object type to be Scale, but %T", obj))
	}
	if errs := ValidateScale(scale); len(errs) > 0 {
		return nil, apierrors.NewInvalid(autoscalingv1.SchemeGroupVersion.WithKind("Scale").GroupKind(), scale.Name, errs)
	}
	replicas := scale.Spec.Replicas
	rc.Spec.Replicas = &replicas
	// The Scale's resourceVersion is the controller's: keep it so the
	// store's optimistic concurrency check applies to the scale request.
	rc.ResourceVersion = scale.ResourceVersion
	return rc, nil
}

// ValidateScale requires non-negative replicas.
func ValidateScale(scale *autoscalingv1.Scale) field.ErrorList {
	return apivalidation.ValidateNonnegativeField(int64(scale.Spec.Replicas), field.NewPath("spec", "replicas"))
}
