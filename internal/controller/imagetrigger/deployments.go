package imagetrigger

import (
	"context"
	"fmt"

	appsv1 "github.com/openshift/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/controller/worker"
	"github.com/slipway-dev/slipway/internal/deployutil"
)

// syncDeploymentConfig writes the images the automatic ImageChange
// triggers of DeploymentConfig namespace/name resolve to into the trigger
// (lastTriggeredImage) and the containers it names, and updates the
// DeploymentConfig when that changed anything. The deploymentconfig
// controller rolls out from there.
func (c *Controller) syncDeploymentConfig(ctx context.Context, key string) error {
	dc, err := worker.Lookup(key, func(namespace, name string) (*appsv1.DeploymentConfig, error) {
		return c.dcs.DeploymentConfigs(namespace).Get(name)
	})
	if dc == nil {
		return err
	}
	updated := dc.DeepCopy()
	if !c.applyImageTriggers(updated) {
		return nil
	}
	_, err = c.apps.AppsV1().DeploymentConfigs(dc.Namespace).Update(ctx, updated, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		// A conflict retries from the cache, which the watch brings up
		// to date.
		return fmt.Errorf("updating the images of DeploymentConfig %s: %w", key, err)
	}
	c.log.Info("updated images for image change", "deploymentconfig", key)
	return nil
}

// applyImageTriggers points the automatic ImageChange triggers of dc, and
// the containers they name, at the image their tag resolves to in the
// cache. It reports whether anything changed.
func (c *Controller) applyImageTriggers(dc *appsv1.DeploymentConfig) bool {
	automatic := func(p *appsv1.DeploymentTriggerImageChangeParams) bool { return p.Automatic }
	// The cache answers without errors: a tag it cannot resolve is "".
	changed, _ := deployutil.ResolveImageTriggers(dc, automatic, func(from corev1.ObjectReference) (string, error) {
		return c.resolveTag(followedTag(from.Namespace, &from)), nil
	})
	return changed
}
