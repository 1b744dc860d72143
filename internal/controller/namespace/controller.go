// Package namespace empties namespaces that are being deleted: it deletes
// every object of every namespaced resource the server offers, then removes
// the kubernetes finalizer so the namespace itself goes away.
package namespace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"

	"github.com/slipway-dev/slipway/internal/controller/worker"
)

// ControllerName names the work queue and the log records.
const ControllerName = "namespace"

// DefaultRecheckDelay is how long the controller waits before it lists a
// namespace's content again while objects are still going away (pods ending
// gracefully, objects with finalizers).
const DefaultRecheckDelay = time.Second

// Controller deletes the content of terminating namespaces and finalizes them.
// Its queue holds namespace names.
type Controller struct {
	client    kubernetes.Interface
	dynamic   dynamic.Interface
	discovery discovery.DiscoveryInterface

	namespaces corelisters.NamespaceLister
	synced     cache.InformerSynced

	queue        worker.Queue
	recheckDelay time.Duration
	log          *slog.Logger
}

// Option configures a Controller.
type Option func(*Controller)

// WithRecheckDelay sets how long to wait before looking again at a namespace
// whose objects are still being deleted (default DefaultRecheckDelay).
func WithRecheckDelay(d time.Duration) Option {
	return func(c *Controller) { c.recheckDelay = d }
}

// New returns a controller that watches namespaces through the given informer,
// finds resources through disco, deletes objects through dyn and finalizes
// namespaces through client. The informer must be started by the caller.
func New(client kubernetes.Interface, dyn dynamic.Interface, disco discovery.DiscoveryInterface, namespaces coreinformers.NamespaceInformer, opts ...Option) *Controller {
	c := &Controller{
		client:       client,
		dynamic:      dyn,
		discovery:    disco,
		namespaces:   namespaces.Lister(),
		synced:       namespaces.Informer().HasSynced,
		queue:        worker.NewQueue(ControllerName),
		recheckDelay: DefaultRecheckDelay,
		log:          slog.Default().With("controller", ControllerName),
	}
	for _, o := range opts {
		o(c)
	}
	// AddEventHandler only fails on a stopped informer; the caller starts it after New.
	_, _ = namespaces.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
	})
	return c
}

// enqueue queues namespaces that are being deleted; the rest need nothing.
func (c *Controller) enqueue(obj any) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok || ns.DeletionTimestamp == nil {
		return
	}
	c.queue.Add(ns.Name)
}

// Run waits for the cache, then runs workers until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return worker.Run(ctx, ControllerName, c.queue, workers, []cache.InformerSynced{c.synced}, c.syncOrRecheck)
}

// syncOrRecheck syncs the namespace named key; one whose objects are still
// on their way out is not a failure: it is looked at again after
// recheckDelay, at a steady pace rather than with growing backoff.
func (c *Controller) syncOrRecheck(ctx context.Context, key string) error {
	err := c.sync(ctx, key)
	var remaining *ContentRemainingError
	if errors.As(err, &remaining) {
		c.log.Debug("content remaining", "namespace", key, "objects", remaining.Objects)
		c.queue.AddAfter(key, c.recheckDelay)
		return nil
	}
	return err
}

// ContentRemainingError says that a namespace still holds objects after a
// deletion pass, typically ones ending gracefully.
type ContentRemainingError struct {
	Namespace string
	Objects   int
}

func (e *ContentRemainingError) Error() string {
	return fmt.Sprintf("namespace %s: %d objects remaining", e.Namespace, e.Objects)
}

// sync deletes the content of the namespace named key if it is terminating,
// and finalizes it once nothing is left.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, err := c.namespaces.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting namespace %s from cache: %w", key, err)
	}
	if ns.DeletionTimestamp == nil {
		return nil
	}
	if !NeedsContentDeletion(ns) {
		// Finalized already; a failed final Delete is retried here.
		if len(ns.Spec.Finalizers) == 0 {
			return c.deleteNamespace(ctx, key)
		}
		return nil // other finalizers belong to other controllers
	}

	remaining, err := c.deleteContent(ctx, key)
	if err != nil {
		return err
	}
	if remaining > 0 {
		return &ContentRemainingError{Namespace: key, Objects: remaining}
	}
	return c.finalize(ctx, key)
}

// deleteContent deletes the objects of every deletable namespaced resource in
// namespace and returns how many are still there. A failure on one resource
// does not stop the others; the failures are returned together, and a
// partial discovery failure is one of them so that the namespace is not
// finalized while a group's objects may be left behind.
func (c *Controller) deleteContent(ctx context.Context, namespace string) (int, error) {
	lists, err := discovery.ServerPreferredNamespacedResourcesWithContext(ctx, discovery.ToDiscoveryInterfaceWithContext(c.discovery))
	var errs []error
	if err != nil {
		if !discovery.IsGroupDiscoveryFailedError(err) {
			return 0, fmt.Errorf("discovering namespaced resources: %w", err)
		}
		errs = append(errs, fmt.Errorf("discovering namespaced resources: %w", err))
	}
	remaining := 0
	for _, r := range DeletableResources(lists) {
		n, err := c.deleteResource(ctx, namespace, r)
		remaining += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return remaining, utilerrors.NewAggregate(errs)
}

// deleteResource deletes the objects of one resource in namespace and returns
// how many remain afterwards.
func (c *Controller) deleteResource(ctx context.Context, namespace string, r Resource) (int, error) {
	client := c.dynamic.Resource(r.GroupVersionResource).Namespace(namespace)
	// Background: nothing may wait on an orphan finalizer; all dependants in
	// the namespace are deleted by this pass anyway.
	background := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &background}

	oneByOne := !r.DeleteCollection
	if r.DeleteCollection {
		err := client.DeleteCollection(ctx, opts, metav1.ListOptions{})
		switch {
		case err == nil:
		case apierrors.IsNotFound(err):
			c.resourceGone(r)
			return 0, nil
		case apierrors.IsMethodNotSupported(err):
			oneByOne = true
		default:
			return 0, fmt.Errorf("deleting all %s in %s: %w", r.GroupVersionResource, namespace, err)
		}
	}

	list, err := client.List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) {
		c.resourceGone(r)
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("listing %s in %s: %w", r.GroupVersionResource, namespace, err)
	}
	if !oneByOne || len(list.Items) == 0 {
		return len(list.Items), nil
	}

	var errs []error
	for _, item := range list.Items {
		if item.GetDeletionTimestamp() != nil {
			continue // already on its way out
		}
		err := client.Delete(ctx, item.GetName(), opts)
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting %s %s/%s: %w", r.GroupVersionResource, namespace, item.GetName(), err))
		}
	}
	// Graceful deletion leaves objects in place for a while: count what is left.
	list, err = client.List(ctx, metav1.ListOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("listing %s in %s: %w", r.GroupVersionResource, namespace, err))
	}
	n := 0
	if list != nil {
		n = len(list.Items)
	}
	return n, utilerrors.NewAggregate(errs)
}

// resourceGone forgets cached discovery when a resource it named no longer
// exists, so the next pass does not ask for it again.
func (c *Controller) resourceGone(r Resource) {
	c.log.Info("resource no longer served, skipping", "resource", r.GroupVersionResource.String())
	if cached, ok := c.discovery.(discovery.CachedDiscoveryInterface); ok {
		cached.Invalidate()
	}
}

// finalize removes the kubernetes finalizer from the namespace through the
// finalize subresource and, once no finalizer is left, deletes it for good.
func (c *Controller) finalize(ctx context.Context, name string) error {
	var finalized *corev1.Namespace
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		// The cache may lag behind; Finalize needs the current resourceVersion.
		ns, err := c.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		finalizers, found := RemoveFinalizer(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
		if !found {
			finalized = ns
			return nil
		}
		ns = ns.DeepCopy()
		ns.Spec.Finalizers = finalizers
		finalized, err = c.client.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("finalizing namespace %s: %w", name, err)
	}
	c.log.Info("namespace content deleted, finalized", "namespace", name)
	if finalized != nil && len(finalized.Spec.Finalizers) > 0 {
		return nil // other finalizers belong to other controllers
	}
	return c.deleteNamespace(ctx, name)
}

// deleteNamespace deletes a finalized namespace; the server removes it now
// that no finalizer holds it.
func (c *Controller) deleteNamespace(ctx context.Context, name string) error {
	err := c.client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting finalized namespace %s: %w", name, err)
	}
	return nil
}
