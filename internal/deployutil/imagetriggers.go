package deployutil

import (
	appsv1 "github.com/openshift/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// ImageTagResolver returns the pull spec the ImageStreamTag from (its
// namespace filled in) points at now, "" when it does not resolve.
type ImageTagResolver func(from corev1.ObjectReference) (string, error)

// ResolveImageTriggers sets, for every ImageChange trigger of dc that
// include accepts and whose tag resolves, lastTriggeredImage and the image
// of the containers and init containers it names to the resolved pull
// spec. It reports whether anything changed, and stops at the first error
// of resolve.
func ResolveImageTriggers(dc *appsv1.DeploymentConfig, include func(*appsv1.DeploymentTriggerImageChangeParams) bool, resolve ImageTagResolver) (bool, error) {
	changed := false
	for _, t := range dc.Spec.Triggers {
		p := t.ImageChangeParams
		if t.Type != appsv1.DeploymentTriggerOnImageChange || p == nil || !include(p) {
			continue
		}
		from := p.From
		if from.Namespace == "" {
			from.Namespace = dc.Namespace
		}
		image, err := resolve(from)
		if err != nil {
			return changed, err
		}
		if image == "" {
			continue
		}
		if p.LastTriggeredImage != image {
			p.LastTriggeredImage = image
			changed = true
		}
		if dc.Spec.Template == nil {
			continue
		}
		for _, name := range p.ContainerNames {
			changed = setImage(dc.Spec.Template.Spec.Containers, name, image) || changed
			changed = setImage(dc.Spec.Template.Spec.InitContainers, name, image) || changed
		}
	}
	return changed, nil
}

// setImage sets the image of the containers called name and reports
// whether that changed one.
func setImage(containers []corev1.Container, name, image string) bool {
	changed := false
	for i := range containers {
		if containers[i].Name == name && containers[i].Image != image {
			containers[i].Image = image
			changed = true
		}
	}
	return changed
}
