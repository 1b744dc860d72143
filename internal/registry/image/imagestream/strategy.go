// Package imagestream is the REST storage of image.openshift.io/v1
// imagestreams and imagestreams/status: generations, spec tag defaults and
// validation, the status events the server materialises for tags that need no
// import, and oc's table.
package imagestream

import (
	"context"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// StreamGetter reads image streams; a genericregistry.Store is one. The
// namespace comes from the context.
type StreamGetter interface {
	Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error)
}

// Strategy implements create, update and delete behaviour of imagestreams;
// storebase.Strategy answers what every resource answers alike (no create
// on update, unconditional updates, no warnings, no canonical form).
type Strategy struct {
	storebase.Strategy

	// registryHostname is the internal registry's host[:port]; empty when
	// no registry is configured.
	registryHostname string
	// streams resolves spec tags that point into other streams. It is set
	// once the store exists (the store needs the strategy first); nil
	// leaves such tags to be resolved on a later write.
	streams StreamGetter
	// authz decides whether a requester may read the source of a spec tag
	// in another namespace; nil allows everyone.
	authz authorizer.Authorizer
	// now stamps new tag events; tests replace it.
	now func() metav1.Time
}

// NewStrategy returns the imagestreams strategy for the given internal
// registry host name (empty: none configured).
func NewStrategy(registryHostname string) *Strategy {
	return &Strategy{
		Strategy:         storebase.NewStrategy(),
		registryHostname: registryHostname,
		now:              metav1.Now,
	}
}

// SetAuthorizer makes spec tags that point into another namespace need
// the requester's get on imagestreams/layers of the source stream there.
func (s *Strategy) SetAuthorizer(a authorizer.Authorizer) {
	s.authz = a
}

// SetStreamGetter gives the strategy a way to read other image streams, used
// for spec tags whose from points into another stream.
func (s *Strategy) SetStreamGetter(streams StreamGetter) {
	s.streams = streams
}

// NamespaceScoped is true: image streams live in a namespace.
func (*Strategy) NamespaceScoped() bool { return true }

// DockerImageRepository returns the stream's pull spec in the internal
// registry, or "" when no registry is configured.
func (s *Strategy) DockerImageRepository(stream *imagev1.ImageStream) string {
	if s.registryHostname == "" {
		return ""
	}
	return s.registryHostname + "/" + stream.Namespace + "/" + stream.Name
}

// Decorate fills the computed status fields of an ImageStream or an
// ImageStreamList; it is the store's Decorator, so every read carries them.
func (s *Strategy) Decorate(obj runtime.Object) {
	switch t := obj.(type) {
	case *imagev1.ImageStream:
		t.Status.DockerImageRepository = s.DockerImageRepository(t)
	case *imagev1.ImageStreamList:
		for i := range t.Items {
			t.Items[i].Status.DockerImageRepository = s.DockerImageRepository(&t.Items[i])
		}
	}
}

// PrepareForCreate starts the stream at generation 1 with every spec tag at
// generation 1 and an empty status: clients do not write status on create.
func (s *Strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	stream := obj.(*imagev1.ImageStream)
	stream.Status = imagev1.ImageStreamStatus{}
	stream.Generation = 1
	SetDefaultsImageStream(stream)
	for i := range stream.Spec.Tags {
		generation := stream.Generation
		stream.Spec.Tags[i].Generation = &generation
	}
	stream.Status.DockerImageRepository = s.DockerImageRepository(stream)
}

// PrepareForUpdate keeps the old status, bumps the generation when the spec
// changed and sets spec tag generations (see UpdateTagGenerations).
func (s *Strategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	stream := obj.(*imagev1.ImageStream)
	oldStream := old.(*imagev1.ImageStream)
	stream.Status = *oldStream.Status.DeepCopy()
	SetDefaultsImageStream(stream)
	UpdateTagGenerations(stream, oldStream)
	stream.Status.DockerImageRepository = s.DockerImageRepository(stream)
}

// UpdateTagGenerations applies OpenShift's generation rules to an update of
// a stream's spec: clients cannot change a spec tag's generation except to
// 0 ("import again"); the stream's generation goes up by one when the spec
// changed; a tag that is new, was reset to 0, or whose source (from,
// reference, import mode) changed gets the stream's new generation.
func UpdateTagGenerations(stream, old *imagev1.ImageStream) {
	stream.Generation = old.Generation
	for i := range stream.Spec.Tags {
		tagRef := &stream.Spec.Tags[i]
		if tagRef.Generation != nil && *tagRef.Generation == 0 {
			continue
		}
		if oldRef := SpecTag(old, tagRef.Name); oldRef != nil {
			tagRef.Generation = copyGeneration(oldRef.Generation)
		}
	}
	if !equality.Semantic.DeepEqual(old.Spec, stream.Spec) || stream.Generation == 0 {
		stream.Generation = old.Generation + 1
	}
	for i := range stream.Spec.Tags {
		tagRef := &stream.Spec.Tags[i]
		oldRef := SpecTag(old, tagRef.Name)
		if oldRef == nil || tagSourceChanged(oldRef, tagRef, stream.Namespace) ||
			tagRef.Generation == nil || *tagRef.Generation == 0 {
			tagRef.Generation = copyGeneration(&stream.Generation)
		}
	}
}

func copyGeneration(g *int64) *int64 {
	if g == nil {
		return nil
	}
	v := *g
	return &v
}

// tagSourceChanged reports whether a spec tag points somewhere else than
// before: its from (with the namespace defaulted to the stream's), its
// reference flag or its import mode.
func tagSourceChanged(old, next *imagev1.TagReference, namespace string) bool {
	var oldKind, oldName, oldNS, nextKind, nextName, nextNS string
	if old.From != nil {
		oldKind, oldName, oldNS = old.From.Kind, old.From.Name, old.From.Namespace
	}
	if next.From != nil {
		nextKind, nextName, nextNS = next.From.Kind, next.From.Name, next.From.Namespace
	}
	if oldNS == "" {
		oldNS = namespace
	}
	if nextNS == "" {
		nextNS = namespace
	}
	return oldKind != nextKind || oldName != nextName || oldNS != nextNS ||
		old.Reference != next.Reference ||
		old.ImportPolicy.ImportMode != next.ImportPolicy.ImportMode
}

// Validate validates a new stream, then materialises the status of its
// tags that need no import. That second step lives here rather than in
// PrepareForCreate because resolving a tag can fail (an unknown source
// stream) and that must answer 422 like any validation error.
func (s *Strategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	stream := obj.(*imagev1.ImageStream)
	if errs := ValidateImageStream(stream); len(errs) > 0 {
		return errs
	}
	return s.MaterializeTags(ctx, nil, stream)
}

// ValidateUpdate validates an update, then materialises tag status as
// Validate does, for the tags whose source or generation changed.
func (s *Strategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	stream := obj.(*imagev1.ImageStream)
	oldStream := old.(*imagev1.ImageStream)
	if errs := ValidateImageStreamUpdate(stream, oldStream); len(errs) > 0 {
		return errs
	}
	return s.MaterializeTags(ctx, oldStream, stream)
}

// StatusStrategy implements updates through imagestreams/status: the spec
// and generation stay as they were, status is taken from the request.
type StatusStrategy struct {
	*Strategy
}

// NewStatusStrategy returns the status strategy sharing s's configuration.
func NewStatusStrategy(s *Strategy) *StatusStrategy {
	return &StatusStrategy{Strategy: s}
}

// PrepareForUpdate keeps the old spec, stamps newest events written without
// a generation, and propagates changed tags to the tags tracking them.
func (s *StatusStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	stream := obj.(*imagev1.ImageStream)
	oldStream := old.(*imagev1.ImageStream)
	stream.Spec = *oldStream.Spec.DeepCopy()
	stream.Generation = oldStream.Generation
	stampEventGenerations(stream, oldStream)
	UpdateTrackingTags(stream, changedTags(oldStream, stream))
	stream.Status.DockerImageRepository = s.DockerImageRepository(stream)
}

// stampEventGenerations gives a newest status event written with generation
// 0 a generation: the stream's when the event did not change (or the tag has
// no spec), else its spec tag's generation, so writers such as the registry
// need not know generations.
func stampEventGenerations(stream, old *imagev1.ImageStream) {
	for i := range stream.Status.Tags {
		list := &stream.Status.Tags[i]
		if len(list.Items) == 0 || list.Items[0].Generation != 0 {
			continue
		}
		newest := &list.Items[0]
		prev := LatestTagEvent(old, list.Tag)
		spec := SpecTag(stream, list.Tag)
		switch {
		case prev == nil || (prev.Image == newest.Image && prev.DockerImageReference == newest.DockerImageReference):
			newest.Generation = stream.Generation
		case spec == nil || spec.Generation == nil:
			newest.Generation = stream.Generation
		default:
			newest.Generation = *spec.Generation
		}
	}
}

// ValidateUpdate validates a status update.
func (s *StatusStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateImageStreamStatusUpdate(obj.(*imagev1.ImageStream), old.(*imagev1.ImageStream))
}

// InternalStrategy is the strategy of the in-process store: like Strategy,
// but the status in the written object is kept, so a writer can change a
// spec tag and its history together (deleting an ImageStreamTag, recording a
// pushed image).
type InternalStrategy struct {
	*Strategy
}

// NewInternalStrategy returns the internal strategy sharing s's configuration.
func NewInternalStrategy(s *Strategy) *InternalStrategy {
	return &InternalStrategy{Strategy: s}
}

// PrepareForCreate is Strategy's, keeping the given status.
func (s *InternalStrategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	stream := obj.(*imagev1.ImageStream)
	status := stream.Status
	s.Strategy.PrepareForCreate(ctx, obj)
	stream.Status = status
	stampEventGenerations(stream, &imagev1.ImageStream{})
	stream.Status.DockerImageRepository = s.DockerImageRepository(stream)
}

// PrepareForUpdate is Strategy's, keeping the given status.
func (s *InternalStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	stream := obj.(*imagev1.ImageStream)
	oldStream := old.(*imagev1.ImageStream)
	SetDefaultsImageStream(stream)
	UpdateTagGenerations(stream, oldStream)
	stampEventGenerations(stream, oldStream)
	stream.Status.DockerImageRepository = s.DockerImageRepository(stream)
}
