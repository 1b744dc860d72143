package imagetrigger

import (
	"context"
	"fmt"

	buildv1 "github.com/openshift/api/build/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/buildgenerator"
	"github.com/slipway-dev/slipway/internal/controller/worker"
)

// syncBuildConfig starts a build of the BuildConfig namespace/name when an
// ImageChange trigger's tag resolves to an image the trigger has not
// recorded yet. Duplicates are the generator's to refuse: it records the
// image in the BuildConfig's status before creating the build and answers
// "already instantiated" for an image recorded before, so a stale cache, a
// second worker or a restarted controller never builds twice.
func (c *Controller) syncBuildConfig(ctx context.Context, key string) error {
	bc, err := worker.Lookup(key, func(namespace, name string) (*buildv1.BuildConfig, error) {
		return c.configs.BuildConfigs(namespace).Get(name)
	})
	if bc == nil {
		return err
	}
	namespace, name := bc.Namespace, bc.Name
	req := c.buildRequest(bc)
	if req == nil {
		return nil
	}
	_, err = c.builds.BuildV1().BuildConfigs(namespace).Instantiate(ctx, name, req, metav1.CreateOptions{})
	if err == nil {
		c.log.Info("started build for image change", "buildconfig", key, "image", req.TriggeredByImage.Name)
		return nil
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	// A conflict may mean the image was recorded by a build started
	// elsewhere (the config change build, another replica): then there is
	// nothing left to do.
	live, getErr := c.builds.BuildV1().BuildConfigs(namespace).Get(ctx, name, metav1.GetOptions{})
	if getErr == nil && buildgenerator.LastTriggeredImage(live, req.From) == req.TriggeredByImage.Name {
		return nil
	}
	if apierrors.IsBadRequest(err) {
		// Paused meanwhile, or an image the build needs does not
		// resolve: retrying will not help, the next change of the
		// BuildConfig or the stream brings it back.
		c.log.Warn("image change did not start a build", "buildconfig", key, "image", req.TriggeredByImage.Name, "error", err)
		return nil
	}
	return fmt.Errorf("instantiating BuildConfig %s for image %s: %w", key, req.TriggeredByImage.Name, err)
}

// buildRequest returns the build request for the first ImageChange trigger
// of bc whose tag resolves to an image it has not recorded, or nil. Other
// triggers that fired together are recorded by the same build (the
// generator resolves them), so one change of several tags is one build.
func (c *Controller) buildRequest(bc *buildv1.BuildConfig) *buildv1.BuildRequest {
	if buildgenerator.IsPaused(bc) {
		return nil
	}
	for i := range bc.Spec.Triggers {
		t := &bc.Spec.Triggers[i]
		from := buildgenerator.ImageChangeTriggerFrom(bc, t)
		if from == nil || (t.ImageChange != nil && t.ImageChange.Paused) {
			continue
		}
		spec := c.resolveTag(followedTag(bc.Namespace, from))
		if spec == "" || spec == buildgenerator.LastTriggeredImage(bc, from) || (t.ImageChange != nil && spec == t.ImageChange.LastTriggeredImageID) {
			continue
		}
		return &buildv1.BuildRequest{
			ObjectMeta:       metav1.ObjectMeta{Name: bc.Name, Namespace: bc.Namespace},
			TriggeredByImage: &corev1.ObjectReference{Kind: "DockerImage", Name: spec},
			From:             from,
			TriggeredBy: []buildv1.BuildTriggerCause{{
				Message:          buildgenerator.CauseImageChange,
				ImageChangeBuild: &buildv1.ImageChangeCause{ImageID: spec, FromRef: from},
			}},
		}
	}
	return nil
}
