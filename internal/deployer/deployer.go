// Package deployer is `slipway deployer`, the process a deployer pod
// "<rc>-deploy" runs: it reads the deployment (ReplicationController
// "<dc>-<n>") and the DeploymentConfig encoded in it, and rolls it out with
// the config's strategy (Recreate or Rolling, with their lifecycle hooks),
// scaling the deployment up and the older ones down through the API
// (openshift-semantics.md 3.3). The deployment's phase is not its to write:
// the deploymentconfig controller follows the pod's phase, so the deployer
// only has to exit 0 on success and non-zero on failure.
package deployer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	appsv1 "github.com/openshift/api/apps/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/client-go/util/retry"

	"github.com/slipway-dev/slipway/internal/deployutil"
	"github.com/slipway-dev/slipway/internal/registry/apps/deploymentconfig"
)

// Fallbacks for strategy parameters that SetDefaults leaves at zero.
const (
	defaultTimeout      = 600 * time.Second
	defaultUpdatePeriod = time.Second
)

// Deployer rolls out one deployment.
type Deployer struct {
	// Kube reads and scales ReplicationControllers and runs hook pods.
	Kube kubernetes.Interface
	// Images writes the ImageStreamTags of tagImages hooks; nil refuses
	// such hooks.
	Images imageclient.Interface
	// Namespace and Name name the deployment (the RC "<dc>-<n>").
	Namespace, Name string
	// Out is the deployer's log.
	Out io.Writer
}

// ErrCancelled is the error of a deployment cancelled while it ran
// (annotation openshift.io/deployment.cancelled).
var ErrCancelled = errors.New("deployment cancelled")

// deployment is what a run works on: the RC to roll out, the config it
// rolls out, and the config's older deployments.
type deployment struct {
	to      *corev1.ReplicationController
	config  *appsv1.DeploymentConfig
	desired int32
	// from is the newest Complete older deployment (nil on the first
	// rollout); others are the remaining older ones.
	from   *corev1.ReplicationController
	others []*corev1.ReplicationController
}

// Run rolls the deployment out. It returns ErrCancelled (wrapped) when the
// deployment is cancelled while it runs, and the strategy's failure
// otherwise; the log then ends with the error.
func (d *Deployer) Run(ctx context.Context) error {
	if d.Out == nil {
		d.Out = io.Discard
	}
	err := d.run(ctx)
	if err != nil {
		fmt.Fprintf(d.Out, "error: %v\n", err)
		return err
	}
	fmt.Fprintln(d.Out, "--> Success")
	return nil
}

func (d *Deployer) run(ctx context.Context) error {
	dep, err := d.load(ctx)
	if err != nil {
		return err
	}
	if deployutil.IsCancelled(dep.to) {
		return d.cancelledError(dep.to)
	}
	ctx, stop := d.stopOnCancel(ctx)
	defer stop()

	// Older deployments other than the one rolled from stop serving now,
	// as OpenShift's deployer does before the strategy runs.
	for _, rc := range dep.others {
		if replicas(rc) == 0 {
			continue
		}
		if err := d.scale(ctx, rc.Name, 0); err != nil {
			return d.orCancelled(ctx, fmt.Errorf("scaling down prior deployment %s: %w", rc.Name, err))
		}
		fmt.Fprintf(d.Out, "--> Scaled older deployment %s down\n", rc.Name)
	}

	strategy := dep.config.Spec.Strategy
	switch strategy.Type {
	case appsv1.DeploymentStrategyTypeRecreate, "":
		err = d.recreate(ctx, dep, strategy.RecreateParams)
	case appsv1.DeploymentStrategyTypeRolling:
		err = d.rolling(ctx, dep, strategy.RollingParams)
	default:
		err = fmt.Errorf("strategy %s is not supported", strategy.Type)
	}
	return d.orCancelled(ctx, err)
}

// load reads the deployment, its config and the config's other
// deployments.
func (d *Deployer) load(ctx context.Context) (*deployment, error) {
	to, err := d.Kube.CoreV1().ReplicationControllers(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	config, err := deployutil.DecodeConfig(to)
	if err != nil {
		return nil, err
	}
	// The API server defaulted the config when it was stored; an encoding
	// by another writer gets the same defaults here (maxSurge 25%, ...).
	deploymentconfig.SetDefaults(config)
	dep := &deployment{to: to, config: config, desired: config.Spec.Replicas}
	if v, err := strconv.ParseInt(to.Annotations[appsv1.DesiredReplicasAnnotation], 10, 32); err == nil {
		dep.desired = int32(v)
	}
	list, err := d.Kube.CoreV1().ReplicationControllers(d.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: deployutil.ConfigSelector(config.Name).String(),
	})
	if err != nil {
		return nil, fmt.Errorf("listing the deployments of %s/%s: %w", d.Namespace, config.Name, err)
	}
	version := deployutil.VersionFor(to)
	var older []*corev1.ReplicationController
	for i := range list.Items {
		rc := &list.Items[i]
		if rc.Name != to.Name && deployutil.VersionFor(rc) < version {
			older = append(older, rc)
		}
	}
	deployutil.SortByVersion(older)
	for _, rc := range older {
		if deployutil.IsComplete(rc) {
			dep.from = rc
		}
	}
	for _, rc := range older {
		if rc != dep.from {
			dep.others = append(dep.others, rc)
		}
	}
	return dep, nil
}

// stopOnCancel returns a context that ends, with cause ErrCancelled, once
// the deployment is marked cancelled.
func (d *Deployer) stopOnCancel(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		_, err := d.waitForRC(ctx, d.Name, 0, func(rc *corev1.ReplicationController) (bool, error) {
			return deployutil.IsCancelled(rc), nil
		})
		if err == nil {
			cancel(ErrCancelled)
		}
	}()
	return ctx, func() { cancel(nil) }
}

// orCancelled replaces err with the cancellation when the deployment was
// cancelled meanwhile: the failures of a cancelled run are its effects.
func (d *Deployer) orCancelled(ctx context.Context, err error) error {
	if err == nil || !errors.Is(context.Cause(ctx), ErrCancelled) {
		return err
	}
	rc, getErr := d.Kube.CoreV1().ReplicationControllers(d.Namespace).Get(context.WithoutCancel(ctx), d.Name, metav1.GetOptions{})
	if getErr != nil {
		return fmt.Errorf("deployment %s: %w", d.Name, ErrCancelled)
	}
	return d.cancelledError(rc)
}

func (d *Deployer) cancelledError(rc *corev1.ReplicationController) error {
	if reason := deployutil.StatusReasonFor(rc); reason != "" {
		return fmt.Errorf("deployment %s: %w (%s)", rc.Name, ErrCancelled, reason)
	}
	return fmt.Errorf("deployment %s: %w", rc.Name, ErrCancelled)
}

// scale sets RC name's replicas, recording them in the annotation that
// tells the controllers the deployer set them, and waits up to a minute for
// the RC controller to observe it (status.replicas equal to spec).
func (d *Deployer) scale(ctx context.Context, name string, n int32) error {
	rcs := d.Kube.CoreV1().ReplicationControllers(d.Namespace)
	var generation int64
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		rc, err := rcs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		rc.Spec.Replicas = &n
		if rc.Annotations == nil {
			rc.Annotations = map[string]string{}
		}
		rc.Annotations[deployutil.DeploymentReplicasAnnotation] = strconv.Itoa(int(n))
		updated, err := rcs.Update(ctx, rc, metav1.UpdateOptions{})
		if err == nil {
			generation = updated.Generation
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("scaling %s to %d: %w", name, n, err)
	}
	_, err = d.waitForRC(ctx, name, time.Minute, func(rc *corev1.ReplicationController) (bool, error) {
		return rc.Status.ObservedGeneration >= generation && rc.Status.Replicas == n, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s to have %d pods: %w", name, n, err)
	}
	return nil
}

// waitForAvailable waits up to timeout for n pods of RC name to be
// available (ready for the config's minReadySeconds, as the RC controller
// counts them).
func (d *Deployer) waitForAvailable(ctx context.Context, name string, n int32, timeout time.Duration) error {
	fmt.Fprintf(d.Out, "--> Waiting up to %s for pods in rc %s to become ready\n", timeout, name)
	_, err := d.waitForRC(ctx, name, timeout, func(rc *corev1.ReplicationController) (bool, error) {
		return rc.Status.AvailableReplicas >= n, nil
	})
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, watchtools.ErrWatchClosed) {
		return fmt.Errorf("timed out after %s waiting for %d pods of %s to become ready", timeout, n, name)
	}
	return err
}

// waitForRC watches RC name until cond holds, for at most timeout (0: no
// limit but ctx), and returns the RC that satisfied it.
func (d *Deployer) waitForRC(ctx context.Context, name string, timeout time.Duration, cond func(*corev1.ReplicationController) (bool, error)) (*corev1.ReplicationController, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	lw := cache.NewListWatchFromClient(d.Kube.CoreV1().RESTClient(), "replicationcontrollers", d.Namespace, fields.OneTermEqualSelector("metadata.name", name))
	ev, err := watchtools.UntilWithSync(ctx, lw, &corev1.ReplicationController{}, nil, func(ev watch.Event) (bool, error) {
		if ev.Type == watch.Deleted {
			return false, apierrors.NewNotFound(corev1.Resource("replicationcontrollers"), name)
		}
		rc, ok := ev.Object.(*corev1.ReplicationController)
		if !ok {
			return false, nil
		}
		return cond(rc)
	})
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
			return nil, fmt.Errorf("%w: %w", cause, err)
		}
		return nil, err
	}
	return ev.Object.(*corev1.ReplicationController), nil
}

func replicas(rc *corev1.ReplicationController) int32 {
	if rc.Spec.Replicas == nil {
		return 1
	}
	return *rc.Spec.Replicas
}

func seconds(s *int64, def time.Duration) time.Duration {
	if s == nil || *s <= 0 {
		return def
	}
	return time.Duration(*s) * time.Second
}
