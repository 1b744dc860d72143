// Package deploymentconfig is the DeploymentConfig controller
// (openshift-semantics.md 3.2-3.3), OpenShift's deploymentconfig and
// deployer controllers in one: it starts rollouts (status.latestVersion
// and details) on config and image changes, creates each version's
// deployment (RC "<dc>-<n>") and its deployer pod "<rc>-deploy", moves the
// deployment's phase with the deployer pod, cancels superseded and
// cancelled rollouts, scales the active deployment with the config, prunes
// old deployments past revisionHistoryLimit, and reports replicas and the
// Available and Progressing conditions in the DeploymentConfig's status.
package deploymentconfig

import (
	"context"
	"log/slog"
	"time"

	appsv1 "github.com/openshift/api/apps/v1"
	appsclient "github.com/openshift/client-go/apps/clientset/versioned"
	appsinformers "github.com/openshift/client-go/apps/informers/externalversions/apps/v1"
	appslisters "github.com/openshift/client-go/apps/listers/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/slipway-dev/slipway/internal/controller/worker"
	"github.com/slipway-dev/slipway/internal/deployutil"
	"github.com/slipway-dev/slipway/internal/hostprocess"
)

// ControllerName names the work queues, the event source and the log records.
const ControllerName = "deploymentconfig-controller"

// eventScheme resolves the kinds of the objects events are about:
// DeploymentConfigs and ReplicationControllers.
var eventScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(appsv1.Install(s))
	utilruntime.Must(corev1.AddToScheme(s))
	return s
}()

// Informers are the shared informers the controller watches. The caller
// starts them after New.
type Informers struct {
	DeploymentConfigs      appsinformers.DeploymentConfigInformer
	ReplicationControllers coreinformers.ReplicationControllerInformer
	Pods                   coreinformers.PodInformer
}

// Controller runs DeploymentConfigs. It has two queues of
// "namespace/name" keys: DeploymentConfigs (rollouts, scaling, status)
// and their deployments (deployer pod and phase).
type Controller struct {
	apps appsclient.Interface
	kube kubernetes.Interface

	dcLister  appslisters.DeploymentConfigLister
	rcLister  corelisters.ReplicationControllerLister
	podLister corelisters.PodLister
	synced    []cache.InformerSynced

	recorder    *worker.Events
	configs     worker.Queue
	deployments worker.Queue
	log         *slog.Logger
	now         func() time.Time
	// signer signs deployer pods that run as host processes.
	signer *hostprocess.Signer
}

// Option configures a Controller.
type Option func(*Controller)

// WithHostProcessSigner signs every deployer pod that runs as a host
// process with s, as the node requires.
func WithHostProcessSigner(s *hostprocess.Signer) Option {
	return func(c *Controller) { c.signer = s }
}

// New returns a DeploymentConfig controller writing through apps and kube
// and watching through informers.
func New(apps appsclient.Interface, kube kubernetes.Interface, informers Informers, opts ...Option) *Controller {
	c := &Controller{
		apps:      apps,
		kube:      kube,
		dcLister:  informers.DeploymentConfigs.Lister(),
		rcLister:  informers.ReplicationControllers.Lister(),
		podLister: informers.Pods.Lister(),
		synced: []cache.InformerSynced{
			informers.DeploymentConfigs.Informer().HasSynced,
			informers.ReplicationControllers.Informer().HasSynced,
			informers.Pods.Informer().HasSynced,
		},
		recorder:    worker.NewEvents(eventScheme, ControllerName),
		configs:     worker.NewQueue(ControllerName),
		deployments: worker.NewQueue(ControllerName + "-deployments"),
		log:         slog.Default().With("controller", ControllerName),
		now:         time.Now,
	}
	for _, o := range opts {
		o(c)
	}
	// AddEventHandler only fails on a stopped informer; the caller starts them after New.
	_, _ = informers.DeploymentConfigs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueConfig,
		UpdateFunc: func(_, obj any) { c.enqueueConfig(obj) },
		DeleteFunc: c.enqueueConfig,
	})
	_, _ = informers.ReplicationControllers.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueDeployment,
		UpdateFunc: func(_, obj any) { c.enqueueDeployment(obj) },
		DeleteFunc: c.enqueueDeployment,
	})
	_, _ = informers.Pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueDeployerPod,
		UpdateFunc: func(_, obj any) { c.enqueueDeployerPod(obj) },
		DeleteFunc: c.enqueueDeployerPod,
	})
	return c
}

// Run waits for the caches, then runs workers on each queue until ctx is
// done.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer c.recorder.Start(c.kube.CoreV1().Events(""))()
	errc := make(chan error, 1)
	go func() {
		errc <- worker.Run(ctx, ControllerName+"-deployments", c.deployments, workers, c.synced, c.syncDeployment)
	}()
	err := worker.Run(ctx, ControllerName, c.configs, workers, c.synced, c.syncConfig)
	if derr := <-errc; err == nil {
		err = derr
	}
	return err
}

func unwrap(obj any) any {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return tombstone.Obj
	}
	return obj
}

func (c *Controller) enqueueConfig(obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.configs.Add(key)
	}
}

// enqueueDeployment queues a deployment and its DeploymentConfig, whose
// status and next step follow the deployment's.
func (c *Controller) enqueueDeployment(obj any) {
	rc, ok := unwrap(obj).(*corev1.ReplicationController)
	if !ok {
		return
	}
	dc := deployutil.ConfigNameFor(rc)
	if dc == "" {
		return
	}
	c.deployments.Add(rc.Namespace + "/" + rc.Name)
	c.configs.Add(rc.Namespace + "/" + dc)
}

// enqueueDeployerPod queues the deployment a deployer or hook pod acts on.
func (c *Controller) enqueueDeployerPod(obj any) {
	pod, ok := unwrap(obj).(*corev1.Pod)
	if !ok {
		return
	}
	if name := pod.Labels[appsv1.DeployerPodForDeploymentLabel]; name != "" {
		c.deployments.Add(pod.Namespace + "/" + name)
	}
}
