package imagestreamimport

import (
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/registry/image/imagestream"
)

// unknownFailure is the condition message of a failure that came without one.
const unknownFailure = "unknown error prevented import"

// tagImport is the outcome of importing one image into one tag of a stream.
type tagImport struct {
	// tag is the stream tag the image goes to.
	tag string
	// from is the DockerImage pull spec the spec tag imports from.
	from            string
	importPolicy    imagev1.TagImportPolicy
	referencePolicy imagev1.TagReferencePolicy
	// status is the import's result; a Success with an image is recorded
	// as a tag event, anything else as a failed ImportSuccess condition.
	status imagev1.ImageImportStatus
	// reference is the pull spec the tag event records (digest-pinned).
	reference string
	// ensureSpec adds a spec tag for a failed import too, so the tag is
	// retried later (images named in spec.images, not repository tags).
	ensureSpec bool
}

// succeeded reports whether the import found an image.
func (t *tagImport) succeeded() bool {
	return t.status.Image != nil && t.status.Status.Status == metav1.StatusSuccess
}

// recordImports writes the results of an import into stream, following
// OpenShift: a found image becomes the tag's newest event (generation
// nextGeneration) unless the tag already points at that reference and image
// and its spec has not asked for a newer generation since; a failure becomes
// the tag's ImportSuccess=False condition unless the same failure is already
// recorded, keeping the tag's older events. It reports whether the spec or
// status changed at all: when not, the stream must not be written, so that
// nothing watching it (image triggers) sees a no-op import.
func recordImports(stream *imagev1.ImageStream, imports []tagImport, nextGeneration int64, now metav1.Time) bool {
	original := stream.DeepCopy()
	for i := range imports {
		imp := &imports[i]
		if imp.succeeded() {
			recordSuccess(stream, imp, nextGeneration, now)
			continue
		}
		recordFailure(stream, imp, nextGeneration, now)
		if imp.ensureSpec {
			ensureSpecTag(stream, imp, false)
		}
	}
	imagestream.SetDefaultsImageStream(stream)
	return !equality.Semantic.DeepEqual(original.Spec, stream.Spec) ||
		!equality.Semantic.DeepEqual(original.Status, stream.Status)
}

// recordSuccess points imp.tag at the imported image.
func recordSuccess(stream *imagev1.ImageStream, imp *tagImport, nextGeneration int64, now metav1.Time) {
	reference := imp.reference
	if reference == "" {
		reference = imp.status.Image.DockerImageReference
	}
	event := imagev1.TagEvent{
		Created:              now,
		DockerImageReference: reference,
		Image:                imp.status.Image.Name,
		Generation:           nextGeneration,
	}
	spec := imagestream.SpecTag(stream, imp.tag)
	if spec == nil || differentImage(stream, imp.tag, event) || newerSpecGeneration(stream, imp.tag) {
		ensureSpecTag(stream, imp, true)
		imagestream.AddTagEvent(stream, imp.tag, event)
		imagestream.UpdateTrackingTags(stream, []string{imp.tag})
	}
	// The import policy is the request's even when the image is unchanged:
	// it is how `oc import-image --scheduled` turns scheduling on.
	spec = imagestream.SpecTag(stream, imp.tag)
	spec.ImportPolicy = imp.importPolicy
	imagestream.SetDefaultsTagReference(spec)
	if list := imagestream.StatusTag(stream, imp.tag); list != nil {
		list.Conditions = nil
	}
}

// differentImage reports whether event points elsewhere than tag's newest
// event (reference or image; generation is not compared).
func differentImage(stream *imagev1.ImageStream, tag string, event imagev1.TagEvent) bool {
	newest := imagestream.LatestTagEvent(stream, tag)
	return newest == nil || newest.DockerImageReference != event.DockerImageReference || newest.Image != event.Image
}

// newerSpecGeneration reports whether tag's spec asks for a generation its
// newest event has not recorded yet (a tag that was edited or reset to 0).
func newerSpecGeneration(stream *imagev1.ImageStream, tag string) bool {
	spec := imagestream.SpecTag(stream, tag)
	newest := imagestream.LatestTagEvent(stream, tag)
	if spec == nil || spec.Generation == nil || newest == nil {
		return true
	}
	return *spec.Generation > newest.Generation
}

// recordFailure sets tag's ImportSuccess=False condition, keeping its
// events. The same failure (type, status, reason and message) already
// recorded is left alone, so a registry that stays down does not write the
// stream on every scheduled import.
func recordFailure(stream *imagev1.ImageStream, imp *tagImport, nextGeneration int64, now metav1.Time) {
	message := imp.status.Status.Message
	if message == "" {
		message = unknownFailure
	}
	condition := imagev1.TagEventCondition{
		Type:               imagev1.ImportSuccess,
		Status:             corev1.ConditionFalse,
		Reason:             string(imp.status.Status.Reason),
		Message:            message,
		Generation:         nextGeneration,
		LastTransitionTime: now,
	}
	list := imagestream.StatusTag(stream, imp.tag)
	if list != nil {
		for _, existing := range list.Conditions {
			if existing.Type == condition.Type && existing.Status == condition.Status &&
				existing.Reason == condition.Reason && existing.Message == condition.Message {
				return
			}
		}
	} else {
		stream.Status.Tags = append(stream.Status.Tags, imagev1.NamedTagEventList{Tag: imp.tag})
		list = &stream.Status.Tags[len(stream.Status.Tags)-1]
	}
	list.Conditions = []imagev1.TagEventCondition{condition}
	// Generation 0 makes the write give the tag the stream's next
	// generation, the one the condition records: the tag then counts as
	// attempted and is not imported again until its spec changes.
	if spec := imagestream.SpecTag(stream, imp.tag); spec != nil {
		zero := int64(0)
		spec.Generation = &zero
	}
}

// ensureSpecTag makes imp.tag a spec tag importing from imp.from. An
// existing tag is left as it is unless reset; a reset keeps its reference
// policy when it has one (importing does not change how a tag is pulled)
// and its annotations.
func ensureSpecTag(stream *imagev1.ImageStream, imp *tagImport, reset bool) {
	spec := imagestream.SpecTag(stream, imp.tag)
	if spec != nil && !reset {
		return
	}
	if spec == nil {
		stream.Spec.Tags = append(stream.Spec.Tags, imagev1.TagReference{Name: imp.tag})
		spec = &stream.Spec.Tags[len(stream.Spec.Tags)-1]
	}
	spec.From = &corev1.ObjectReference{Kind: imagestream.KindDockerImage, Name: imp.from}
	zero := int64(0)
	spec.Generation = &zero
	spec.ImportPolicy = imp.importPolicy
	if spec.ReferencePolicy.Type == "" {
		spec.ReferencePolicy = imp.referencePolicy
	}
	imagestream.SetDefaultsTagReference(spec)
}
