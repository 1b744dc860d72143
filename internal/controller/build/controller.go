// Package build is the build controller (openshift-semantics.md 1.4, 1.5):
// it starts New builds in run-policy order by creating their build pods,
// follows the pods to Running and a terminal phase, cancels builds, and
// records the BuildStarted/Completed/Failed/Cancelled events.
package build

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	buildv1 "github.com/openshift/api/build/v1"
	buildclient "github.com/openshift/client-go/build/clientset/versioned"
	buildscheme "github.com/openshift/client-go/build/clientset/versioned/scheme"
	buildinformers "github.com/openshift/client-go/build/informers/externalversions/build/v1"
	buildlisters "github.com/openshift/client-go/build/listers/build/v1"
	imageinformers "github.com/openshift/client-go/image/informers/externalversions/image/v1"
	imagelisters "github.com/openshift/client-go/image/listers/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/slipway-dev/slipway/internal/controller/worker"
	"github.com/slipway-dev/slipway/internal/hostprocess"
)

// ControllerName names the work queue, the event source and the log records.
const ControllerName = "build-controller"

// Informers are the shared informers the controller watches. The caller
// starts them after New.
type Informers struct {
	Builds          buildinformers.BuildInformer
	Pods            coreinformers.PodInformer
	ServiceAccounts coreinformers.ServiceAccountInformer
	Secrets         coreinformers.SecretInformer
	ImageStreams    imageinformers.ImageStreamInformer
}

// Controller runs Builds as pods. Its queue holds "namespace/name" keys of
// Builds.
type Controller struct {
	builds buildclient.Interface
	kube   kubernetes.Interface

	buildLister  buildlisters.BuildLister
	podLister    corelisters.PodLister
	saLister     corelisters.ServiceAccountLister
	secretLister corelisters.SecretLister
	streamLister imagelisters.ImageStreamLister
	synced       []cache.InformerSynced

	recorder *worker.Events
	queue    worker.Queue
	log      *slog.Logger
	now      func() time.Time
	// podsCreated holds the UIDs of builds this controller made a pod for
	// and that have not ended, with whether the build was moved to Pending:
	// a cache still showing such a build New must not make it a second pod
	// (the first may be gone already), nor write the move again.
	podsCreated sync.Map
	// signer signs the build pods, which run as host processes of the node.
	signer *hostprocess.Signer
}

// Option configures a Controller.
type Option func(*Controller)

// WithHostProcessSigner signs every build pod with s, as the node requires
// of a pod it runs as a host process.
func WithHostProcessSigner(s *hostprocess.Signer) Option {
	return func(c *Controller) { c.signer = s }
}

// New returns a build controller writing through builds and kube and
// watching through informers.
func New(builds buildclient.Interface, kube kubernetes.Interface, informers Informers, opts ...Option) *Controller {
	c := &Controller{
		builds:       builds,
		kube:         kube,
		buildLister:  informers.Builds.Lister(),
		podLister:    informers.Pods.Lister(),
		saLister:     informers.ServiceAccounts.Lister(),
		secretLister: informers.Secrets.Lister(),
		streamLister: informers.ImageStreams.Lister(),
		synced: []cache.InformerSynced{
			informers.Builds.Informer().HasSynced, informers.Pods.Informer().HasSynced,
			informers.ServiceAccounts.Informer().HasSynced, informers.Secrets.Informer().HasSynced,
			informers.ImageStreams.Informer().HasSynced,
		},
		recorder: worker.NewEvents(buildscheme.Scheme, ControllerName),
		queue:    worker.NewQueue(ControllerName),
		log:      slog.Default().With("controller", ControllerName),
		now:      time.Now,
	}
	for _, o := range opts {
		o(c)
	}
	// AddEventHandler only fails on a stopped informer; the caller starts them after New.
	_, _ = informers.Builds.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueueBuild(obj) },
		UpdateFunc: func(_, obj any) { c.enqueueBuild(obj) },
		// A deleted build frees its config's queue for the next Serial build.
		DeleteFunc: func(obj any) {
			if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tombstone.Obj
			}
			if b, ok := obj.(*buildv1.Build); ok {
				c.podsCreated.Delete(b.UID)
			}
			c.enqueueSiblings(obj)
		},
	})
	podHandler := func(obj any) {
		if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tombstone.Obj
		}
		if pod, ok := obj.(*corev1.Pod); ok && pod.Annotations[buildv1.BuildAnnotation] != "" {
			c.queue.Add(pod.Namespace + "/" + pod.Annotations[buildv1.BuildAnnotation])
		}
	}
	_, _ = informers.Pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    podHandler,
		UpdateFunc: func(_, obj any) { podHandler(obj) },
		DeleteFunc: podHandler,
	})
	// New builds waiting for their output stream or service account retry
	// when those appear.
	namespaceHandler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueueNewBuilds(obj) },
		UpdateFunc: func(_, obj any) { c.enqueueNewBuilds(obj) },
	}
	_, _ = informers.ImageStreams.Informer().AddEventHandler(namespaceHandler)
	_, _ = informers.ServiceAccounts.Informer().AddEventHandler(namespaceHandler)
	return c
}

func (c *Controller) enqueueBuild(obj any) {
	b, ok := obj.(*buildv1.Build)
	if !ok {
		return
	}
	c.queue.Add(b.Namespace + "/" + b.Name)
	if isTerminal(b.Status.Phase) {
		c.enqueueSiblings(b)
	}
}

// enqueueSiblings queues the New builds of obj's BuildConfig: one of them
// may be runnable now.
func (c *Controller) enqueueSiblings(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	b, ok := obj.(*buildv1.Build)
	if !ok || ConfigName(b) == "" {
		return
	}
	siblings, err := c.siblings(b)
	if err != nil {
		return
	}
	for _, s := range siblings {
		if s.Status.Phase == buildv1.BuildPhaseNew {
			c.queue.Add(s.Namespace + "/" + s.Name)
		}
	}
}

func (c *Controller) enqueueNewBuilds(obj any) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	builds, err := c.buildLister.Builds(m.GetNamespace()).List(labels.Everything())
	if err != nil {
		return
	}
	for _, b := range builds {
		if b.Status.Phase == buildv1.BuildPhaseNew {
			c.queue.Add(b.Namespace + "/" + b.Name)
		}
	}
}

// siblings lists the builds of b's BuildConfig (b included) from the cache.
func (c *Controller) siblings(b *buildv1.Build) ([]*buildv1.Build, error) {
	name := ConfigName(b)
	all, err := c.buildLister.Builds(b.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var out []*buildv1.Build
	for _, s := range all {
		if ConfigName(s) == name {
			out = append(out, s)
		}
	}
	return out, nil
}

// Run waits for the caches, then runs workers until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer c.recorder.Start(c.kube.CoreV1().Events(""))()
	return worker.Run(ctx, ControllerName, c.queue, workers, c.synced, c.sync)
}

func isTerminal(phase buildv1.BuildPhase) bool {
	switch phase {
	case buildv1.BuildPhaseComplete, buildv1.BuildPhaseFailed, buildv1.BuildPhaseError, buildv1.BuildPhaseCancelled:
		return true
	}
	return false
}

// sync reconciles the build named by key.
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.buildLister.Builds(namespace).Get(name)
	if err != nil {
		// Gone: nothing to do (its pod goes with it through the owner reference).
		return nil
	}
	b := cached.DeepCopy()
	switch {
	case isTerminal(b.Status.Phase):
		return c.complete(ctx, b)
	case b.Status.Cancelled:
		return c.cancel(ctx, b)
	case b.Status.Phase == buildv1.BuildPhaseNew:
		return c.start(ctx, b)
	default:
		return c.follow(ctx, b)
	}
}

// setPhase moves b to phase with reason and message and keeps one
// condition per phase, only the current one True.
func (c *Controller) setPhase(b *buildv1.Build, phase buildv1.BuildPhase, reason buildv1.StatusReason, message string) {
	now := metav1.NewTime(c.now())
	b.Status.Phase, b.Status.Reason, b.Status.Message = phase, reason, message
	SetCondition(&b.Status, phase, string(reason), message, now)
}

// SetCondition records the condition of phase as True (updating its
// reason and message) and every other phase condition as False.
func SetCondition(status *buildv1.BuildStatus, phase buildv1.BuildPhase, reason, message string, now metav1.Time) {
	found := false
	for i := range status.Conditions {
		cond := &status.Conditions[i]
		want := corev1.ConditionFalse
		if cond.Type == buildv1.BuildConditionType(phase) {
			want, found = corev1.ConditionTrue, true
			cond.Reason, cond.Message, cond.LastUpdateTime = reason, message, now
		}
		if cond.Status != want {
			cond.Status, cond.LastTransitionTime, cond.LastUpdateTime = want, now, now
		}
	}
	if !found {
		status.Conditions = append(status.Conditions, buildv1.BuildCondition{
			Type: buildv1.BuildConditionType(phase), Status: corev1.ConditionTrue,
			Reason: reason, Message: message, LastUpdateTime: now, LastTransitionTime: now,
		})
	}
}

func (c *Controller) updateStatus(ctx context.Context, b *buildv1.Build) (*buildv1.Build, error) {
	updated, err := c.builds.BuildV1().Builds(b.Namespace).UpdateStatus(ctx, b, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("updating status of build %s/%s: %w", b.Namespace, b.Name, err)
	}
	return updated, nil
}

// waitNew leaves b New with reason and message, written only if they change.
func (c *Controller) waitNew(ctx context.Context, b *buildv1.Build, reason buildv1.StatusReason, message string) error {
	if b.Status.Reason == reason && b.Status.Message == message {
		return nil
	}
	c.setPhase(b, buildv1.BuildPhaseNew, reason, message)
	_, err := c.updateStatus(ctx, b)
	return err
}
