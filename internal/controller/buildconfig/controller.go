// Package buildconfig is the BuildConfig controller: it starts the first
// build of a BuildConfig with a ConfigChange trigger and prunes the build
// history beyond the config's limits on every sync
// (openshift-semantics.md 1.3, 1.4).
package buildconfig

import (
	"context"
	"fmt"
	"log/slog"
	"sort"

	buildv1 "github.com/openshift/api/build/v1"
	buildclient "github.com/openshift/client-go/build/clientset/versioned"
	buildinformers "github.com/openshift/client-go/build/informers/externalversions/build/v1"
	buildlisters "github.com/openshift/client-go/build/listers/build/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/slipway-dev/slipway/internal/buildgenerator"
	buildcontroller "github.com/slipway-dev/slipway/internal/controller/build"
	"github.com/slipway-dev/slipway/internal/controller/worker"
)

// ControllerName names the work queue and the log records.
const ControllerName = "buildconfig-controller"

// Controller handles ConfigChange triggers and history pruning. Its queue
// holds "namespace/name" keys of BuildConfigs.
type Controller struct {
	builds   buildclient.Interface
	configs  buildlisters.BuildConfigLister
	buildsLs buildlisters.BuildLister
	synced   []cache.InformerSynced
	queue    worker.Queue
	log      *slog.Logger
}

// New returns a BuildConfig controller writing through builds.
func New(builds buildclient.Interface, configs buildinformers.BuildConfigInformer, buildInformer buildinformers.BuildInformer) *Controller {
	c := &Controller{
		builds:   builds,
		configs:  configs.Lister(),
		buildsLs: buildInformer.Lister(),
		synced:   []cache.InformerSynced{configs.Informer().HasSynced, buildInformer.Informer().HasSynced},
		queue:    worker.NewQueue(ControllerName),
		log:      slog.Default().With("controller", ControllerName),
	}
	enqueueConfig := func(obj any) {
		if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(key)
		}
	}
	_, _ = configs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueueConfig,
		UpdateFunc: func(_, obj any) { enqueueConfig(obj) },
	})
	// A build reaching a terminal phase may push an older one past the
	// history limit.
	_, _ = buildInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) {
			if b, ok := obj.(*buildv1.Build); ok && buildcontroller.ConfigName(b) != "" {
				c.queue.Add(b.Namespace + "/" + buildcontroller.ConfigName(b))
			}
		},
	})
	return c
}

// Run waits for the caches, then runs workers until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return worker.Run(ctx, ControllerName, c.queue, workers, c.synced, c.sync)
}

// sync prunes the history of the BuildConfig named by key and starts its
// first build when it has a ConfigChange trigger.
func (c *Controller) sync(ctx context.Context, key string) error {
	bc, err := worker.Lookup(key, func(namespace, name string) (*buildv1.BuildConfig, error) {
		return c.configs.BuildConfigs(namespace).Get(name)
	})
	if bc == nil {
		return err
	}
	namespace, name := bc.Namespace, bc.Name
	if err := c.prune(ctx, bc); err != nil {
		return err
	}
	if !HasConfigChangeTrigger(bc) || bc.Status.LastVersion != 0 || buildgenerator.IsPaused(bc) {
		return nil
	}
	// The lastVersion guard makes this idempotent: a second attempt (a
	// retry, a second replica) fails with 400 instead of building twice.
	zero := int64(0)
	req := &buildv1.BuildRequest{
		ObjectMeta:  metav1.ObjectMeta{Name: bc.Name},
		LastVersion: &zero,
		TriggeredBy: []buildv1.BuildTriggerCause{{Message: buildgenerator.CauseConfigChange}},
	}
	_, err = c.builds.BuildV1().BuildConfigs(namespace).Instantiate(ctx, name, req, metav1.CreateOptions{})
	if err == nil {
		return nil
	}
	live, getErr := c.builds.BuildV1().BuildConfigs(namespace).Get(ctx, name, metav1.GetOptions{})
	if getErr == nil && live.Status.LastVersion != 0 {
		return nil // someone else started the first build
	}
	return fmt.Errorf("instantiating BuildConfig %s/%s for its config change trigger: %w", namespace, name, err)
}

// HasConfigChangeTrigger reports whether bc has a ConfigChange trigger.
func HasConfigChangeTrigger(bc *buildv1.BuildConfig) bool {
	for _, t := range bc.Spec.Triggers {
		if t.Type == buildv1.ConfigChangeBuildTriggerType {
			return true
		}
	}
	return false
}

// prune deletes the builds of bc beyond its history limits.
func (c *Controller) prune(ctx context.Context, bc *buildv1.BuildConfig) error {
	all, err := c.buildsLs.Builds(bc.Namespace).List(labels.Everything())
	if err != nil {
		return err
	}
	var builds []*buildv1.Build
	for _, b := range all {
		if buildcontroller.ConfigName(b) == bc.Name {
			builds = append(builds, b)
		}
	}
	for _, b := range BuildsToPrune(bc, builds) {
		err := c.builds.BuildV1().Builds(b.Namespace).Delete(ctx, b.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("pruning build %s/%s: %w", b.Namespace, b.Name, err)
		}
	}
	return nil
}

// BuildsToPrune returns the builds of bc to delete: the Complete ones
// beyond the newest successfulBuildsHistoryLimit, and the Failed, Error and
// Cancelled ones beyond the newest failedBuildsHistoryLimit. An unset limit
// keeps everything.
func BuildsToPrune(bc *buildv1.BuildConfig, builds []*buildv1.Build) []*buildv1.Build {
	var succeeded, failed []*buildv1.Build
	for _, b := range builds {
		switch b.Status.Phase {
		case buildv1.BuildPhaseComplete:
			succeeded = append(succeeded, b)
		case buildv1.BuildPhaseFailed, buildv1.BuildPhaseError, buildv1.BuildPhaseCancelled:
			failed = append(failed, b)
		}
	}
	var out []*buildv1.Build
	out = append(out, beyond(succeeded, bc.Spec.SuccessfulBuildsHistoryLimit)...)
	out = append(out, beyond(failed, bc.Spec.FailedBuildsHistoryLimit)...)
	return out
}

// beyond returns the builds older than the newest limit ones.
func beyond(builds []*buildv1.Build, limit *int32) []*buildv1.Build {
	if limit == nil || len(builds) <= int(*limit) {
		return nil
	}
	sort.Slice(builds, func(i, j int) bool {
		ni, nj := buildcontroller.Number(builds[i]), buildcontroller.Number(builds[j])
		if ni != nj {
			return ni > nj
		}
		return builds[i].CreationTimestamp.After(builds[j].CreationTimestamp.Time)
	})
	return builds[*limit:]
}
