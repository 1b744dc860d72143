package buildgenerator

import (
	"context"
	"fmt"

	buildv1 "github.com/openshift/api/build/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ImageChangeTriggerFrom returns the image stream tag an ImageChange
// trigger of bc watches (its own from, else the strategy's), or nil when it
// watches none.
func ImageChangeTriggerFrom(bc *buildv1.BuildConfig, t *buildv1.BuildTriggerPolicy) *corev1.ObjectReference {
	if t.Type != buildv1.ImageChangeBuildTriggerType {
		return nil
	}
	from := StrategyFrom(&bc.Spec.Strategy)
	if t.ImageChange != nil && t.ImageChange.From != nil {
		from = t.ImageChange.From
	}
	if from == nil || (from.Kind != "ImageStreamTag" && from.Kind != "") || from.Name == "" {
		return nil
	}
	ref := from.DeepCopy()
	ref.Kind = "ImageStreamTag"
	if ref.Namespace == "" {
		ref.Namespace = bc.Namespace
	}
	return ref
}

// updateImageChangeTriggers recomputes bc.Status.ImageChangeTriggers: the
// trigger that caused req records the triggering image and time, every
// other one records the tag's current image, so it does not fire again for
// the image this build uses anyway.
func (g *Generator) updateImageChangeTriggers(ctx context.Context, bc *buildv1.BuildConfig, req *buildv1.BuildRequest) error {
	var statuses []buildv1.ImageChangeTriggerStatus
	for i := range bc.Spec.Triggers {
		from := ImageChangeTriggerFrom(bc, &bc.Spec.Triggers[i])
		if from == nil {
			continue
		}
		status := buildv1.ImageChangeTriggerStatus{From: buildv1.ImageStreamTagReference{Namespace: from.Namespace, Name: from.Name}}
		for _, old := range bc.Status.ImageChangeTriggers {
			if statusFollows(bc, old, from) {
				status.LastTriggeredImageID, status.LastTriggerTime = old.LastTriggeredImageID, old.LastTriggerTime
			}
		}
		if causedBy(req, from, bc.Namespace) {
			if status.LastTriggeredImageID == req.TriggeredByImage.Name {
				return apierrors.NewConflict(buildv1.Resource("buildconfigs"), bc.Name,
					fmt.Errorf("build config %s/%s has already instantiated a build for imageid %s", bc.Namespace, bc.Name, req.TriggeredByImage.Name))
			}
			status.LastTriggeredImageID = req.TriggeredByImage.Name
			status.LastTriggerTime = metav1.NewTime(g.now())
		} else if spec, err := g.ResolveImage(ctx, bc.Namespace, from); err == nil {
			status.LastTriggeredImageID = spec
		}
		statuses = append(statuses, status)
	}
	bc.Status.ImageChangeTriggers = statuses
	return nil
}

// causedBy reports whether req was made by the image change trigger
// watching from.
func causedBy(req *buildv1.BuildRequest, from *corev1.ObjectReference, namespace string) bool {
	if req.TriggeredByImage == nil || req.From == nil {
		return false
	}
	ns := req.From.Namespace
	if ns == "" {
		ns = namespace
	}
	return req.From.Name == from.Name && ns == from.Namespace
}

// triggeredImageFor returns the image the image change trigger watching the
// strategy image last recorded, or "".
func triggeredImageFor(bc *buildv1.BuildConfig, strategyFrom *corev1.ObjectReference) string {
	if strategyFrom.Kind != "ImageStreamTag" && strategyFrom.Kind != "" {
		return ""
	}
	return LastTriggeredImage(bc, strategyFrom)
}

// LastTriggeredImage returns the image bc's status records for the image
// change trigger following the ImageStreamTag from, or "". An empty
// namespace, in from or in a status entry, means bc's own.
func LastTriggeredImage(bc *buildv1.BuildConfig, from *corev1.ObjectReference) string {
	for _, s := range bc.Status.ImageChangeTriggers {
		if statusFollows(bc, s, from) {
			return s.LastTriggeredImageID
		}
	}
	return ""
}

// statusFollows reports whether s is the status of the image change trigger
// following from; empty namespaces mean bc's.
func statusFollows(bc *buildv1.BuildConfig, s buildv1.ImageChangeTriggerStatus, from *corev1.ObjectReference) bool {
	ns, statusNS := from.Namespace, s.From.Namespace
	if ns == "" {
		ns = bc.Namespace
	}
	if statusNS == "" {
		statusNS = bc.Namespace
	}
	return s.From.Name == from.Name && statusNS == ns
}
