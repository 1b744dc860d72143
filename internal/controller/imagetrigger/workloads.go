package imagetrigger

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/cache"

	"github.com/slipway-dev/slipway/internal/triggerannotation"
)

// updater is the Update of a typed client-go client of one workload kind
// (a Deployments(namespace), CronJobs(namespace), ...).
type updater[T any] interface {
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
}

// workload is what the controller needs of a Kubernetes workload object.
type workload interface {
	runtime.Object
	metav1.Object
}

// followWorkloads makes the controller keep the objects of informer, a
// Kubernetes workload kind named resource ("deployments"), in step with
// the tags their image.openshift.io/triggers annotation follows, writing
// them through client. An object is queued when it is added, when its
// annotation or spec changes (someone may have set a followed container's
// image by hand: OpenShift sets it back) and on resyncs; not on the status
// writes of its own controller.
func followWorkloads[T workload](c *Controller, resource string, informer cache.SharedIndexInformer, client func(namespace string) updater[T]) error {
	tags := func(obj any) []string {
		w, ok := obj.(T)
		if !ok {
			return nil
		}
		return workloadTags(w)
	}
	queueUpdate := func(old, obj any) bool {
		o, ok := old.(T)
		w, ok2 := obj.(T)
		if !ok || !ok2 {
			return false
		}
		annotated := func(w T) bool { _, ok := w.GetAnnotations()[triggerannotation.Key]; return ok }
		if !annotated(w) {
			return false
		}
		return !annotated(o) || o.GetResourceVersion() == w.GetResourceVersion() || o.GetGeneration() != w.GetGeneration() ||
			!maps.Equal(o.GetAnnotations(), w.GetAnnotations())
	}
	sync := func(ctx context.Context, key string) error {
		obj, exists, err := informer.GetIndexer().GetByKey(key)
		if err != nil || !exists {
			return err
		}
		w, ok := obj.(T)
		if !ok {
			return nil
		}
		changed, err := triggerannotation.Apply(w, c.resolveImageStreamTag)
		if err != nil {
			// A bad annotation stays bad until the object changes, which
			// queues it again: no retry.
			c.log.Warn("image triggers not applied", resource, key, "error", err)
		}
		if changed == nil {
			return nil
		}
		_, err = client(w.GetNamespace()).Update(ctx, changed.(T), metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			// A conflict retries from the cache, which the watch brings up
			// to date.
			return fmt.Errorf("updating the images of %s %s: %w", resource, key, err)
		}
		c.log.Info("updated images for image change", resource, key)
		return nil
	}
	return c.followWhen(resource+"/", informer, sync, tags, queueUpdate)
}

// workloadTags lists the index keys of the tags the annotated triggers of
// w follow now (not paused). A malformed annotation follows nothing.
func workloadTags(w workload) []string {
	triggers, err := triggerannotation.Parse(w.GetAnnotations())
	if err != nil {
		return nil
	}
	var keys []string
	for _, t := range triggers {
		if !t.FollowsImageStreamTag() {
			continue
		}
		ref := &corev1.ObjectReference{Kind: t.From.Kind, Name: t.From.Name, Namespace: t.From.Namespace}
		if key := followedTag(w.GetNamespace(), ref); key != "" {
			keys = append(keys, key)
		}
	}
	return keys
}

// resolveImageStreamTag is resolveTag for image stream tag name
// ("stream:tag") of namespace.
func (c *Controller) resolveImageStreamTag(namespace, name string) string {
	return c.resolveTag(followedTag(namespace, &corev1.ObjectReference{Kind: "ImageStreamTag", Name: name}))
}
