package deployer

import (
	"context"
	"fmt"
	"time"

	appsv1 "github.com/openshift/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/deployutil"
)

// recreate is the Recreate strategy: pre hook, old deployment scaled to 0,
// mid hook, new deployment scaled to the desired replicas and waited for,
// post hook.
func (d *Deployer) recreate(ctx context.Context, dep *deployment, params *appsv1.RecreateDeploymentStrategyParams) error {
	if params == nil {
		params = &appsv1.RecreateDeploymentStrategyParams{}
	}
	timeout := seconds(params.TimeoutSeconds, defaultTimeout)
	if err := d.hook(ctx, dep, params.Pre, deployutil.PreHookPodSuffix, "pre"); err != nil {
		return err
	}
	if err := d.recreateScaling(ctx, dep, timeout); err != nil {
		return err
	}
	return d.hook(ctx, dep, params.Post, deployutil.PostHookPodSuffix, "post")
}

// recreateScaling scales the old deployment down, runs the Recreate mid
// hook if any, and scales the new one up and waits for its pods.
func (d *Deployer) recreateScaling(ctx context.Context, dep *deployment, timeout time.Duration) error {
	if dep.from != nil && replicas(dep.from) > 0 {
		fmt.Fprintf(d.Out, "--> Scaling %s down to zero\n", dep.from.Name)
		if err := d.scale(ctx, dep.from.Name, 0); err != nil {
			return err
		}
	}
	if p := dep.config.Spec.Strategy.RecreateParams; dep.config.Spec.Strategy.Type == appsv1.DeploymentStrategyTypeRecreate && p != nil {
		if err := d.hook(ctx, dep, p.Mid, deployutil.MidHookPodSuffix, "mid"); err != nil {
			return err
		}
	}
	fmt.Fprintf(d.Out, "--> Scaling %s to %d\n", dep.to.Name, dep.desired)
	if err := d.scale(ctx, dep.to.Name, dep.desired); err != nil {
		return err
	}
	if dep.desired == 0 {
		return nil
	}
	return d.waitForAvailable(ctx, dep.to.Name, dep.desired, timeout)
}

// rolling is the Rolling strategy. The first deployment has nothing to
// roll from and scales like Recreate between the pre and post hooks;
// later ones replace the old pods step by step within maxSurge and
// maxUnavailable.
func (d *Deployer) rolling(ctx context.Context, dep *deployment, params *appsv1.RollingDeploymentStrategyParams) error {
	if params == nil {
		params = &appsv1.RollingDeploymentStrategyParams{}
	}
	timeout := seconds(params.TimeoutSeconds, defaultTimeout)
	if err := d.hook(ctx, dep, params.Pre, deployutil.PreHookPodSuffix, "pre"); err != nil {
		return err
	}
	var err error
	if dep.from == nil {
		err = d.recreateScaling(ctx, dep, timeout)
	} else {
		err = d.rollingUpdate(ctx, dep, params, timeout)
	}
	if err != nil {
		return err
	}
	return d.hook(ctx, dep, params.Post, deployutil.PostHookPodSuffix, "post")
}

// rollingUpdate is kubectl's rolling updater as OpenShift's Rolling
// strategy drives it: scale the new deployment up as far as maxSurge
// allows, wait updatePeriodSeconds, scale the old one down as far as the
// available pods of both keep desired-maxUnavailable available, and fail
// when neither moved for timeoutSeconds.
func (d *Deployer) rollingUpdate(ctx context.Context, dep *deployment, params *appsv1.RollingDeploymentStrategyParams, timeout time.Duration) error {
	desired := dep.desired
	surge, unavailable, err := deployutil.ResolveFenceposts(params.MaxSurge, params.MaxUnavailable, desired)
	if err != nil {
		return fmt.Errorf("rolling parameters: %w", err)
	}
	minAvailable := max(desired-unavailable, 0)
	maxTotal := desired + surge
	updatePeriod := seconds(params.UpdatePeriodSeconds, defaultUpdatePeriod)

	newRC, oldRC := dep.to.Name, dep.from.Name
	newReplicas, oldReplicas := replicas(dep.to), replicas(dep.from)
	fmt.Fprintf(d.Out, "--> Scaling up %s from %d to %d, scaling down %s from %d to 0 (keep %d pods available, don't exceed %d pods)\n",
		newRC, newReplicas, desired, oldRC, oldReplicas, minAvailable, maxTotal)

	deadline := time.Now().Add(timeout)
	for newReplicas != desired || oldReplicas != 0 {
		before := [2]int32{newReplicas, oldReplicas}

		// Scale up as far as the surge allows (all the way once the old
		// deployment is gone).
		if newReplicas != desired {
			increment := maxTotal - (newReplicas + oldReplicas)
			if oldReplicas == 0 {
				increment = desired - newReplicas
			}
			if increment > 0 {
				newReplicas = min(newReplicas+increment, desired)
				fmt.Fprintf(d.Out, "    Scaling %s up to %d\n", newRC, newReplicas)
				if err := d.scale(ctx, newRC, newReplicas); err != nil {
					return err
				}
			}
		}

		// Let the new pods become ready before counting them.
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(updatePeriod):
		}

		// Scale down as far as availability allows.
		newAvailable, err := d.availablePods(ctx, newRC)
		if err != nil {
			return err
		}
		oldAvailable, err := d.availablePods(ctx, oldRC)
		if err != nil {
			return err
		}
		if decrement := newAvailable + oldAvailable - minAvailable; decrement > 0 && oldReplicas > 0 {
			oldReplicas = max(oldReplicas-decrement, 0)
			fmt.Fprintf(d.Out, "    Scaling %s down to %d\n", oldRC, oldReplicas)
			if err := d.scale(ctx, oldRC, oldReplicas); err != nil {
				return err
			}
		}

		if before != [2]int32{newReplicas, oldReplicas} {
			deadline = time.Now().Add(timeout)
		} else if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for any update progress to be made (%s has %d of %d pods available)", timeout, newRC, newAvailable, desired)
		}
	}
	return d.waitForAvailable(ctx, newRC, desired, timeout)
}

// availablePods is the number of available pods of deployment name.
func (d *Deployer) availablePods(ctx context.Context, name string) (int32, error) {
	rc, err := d.Kube.CoreV1().ReplicationControllers(d.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("reading deployment %s: %w", name, err)
	}
	return rc.Status.AvailableReplicas, nil
}
