// Package imagetrigger is the image trigger controller: when an image
// stream tag moves, it starts a build of every BuildConfig whose
// ImageChange trigger follows the tag (openshift-semantics.md 1.3) and
// writes the new image into every DeploymentConfig whose automatic
// ImageChange trigger follows it (3.2). Triggers are indexed by the tag
// they follow, so a stream change wakes only the objects that follow one
// of its tags.
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
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/slipway-dev/slipway/internal/buildgenerator"
	"github.com/slipway-dev/slipway/internal/controller/worker"
)

// ControllerName names the work queue and the log records.
const ControllerName = "imagetrigger-controller"

// tagIndex indexes BuildConfigs and DeploymentConfigs by the image stream
// tags their ImageChange triggers follow ("namespace/stream:tag").
const tagIndex = "imagetrigger.slipway.dev/imagestreamtag"

// Queue key prefixes: one queue holds both kinds of object.
const (
	buildConfigKey      = "bc/"
	deploymentConfigKey = "dc/"
)

// Informers are the shared informers the controller watches. New adds an
// index to the BuildConfig and DeploymentConfig informers, so the caller
// starts them after New.
type Informers struct {
	ImageStreams      imageinformers.ImageStreamInformer
	BuildConfigs      buildinformers.BuildConfigInformer
	DeploymentConfigs appsinformers.DeploymentConfigInformer
}

// Controller fires ImageChange triggers. Its queue holds "bc/namespace/name"
// and "dc/namespace/name" keys.
type Controller struct {
	builds  buildclient.Interface
	apps    appsclient.Interface
	streams imagelisters.ImageStreamLister
	configs buildlisters.BuildConfigLister
	dcs     appslisters.DeploymentConfigLister
	bcIndex cache.Indexer
	dcIndex cache.Indexer
	synced  []cache.InformerSynced
	queue   worker.Queue
	log     *slog.Logger
}

// New returns an image trigger controller that instantiates builds through
// builds and updates DeploymentConfigs through apps.
func New(builds buildclient.Interface, apps appsclient.Interface, informers Informers) (*Controller, error) {
	c := &Controller{
		builds:  builds,
		apps:    apps,
		streams: informers.ImageStreams.Lister(),
		configs: informers.BuildConfigs.Lister(),
		dcs:     informers.DeploymentConfigs.Lister(),
		bcIndex: informers.BuildConfigs.Informer().GetIndexer(),
		dcIndex: informers.DeploymentConfigs.Informer().GetIndexer(),
		synced: []cache.InformerSynced{
			informers.ImageStreams.Informer().HasSynced,
			informers.BuildConfigs.Informer().HasSynced,
			informers.DeploymentConfigs.Informer().HasSynced,
		},
		queue: worker.NewQueue(ControllerName),
		log:   slog.Default().With("controller", ControllerName),
	}
	err := informers.BuildConfigs.Informer().AddIndexers(cache.Indexers{tagIndex: func(obj any) ([]string, error) {
		if bc, ok := obj.(*buildv1.BuildConfig); ok {
			return buildConfigTags(bc), nil
		}
		return nil, nil
	}})
	if err != nil {
		return nil, fmt.Errorf("indexing BuildConfigs by trigger tag: %w", err)
	}
	err = informers.DeploymentConfigs.Informer().AddIndexers(cache.Indexers{tagIndex: func(obj any) ([]string, error) {
		if dc, ok := obj.(*appsv1.DeploymentConfig); ok {
			return deploymentConfigTags(dc), nil
		}
		return nil, nil
	}})
	if err != nil {
		return nil, fmt.Errorf("indexing DeploymentConfigs by trigger tag: %w", err)
	}

	enqueue := func(prefix string) func(obj any) {
		return func(obj any) {
			if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
				c.queue.Add(prefix + key)
			}
		}
	}
	_, _ = informers.BuildConfigs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue(buildConfigKey),
		UpdateFunc: func(_, obj any) { enqueue(buildConfigKey)(obj) },
	})
	_, _ = informers.DeploymentConfigs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue(deploymentConfigKey),
		UpdateFunc: func(_, obj any) { enqueue(deploymentConfigKey)(obj) },
	})
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

// Run waits for the caches, then runs workers until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return worker.Run(ctx, ControllerName, c.queue, workers, c.synced, c.sync)
}

// enqueueFollowers queues the BuildConfigs and DeploymentConfigs following
// any of tags of stream namespace/name.
func (c *Controller) enqueueFollowers(namespace, name string, tags []string) {
	for _, tag := range tags {
		key := tagKey(namespace, name, tag)
		for _, idx := range []struct {
			indexer cache.Indexer
			prefix  string
		}{{c.bcIndex, buildConfigKey}, {c.dcIndex, deploymentConfigKey}} {
			objs, err := idx.indexer.ByIndex(tagIndex, key)
			if err != nil {
				continue
			}
			for _, obj := range objs {
				if k, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
					c.queue.Add(idx.prefix + k)
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
	switch {
	case strings.HasPrefix(key, buildConfigKey):
		return c.syncBuildConfig(ctx, strings.TrimPrefix(key, buildConfigKey))
	case strings.HasPrefix(key, deploymentConfigKey):
		return c.syncDeploymentConfig(ctx, strings.TrimPrefix(key, deploymentConfigKey))
	}
	return nil
}
