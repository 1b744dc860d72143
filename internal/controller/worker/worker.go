// Package worker runs the work queue of a controller: it waits for the
// informer caches, then has workers take keys from the queue and sync them,
// retrying a failed key with the queue's rate limit.
package worker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Queue is a controller's work queue of keys ("namespace/name" or names).
type Queue = workqueue.TypedRateLimitingInterface[string]

// NewQueue returns a queue named name with the default controller rate limit.
func NewQueue(name string) Queue {
	return workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: name},
	)
}

// Run waits for synced, then runs workers goroutines passing the keys of queue
// to sync until ctx is done, and shuts queue down. A key whose sync fails is
// added back rate-limited; one that succeeds is forgotten. name is the
// controller's name, in the log records and the error.
func Run(ctx context.Context, name string, queue Queue, workers int, synced []cache.InformerSynced, sync func(ctx context.Context, key string) error) error {
	defer utilruntime.HandleCrash()
	defer queue.ShutDown()

	log := slog.Default().With("controller", name)
	log.Info("starting")
	if !cache.WaitForNamedCacheSync(name, ctx.Done(), synced...) {
		return fmt.Errorf("%s: caches did not sync", name)
	}
	for range workers {
		go wait.UntilWithContext(ctx, func(ctx context.Context) {
			for processNextItem(ctx, log, queue, sync) {
			}
		}, time.Second)
	}
	<-ctx.Done()
	log.Info("stopping")
	return nil
}

// processNextItem syncs the next key of queue; false means queue is shut down.
func processNextItem(ctx context.Context, log *slog.Logger, queue Queue, sync func(context.Context, string) error) bool {
	key, shutdown := queue.Get()
	if shutdown {
		return false
	}
	defer queue.Done(key)
	if err := sync(ctx, key); err != nil {
		log.Error("sync failed, retrying", "key", key, "error", err)
		queue.AddRateLimited(key)
		return true
	}
	queue.Forget(key)
	return true
}

// Lookup reads the object key ("namespace/name") names through get, a
// lister's Get in that namespace. A malformed key or a missing object is
// nil, nil: there is nothing to sync.
func Lookup[T any](key string, get func(namespace, name string) (*T, error)) (*T, error) {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil, nil
	}
	obj, err := get(namespace, name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return obj, nil
}
