package deploymentconfig

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"time"

	appsv1 "github.com/openshift/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/registry/rest"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/slipway-dev/slipway/internal/deployutil"
	"github.com/slipway-dev/slipway/internal/podlogs"
	"github.com/slipway-dev/slipway/internal/scheme"
)

func init() {
	// The endpoint decodes ?follow=&version=... into DeploymentLogOptions
	// through the parameter codec, which needs this conversion registered.
	podlogs.RegisterQueryConversion(scheme.Scheme, DeploymentLogOptionsFromQuery)
}

// DeploymentLogOptionsFromQuery fills opts from a deploymentconfigs/log
// query string.
func DeploymentLogOptionsFromQuery(values url.Values, opts *appsv1.DeploymentLogOptions) error {
	q := podlogs.Query{Values: values}
	opts.Container = q.String("container")
	opts.Follow = q.Bool("follow")
	opts.Previous = q.Bool("previous")
	opts.Timestamps = q.Bool("timestamps")
	opts.NoWait = q.Bool("nowait")
	opts.SinceSeconds = q.Int("sinceSeconds")
	opts.TailLines = q.Int("tailLines")
	opts.LimitBytes = q.Int("limitBytes")
	opts.Version = q.Int("version")
	return q.Err()
}

// LogStartWait is how long deploymentconfigs/log waits for a New or
// Pending deployment to start before answering, unless nowait is set.
const LogStartWait = 30 * time.Second

// DeployerContainerName is the deployer pod's container when the pod
// cannot be read (OpenShift's name for it).
const DeployerContainerName = "deployment"

// LogREST serves deploymentconfigs/log: the deployer pod's log while a
// deployment runs or after it failed, the log of one of its application
// pods once it is complete. Logs are read from the node agent's files
// (package podlogs).
type LogREST struct {
	podlogs.PlainText
	dcs       rest.Getter
	core      corev1client.CoreV1Interface
	logs      podlogs.Dir
	ok        bool
	startWait time.Duration
}

var (
	_ rest.GetterWithOptions = &LogREST{}
	_ rest.StorageMetadata   = &LogREST{}
)

// New returns the DeploymentConfig, the subresource's parent kind.
func (r *LogREST) New() runtime.Object { return &appsv1.DeploymentConfig{} }

// NewGetOptions returns an empty DeploymentLogOptions for the query to
// decode into.
func (r *LogREST) NewGetOptions() (runtime.Object, bool, string) {
	return &appsv1.DeploymentLogOptions{}, false, ""
}

// Get returns a stream of the log of DeploymentConfig name's latest
// deployment, or of deployment version=N.
func (r *LogREST) Get(ctx context.Context, name string, options runtime.Object) (runtime.Object, error) {
	opts, ok := options.(*appsv1.DeploymentLogOptions)
	if !ok {
		return nil, fmt.Errorf("invalid options object: %#v", options)
	}
	if errs := validateLogOptions(opts); len(errs) > 0 {
		return nil, apierrors.NewInvalid(appsv1.GroupVersion.WithKind("DeploymentLogOptions").GroupKind(), name, errs)
	}
	obj, err := r.dcs.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	dc := obj.(*appsv1.DeploymentConfig)
	version := dc.Status.LatestVersion
	if opts.Version != nil {
		if *opts.Version > version {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("deploymentconfig %q has no version %d (latest is %d)", name, *opts.Version, version))
		}
		version = *opts.Version
	}
	if version == 0 {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("no deployment exists for deploymentconfig %q", name))
	}
	if !r.ok {
		return nil, apierrors.NewServiceUnavailable("deployment logs are not available: this server has no node data directory")
	}
	rcName := deployutil.DeploymentName(name, version)
	rc, err := r.core.ReplicationControllers(dc.Namespace).Get(ctx, rcName, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if waitingToStart(rc) {
		if opts.NoWait {
			return podlogs.EmptyStream(), nil
		}
		if rc, err = r.waitForStart(ctx, rc); err != nil {
			return nil, err
		}
	}
	logOpts := podlogs.Options{Follow: opts.Follow, TailLines: opts.TailLines, LimitBytes: opts.LimitBytes}
	if deployutil.IsComplete(rc) {
		pod, err := r.applicationPod(ctx, rc)
		if err != nil {
			return nil, err
		}
		return r.podLog(pod.Namespace, pod.Name, containerOr(opts.Container, pod), logOpts), nil
	}
	pod := rc.Annotations[appsv1.DeploymentPodAnnotation]
	if pod == "" {
		pod = deployutil.DeployerPodName(rc.Name)
	}
	container := opts.Container
	if container == "" {
		container = DeployerContainerName
		if p, err := r.core.Pods(rc.Namespace).Get(ctx, pod, metav1.GetOptions{}); err == nil {
			container = containerOr("", p)
		}
	}
	return r.podLog(rc.Namespace, pod, container, logOpts), nil
}

// podLog is the stream of a container's log file, done once its pod ends
// or goes.
func (r *LogREST) podLog(namespace, pod, container string, opts podlogs.Options) *podlogs.Stream {
	done := func(ctx context.Context) (bool, error) {
		p, err := r.core.Pods(namespace).Get(ctx, pod, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed, nil
	}
	notStarted := apierrors.NewBadRequest(fmt.Sprintf("no logs for pod %s: container %s has not written any", pod, container))
	return podlogs.FileStream(r.logs.ContainerLog(namespace, pod, container), opts, done, notStarted)
}

// applicationPod is a pod of deployment rc, a running one if any, the
// oldest first.
func (r *LogREST) applicationPod(ctx context.Context, rc *corev1.ReplicationController) (*corev1.Pod, error) {
	list, err := r.core.Pods(rc.Namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(rc.Spec.Selector).String()})
	if err != nil {
		return nil, fmt.Errorf("listing the pods of deployment %s: %w", rc.Name, err)
	}
	if len(list.Items) == 0 {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("deployment %s has no pods to show the log of", rc.Name))
	}
	pods := list.Items
	slices.SortStableFunc(pods, func(a, b corev1.Pod) int {
		if ra, rb := a.Status.Phase == corev1.PodRunning, b.Status.Phase == corev1.PodRunning; ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	return &pods[0], nil
}

// waitForStart watches rc until it leaves New/Pending, for at most
// startWait.
func (r *LogREST) waitForStart(ctx context.Context, rc *corev1.ReplicationController) (*corev1.ReplicationController, error) {
	ctx, cancel := context.WithTimeout(ctx, r.startWait)
	defer cancel()
	lw := cache.NewListWatchFromClient(r.core.RESTClient(), "replicationcontrollers", rc.Namespace, fields.OneTermEqualSelector("metadata.name", rc.Name))
	ev, err := watchtools.UntilWithSync(ctx, lw, &corev1.ReplicationController{}, nil, func(ev watch.Event) (bool, error) {
		if ev.Type == watch.Deleted {
			return false, apierrors.NewNotFound(corev1.Resource("replicationcontrollers"), rc.Name)
		}
		current, ok := ev.Object.(*corev1.ReplicationController)
		return ok && !waitingToStart(current), nil
	})
	if apierrors.IsNotFound(err) {
		return nil, err
	}
	if err != nil {
		return nil, apierrors.NewTimeoutError(fmt.Sprintf("timed out waiting for deployment %s to start after %s", rc.Name, r.startWait), 1)
	}
	return ev.Object.(*corev1.ReplicationController), nil
}

func waitingToStart(rc *corev1.ReplicationController) bool {
	switch deployutil.PhaseFor(rc) {
	case "", appsv1.DeploymentStatusNew, appsv1.DeploymentStatusPending:
		return true
	}
	return false
}

// containerOr is name, else pod's first container.
func containerOr(name string, pod *corev1.Pod) string {
	if name != "" || len(pod.Spec.Containers) == 0 {
		return name
	}
	return pod.Spec.Containers[0].Name
}

func validateLogOptions(opts *appsv1.DeploymentLogOptions) field.ErrorList {
	errs := podlogs.ValidateLimits(opts.TailLines, opts.LimitBytes)
	if opts.Version != nil && *opts.Version < 1 {
		errs = append(errs, field.Invalid(field.NewPath("version"), *opts.Version, "must be greater than 0"))
	}
	return errs
}
