package imagetrigger

import (
	"context"
	"fmt"

	appsv1 "github.com/openshift/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// syncDeploymentConfig writes the images the automatic ImageChange
// triggers of DeploymentConfig namespace/name resolve to into the trigger
// (lastTriggeredImage) and the containers it names, and updates the
// DeploymentConfig when that changed anything. The deploymentconfig
// controller rolls out from there.
func (c *Controller) syncDeploymentConfig(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	dc, err := c.dcs.DeploymentConfigs(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	updated := dc.DeepCopy()
	if !c.applyImageTriggers(updated) {
		return nil
	}
	_, err = c.apps.AppsV1().DeploymentConfigs(namespace).Update(ctx, updated, metav1.UpdateOptions{})
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

// applyImageTriggers sets, for every automatic ImageChange trigger of dc
// whose tag resolves, lastTriggeredImage and the image of the containers
// and init containers it names to the resolved pull spec. It reports
// whether anything changed.
func (c *Controller) applyImageTriggers(dc *appsv1.DeploymentConfig) bool {
	changed := false
	for _, t := range dc.Spec.Triggers {
		p := t.ImageChangeParams
		if t.Type != appsv1.DeploymentTriggerOnImageChange || p == nil || !p.Automatic {
			continue
		}
		spec := c.resolveTag(followedTag(dc.Namespace, &p.From))
		if spec == "" {
			continue
		}
		if p.LastTriggeredImage != spec {
			p.LastTriggeredImage = spec
			changed = true
		}
		if dc.Spec.Template == nil {
			continue
		}
		for _, name := range p.ContainerNames {
			changed = setImage(dc.Spec.Template.Spec.Containers, name, spec) || changed
			changed = setImage(dc.Spec.Template.Spec.InitContainers, name, spec) || changed
		}
	}
	return changed
}

// setImage sets the image of the container called name in containers and
// reports whether it changed.
func setImage(containers []corev1.Container, name, image string) bool {
	for i := range containers {
		if containers[i].Name == name && containers[i].Image != image {
			containers[i].Image = image
			return true
		}
	}
	return false
}
