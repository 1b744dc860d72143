// Package imagetrigger is the image trigger controller: when an image
// stream tag moves, it starts a build of every BuildConfig whose
// ImageChange trigger follows the tag (openshift-semantics.md 1.3), writes
// the new image into every DeploymentConfig whose automatic ImageChange
// trigger follows it (3.2), and into the containers of every Deployment,
// StatefulSet, DaemonSet and CronJob whose image.openshift.io/triggers
// annotation follows it (2.6), whose own Kubernetes controller rolls it
// out. Triggers are indexed by the tag they follow, so a stream change
// wakes only the objects that follow one of its tags.
package imagetrigger

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	appsclient "github.com/openshift/client-go/apps/clientset/versioned"
	appsinformers "github.com/openshift/client-go/apps/informers/externalversions/apps/v1"
	appslisters "github.com/openshift/client-go/apps/listers/apps/v1"
	buildclient "github.com/openshift/client-go/build/clientset/versioned"
	buildinformers "github.com/openshift/client-go/build/informers/externalversions/build/v1"
	buildlisters "github.com/openshift/client-go/build/listers/build/v1"
	imageinformers "github.com/openshift/client-go/image/informers/externalversions/image/v1"
	imagelisters "github.com/openshift/client-go/image/listers/image/v1"
	kappsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	kappsinformers "k8s.io/client-go/informers/apps/v1"
	batchinformers "k8s.io/client-go/informers/batch/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/slipway-dev/slipway/internal/buildgenerator"
	"github.com/slipway-dev/slipway/internal/controller/worker"
)

// ControllerName names the work queue and the log records.
const ControllerName = "imagetrigger-controller"

// tagIndex indexes the objects with image triggers by the image stream
// tags those follow ("namespace/stream:tag").
const tagIndex = "imagetrigger.slipway.dev/imagestreamtag"

// Queue key prefixes: one queue holds every kind of object, as
// "<prefix>namespace/name".
const (
	buildConfigKey      = "bc/"
	deploymentConfigKey = "dc/"
)

// Informers are the shared informers the controller watches. New adds an
// index to every informer but ImageStreams, so the caller starts them
// after New.
type Informers struct {
	ImageStreams      imageinformers.ImageStreamInformer
	BuildConfigs      buildinformers.BuildConfigInformer
	DeploymentConfigs appsinformers.DeploymentConfigInformer
	// The Kubernetes workloads that follow tags through the
	// image.openshift.io/triggers annotation (workloads.go).
	Deployments  kappsinformers.DeploymentInformer
	StatefulSets kappsinformers.StatefulSetInformer
	DaemonSets   kappsinformers.DaemonSetInformer
	CronJobs     batchinformers.CronJobInformer
}

// follower is one kind of object that follows image stream tags: its
// queue key prefix, its informer's indexer (with tagIndex) and its sync.
type follower struct {
	prefix  string
	indexer cache.Indexer
	sync    func(ctx context.Context, key string) error
}

// Controller fires image triggers. Its queue holds keys prefixed by the
// kind of the object (see follower).
type Controller struct {
	builds    buildclient.Interface
	apps      appsclient.Interface
	streams   imagelisters.ImageStreamLister
	configs   buildlisters.BuildConfigLister
	dcs       appslisters.DeploymentConfigLister
	followers []follower
	synced    []cache.InformerSynced
	queue     worker.Queue
	log       *slog.Logger
}

// New returns an image trigger controller that instantiates builds through
// builds, updates DeploymentConfigs through apps and the annotated
// Kubernetes workloads through kube.
func New(builds buildclient.Interface, apps appsclient.Interface, kube kubernetes.Interface, informers Informers) (*Controller, error) {
	c := &Controller{
		builds:  builds,
		apps:    apps,
		streams: informers.ImageStreams.Lister(),
		configs: informers.BuildConfigs.Lister(),
		dcs:     informers.DeploymentConfigs.Lister(),
		synced:  []cache.InformerSynced{informers.ImageStreams.Informer().HasSynced},
		queue:   worker.NewQueue(ControllerName),
		log:     slog.Default().With("controller", ControllerName),
	}
	err := c.follow(buildConfigKey, informers.BuildConfigs.Informer(), c.syncBuildConfig, func(obj any) []string {
		if bc, ok := obj.(*buildv1.BuildConfig); ok {
			return buildConfigTags(bc)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = c.follow(deploymentConfigKey, informers.DeploymentConfigs.Informer(), c.syncDeploymentConfig, func(obj any) []string {
		if dc, ok := obj.(*appsv1.DeploymentConfig); ok {
			return deploymentConfigTags(dc)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, err := range []error{
		followWorkloads(c, "deployments", informers.Deployments.Informer(), func(ns string) updater[*kappsv1.Deployment] { return kube.AppsV1().Deployments(ns) }),
		followWorkloads(c, "statefulsets", informers.StatefulSets.Informer(), func(ns string) updater[*kappsv1.StatefulSet] { return kube.AppsV1().StatefulSets(ns) }),
		followWorkloads(c, "daemonsets", informers.DaemonSets.Informer(), func(ns string) updater[*kappsv1.DaemonSet] { return kube.AppsV1().DaemonSets(ns) }),
		followWorkloads(c, "cronjobs", informers.CronJobs.Informer(), func(ns string) updater[*batchv1.CronJob] { return kube.BatchV1().CronJobs(ns) }),
	} {
		if err != nil {
			return nil, err
		}
	}

	_, _ = informers.ImageStreams.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if s, ok := obj.(*imagev1.ImageStream); ok {
				c.enqueueFollowers(s.Namespace, s.Name, changedTags(nil, s))
			}
		},
		UpdateFunc: func(old, obj any) {
			s, ok := obj.(*imagev1.ImageStream)
			o, ok2 := old.(*imagev1.ImageStream)
			if !ok || !ok2 {
				return
			}
			if o.ResourceVersion == s.ResourceVersion {
				o = nil // a resync: look at every tag again
			}
			c.enqueueFollowers(s.Namespace, s.Name, changedTags(o, s))
		},
	})
	return c, nil
}

// follow adds the objects of informer to those the controller keeps in
// step: tags lists the index keys of the tags an object follows, sync
// handles a key (without prefix). Every added or updated object is queued.
func (c *Controller) follow(prefix string, informer cache.SharedIndexInformer, sync func(context.Context, string) error, tags func(obj any) []string) error {
	return c.followWhen(prefix, informer, sync, tags, func(_, _ any) bool { return true })
}

// followWhen is follow that queues an updated object only when
// queueUpdate(old, obj) says so (an added one always).
func (c *Controller) followWhen(prefix string, informer cache.SharedIndexInformer, sync func(context.Context, string) error, tags func(obj any) []string, queueUpdate func(old, obj any) bool) error {
	err := informer.AddIndexers(cache.Indexers{tagIndex: func(obj any) ([]string, error) { return tags(obj), nil }})
	if err != nil {
		return fmt.Errorf("indexing %s by trigger tag: %w", strings.TrimSuffix(prefix, "/"), err)
	}
	enqueue := func(obj any) {
		if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(prefix + key)
		}
	}
	_, err = informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue,
		UpdateFunc: func(old, obj any) {
			if queueUpdate(old, obj) {
				enqueue(obj)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("watching %s: %w", strings.TrimSuffix(prefix, "/"), err)
	}
	c.followers = append(c.followers, follower{prefix: prefix, indexer: informer.GetIndexer(), sync: sync})
	c.synced = append(c.synced, informer.HasSynced)
	return nil
}

// Run waits for the caches, then runs workers until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return worker.Run(ctx, ControllerName, c.queue, workers, c.synced, c.sync)
}

// enqueueFollowers queues the objects following any of tags of stream
// namespace/name.
func (c *Controller) enqueueFollowers(namespace, name string, tags []string) {
	for _, tag := range tags {
		key := tagKey(namespace, name, tag)
		for _, f := range c.followers {
			objs, err := f.indexer.ByIndex(tagIndex, key)
			if err != nil {
				continue
			}
			for _, obj := range objs {
				if k, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
					c.queue.Add(f.prefix + k)
				}
			}
		}
	}
}

// changedTags returns the tags of stream whose resolved image differs from
// old's (every tag when old is nil).
func changedTags(old, stream *imagev1.ImageStream) []string {
	names := map[string]bool{}
	for _, t := range stream.Spec.Tags {
		names[t.Name] = true
	}
	for _, t := range stream.Status.Tags {
		names[t.Tag] = true
	}
	var out []string
	for tag := range names {
		if old == nil || buildgenerator.LatestTaggedImage(old, tag) != buildgenerator.LatestTaggedImage(stream, tag) {
			out = append(out, tag)
		}
	}
	return out
}

// tagKey is the index key of image stream tag namespace/stream:tag.
func tagKey(namespace, stream, tag string) string {
	return namespace + "/" + stream + ":" + tag
}

// followedTag returns the index key of the image stream tag ref names,
// with ref's namespace defaulting to namespace and its tag to latest, or ""
// for a reference that is no image stream tag.
func followedTag(namespace string, ref *corev1.ObjectReference) string {
	if ref == nil || (ref.Kind != "ImageStreamTag" && ref.Kind != "") {
		return ""
	}
	stream, tag, err := buildgenerator.SplitImageStreamTag(ref.Name)
	if err != nil {
		return ""
	}
	if ref.Namespace != "" {
		namespace = ref.Namespace
	}
	return tagKey(namespace, stream, tag)
}

// buildConfigTags lists the tags bc's ImageChange triggers follow.
func buildConfigTags(bc *buildv1.BuildConfig) []string {
	var keys []string
	for i := range bc.Spec.Triggers {
		if key := followedTag(bc.Namespace, buildgenerator.ImageChangeTriggerFrom(bc, &bc.Spec.Triggers[i])); key != "" {
			keys = append(keys, key)
		}
	}
	return keys
}

// deploymentConfigTags lists the tags dc's ImageChange triggers follow.
func deploymentConfigTags(dc *appsv1.DeploymentConfig) []string {
	var keys []string
	for _, t := range dc.Spec.Triggers {
		if t.Type != appsv1.DeploymentTriggerOnImageChange || t.ImageChangeParams == nil {
			continue
		}
		if key := followedTag(dc.Namespace, &t.ImageChangeParams.From); key != "" {
			keys = append(keys, key)
		}
	}
	return keys
}

// resolveTag returns the pull spec the tag named by index key resolves to
// now (the newest event, honouring the tag's referencePolicy), or "".
func (c *Controller) resolveTag(key string) string {
	namespace, rest, _ := strings.Cut(key, "/")
	stream, tag, _ := strings.Cut(rest, ":")
	s, err := c.streams.ImageStreams(namespace).Get(stream)
	if err != nil {
		return ""
	}
	return buildgenerator.LatestTaggedImage(s, tag)
}

// sync handles one queue key.
func (c *Controller) sync(ctx context.Context, key string) error {
	for _, f := range c.followers {
		if rest, ok := strings.CutPrefix(key, f.prefix); ok {
			return f.sync(ctx, rest)
		}
	}
	return nil
}
