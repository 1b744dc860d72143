// Package imagestreamtag serves image.openshift.io/v1 imagestreamtags: a
// virtual resource, one object per tag of an image stream ("<stream>:<tag>"),
// stored as the stream's spec tag and status history. `oc tag` writes it.
package imagestreamtag

import (
	"context"
	"fmt"
	"sort"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/registry/image/imagestream"
	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// StreamStore is the image stream storage the tags are kept in: the
// imagestream package's internal store, which keeps status written with the
// spec (a tag delete removes both).
type StreamStore interface {
	imagestream.InternalStore
	rest.Lister
}

// REST serves imagestreamtags.
type REST struct {
	streams StreamStore
	images  rest.Getter
	table   TableConvertor
}

var (
	_ rest.Getter               = &REST{}
	_ rest.Lister               = &REST{}
	_ rest.Creater              = &REST{}
	_ rest.Updater              = &REST{}
	_ rest.GracefulDeleter      = &REST{}
	_ rest.Scoper               = &REST{}
	_ rest.SingularNameProvider = &REST{}
	_ rest.ShortNamesProvider   = &REST{}
	_ rest.Storage              = &REST{}
)

// NewREST returns the imagestreamtags storage over streams (the internal
// image stream store) and images (the images store, to show each tag's
// Image).
func NewREST(streams StreamStore, images rest.Getter) *REST {
	return &REST{streams: streams, images: images}
}

// New returns an empty ImageStreamTag.
func (r *REST) New() runtime.Object { return &imagev1.ImageStreamTag{} }

// NewList returns an empty ImageStreamTagList.
func (r *REST) NewList() runtime.Object { return &imagev1.ImageStreamTagList{} }

// Destroy does nothing: the stores behind belong to their own resources.
func (r *REST) Destroy() {}

// NamespaceScoped is true.
func (r *REST) NamespaceScoped() bool { return true }

// GetSingularName is "imagestreamtag".
func (r *REST) GetSingularName() string { return "imagestreamtag" }

// ShortNames gives `istag`, as oc knows it.
func (r *REST) ShortNames() []string { return []string{"istag"} }

// ConvertToTable renders tags as `oc get istag` does.
func (r *REST) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.table.ConvertToTable(ctx, obj, tableOptions)
}

var (
	resource = imagev1.Resource("imagestreamtags")
	kind     = schema.GroupKind{Group: imagev1.GroupName, Kind: "ImageStreamTag"}
)

// splitName splits "<stream>:<tag>" or answers 400 as OpenShift does.
func splitName(name string) (stream, tag string, err error) {
	stream, tag, ok := imagestream.SplitTag(name)
	if !ok {
		return "", "", apierrors.NewBadRequest("ImageStreamTags must be retrieved with <stream>:<tag>")
	}
	return stream, tag, nil
}

// Get returns the tag, 404 unless it has a spec tag or a status event.
func (r *REST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	streamName, tag, err := splitName(name)
	if err != nil {
		return nil, err
	}
	stream, err := imagestream.GetStream(ctx, r.streams, streamName)
	if err != nil {
		return nil, err
	}
	if stream == nil || !hasTag(stream, tag) {
		return nil, apierrors.NewNotFound(resource, name)
	}
	return r.newImageStreamTag(ctx, stream, tag)
}

func hasTag(stream *imagev1.ImageStream, tag string) bool {
	return imagestream.SpecTag(stream, tag) != nil || imagestream.LatestTagEvent(stream, tag) != nil
}

// List returns one ImageStreamTag per tag of every stream matching the
// label selector; field selectors (metadata.name, metadata.namespace) apply
// to the tags.
func (r *REST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	streamOptions := &metainternalversion.ListOptions{}
	fieldSelector := fields.Everything()
	if options != nil {
		streamOptions.LabelSelector = options.LabelSelector
		streamOptions.ResourceVersion = options.ResourceVersion
		streamOptions.ResourceVersionMatch = options.ResourceVersionMatch
		if options.FieldSelector != nil {
			fieldSelector = options.FieldSelector
		}
	}
	obj, err := r.streams.List(ctx, streamOptions)
	if err != nil {
		return nil, err
	}
	streams, ok := obj.(*imagev1.ImageStreamList)
	if !ok {
		return nil, fmt.Errorf("image stream store listed %T", obj)
	}
	list := &imagev1.ImageStreamTagList{ListMeta: metav1.ListMeta{ResourceVersion: streams.ResourceVersion}}
	for i := range streams.Items {
		stream := &streams.Items[i]
		for _, tag := range tagNames(stream) {
			fieldSet := fields.Set{"metadata.name": imagestream.JoinTag(stream.Name, tag), "metadata.namespace": stream.Namespace}
			if !fieldSelector.Matches(fieldSet) {
				continue
			}
			istag, err := r.newImageStreamTag(ctx, stream, tag)
			if err != nil {
				return nil, err
			}
			list.Items = append(list.Items, *istag)
		}
	}
	return list, nil
}

// tagNames lists the stream's spec and status tags, sorted, once each.
func tagNames(stream *imagev1.ImageStream) []string {
	seen := map[string]bool{}
	var names []string
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	for _, t := range stream.Spec.Tags {
		add(t.Name)
	}
	for _, t := range stream.Status.Tags {
		if len(t.Items) > 0 {
			add(t.Tag)
		}
	}
	sort.Strings(names)
	return names
}

// newImageStreamTag builds the ImageStreamTag view of one tag of stream.
func (r *REST) newImageStreamTag(ctx context.Context, stream *imagev1.ImageStream, tag string) (*imagev1.ImageStreamTag, error) {
	spec := imagestream.SpecTag(stream, tag)
	event := imagestream.LatestTagEvent(stream, tag)
	istag := &imagev1.ImageStreamTag{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:         stream.Namespace,
			Name:              imagestream.JoinTag(stream.Name, tag),
			CreationTimestamp: stream.CreationTimestamp,
			Labels:            stream.Labels,
			ResourceVersion:   stream.ResourceVersion,
			UID:               stream.UID,
		},
		LookupPolicy: stream.Spec.LookupPolicy,
	}
	if spec != nil {
		istag.Tag = spec.DeepCopy()
		istag.Annotations = copyMap(spec.Annotations)
		if spec.Generation != nil {
			istag.Generation = *spec.Generation
		}
	}
	if list := imagestream.StatusTag(stream, tag); list != nil {
		istag.Conditions = append([]imagev1.TagEventCondition(nil), list.Conditions...)
	}
	if event == nil {
		return istag, nil
	}
	istag.CreationTimestamp = event.Created
	istag.Generation = event.Generation
	if event.Image != "" {
		image, err := r.getImage(ctx, event.Image)
		if err != nil {
			return nil, err
		}
		istag.Image = *image
	}
	istag.Image.DockerImageReference = imagestream.ResolvePullSpec(stream, tag, event)
	return istag, nil
}

// getImage reads the Image named digest; when it does not exist (an image
// pushed or imported elsewhere, or pruned) only its name is known.
func (r *REST) getImage(ctx context.Context, digest string) (*imagev1.Image, error) {
	if r.images == nil {
		return &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: digest}}, nil
	}
	obj, err := r.images.Get(genericapirequest.WithNamespace(ctx, ""), digest, &metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: digest}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading image %s: %w", digest, err)
	}
	image, ok := obj.(*imagev1.Image)
	if !ok {
		return nil, fmt.Errorf("image store returned %T", obj)
	}
	image = image.DeepCopy()
	// The raw manifest and config are large and only the registry needs
	// them; OpenShift leaves them out of tag views too.
	image.DockerImageManifest = ""
	image.DockerImageConfig = ""
	return image, nil
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Create adds a spec tag: to the stream when it exists (409 when the tag is
// already in its spec), else in a new stream.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	istag, ok := obj.(*imagev1.ImageStreamTag)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not an ImageStreamTag: %T", obj))
	}
	if err := r.prepare(ctx, istag); err != nil {
		return nil, err
	}
	if errs := ValidateImageStreamTag(istag, true); len(errs) > 0 {
		return nil, apierrors.NewInvalid(kind, istag.Name, errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, istag.DeepCopy()); err != nil {
			return nil, err
		}
	}
	streamName, tag, _ := imagestream.SplitTag(istag.Name)
	release, attempts, err := r.streams.Turn(ctx, streamName)
	if err != nil {
		return nil, err
	}
	defer release()
	// A write that lost a race with a writer outside the turns is
	// recomputed on a fresh read.
	for {
		stream, err := imagestream.GetStream(ctx, r.streams, streamName)
		if err != nil {
			return nil, err
		}
		if stream != nil && imagestream.SpecTag(stream, tag) != nil {
			return nil, apierrors.NewAlreadyExists(resource, istag.Name)
		}
		// Creating a tag in an existing stream only turns local lookup on:
		// a new ImageStreamTag object says nothing about the stream's policy.
		setLookup := stream == nil || istag.LookupPolicy.Local
		written, err := r.write(ctx, streamName, stream, istag, tag, setLookup, dryRunOf(options))
		if imagestream.IsWriteConflict(err) && attempts.Again(ctx) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return r.newImageStreamTag(ctx, written, tag)
	}
}

// Update writes the spec tag (and the stream's lookup policy). Like
// OpenShift it creates the tag, and the stream, when they do not exist yet:
// `oc tag` relies on that.
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	streamName, tag, err := splitName(name)
	if err != nil {
		return nil, false, err
	}
	release, attempts, err := r.streams.Turn(ctx, streamName)
	if err != nil {
		return nil, false, err
	}
	defer release()
	for {
		stream, err := imagestream.GetStream(ctx, r.streams, streamName)
		if err != nil {
			return nil, false, err
		}
		var old *imagev1.ImageStreamTag
		if stream != nil {
			if old, err = r.newImageStreamTag(ctx, stream, tag); err != nil {
				return nil, false, err
			}
		} else {
			namespace, _ := genericapirequest.NamespaceFrom(ctx)
			old = &imagev1.ImageStreamTag{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
		}
		obj, err := objInfo.UpdatedObject(ctx, old)
		if err != nil {
			return nil, false, err
		}
		istag, ok := obj.(*imagev1.ImageStreamTag)
		if !ok {
			return nil, false, apierrors.NewBadRequest(fmt.Sprintf("not an ImageStreamTag: %T", obj))
		}
		if istag.Name != name {
			return nil, false, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", istag.Name, name))
		}
		clientVersion := istag.ResourceVersion
		switch {
		case clientVersion == "":
		case stream == nil:
			return nil, false, apierrors.NewNotFound(resource, name)
		case clientVersion != stream.ResourceVersion:
			return nil, false, apierrors.NewConflict(resource, name, fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
		}
		if err := r.prepare(ctx, istag); err != nil {
			return nil, false, err
		}
		creating := old.Tag == nil
		if creating {
			if errs := ValidateImageStreamTag(istag, true); len(errs) > 0 {
				return nil, false, apierrors.NewInvalid(kind, name, errs)
			}
			if createValidation != nil {
				if err := createValidation(ctx, istag.DeepCopy()); err != nil {
					return nil, false, err
				}
			}
		} else {
			if istag.Tag == nil {
				istag.Tag = old.Tag.DeepCopy()
			}
			if errs := ValidateImageStreamTag(istag, false); len(errs) > 0 {
				return nil, false, apierrors.NewInvalid(kind, name, errs)
			}
			if updateValidation != nil {
				if err := updateValidation(ctx, istag.DeepCopy(), old.DeepCopy()); err != nil {
					return nil, false, err
				}
			}
		}
		var dryRun []string
		if options != nil {
			dryRun = options.DryRun
		}
		written, err := r.write(ctx, streamName, stream, istag, tag, true, dryRun)
		if imagestream.IsWriteConflict(err) && clientVersion == "" && attempts.Again(ctx) {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		result, err := r.newImageStreamTag(ctx, written, tag)
		return result, creating, err
	}
}

func dryRunOf(options *metav1.CreateOptions) []string {
	if options == nil {
		return nil
	}
	return options.DryRun
}

// prepare defaults the request's namespace and spec tag.
func (r *REST) prepare(ctx context.Context, istag *imagev1.ImageStreamTag) error {
	if err := storebase.RequestNamespace(ctx, &istag.ObjectMeta); err != nil {
		return err
	}
	if istag.Tag != nil {
		imagestream.SetDefaultsTagReference(istag.Tag)
	}
	return nil
}

// write stores istag's spec tag in stream (creating the stream when it is
// nil) and returns the stream as stored.
func (r *REST) write(ctx context.Context, streamName string, stream *imagev1.ImageStream, istag *imagev1.ImageStreamTag, tag string, setLookup bool, dryRun []string) (*imagev1.ImageStream, error) {
	tagRef := istag.Tag.DeepCopy()
	tagRef.Name = tag
	if tagRef.Annotations == nil {
		tagRef.Annotations = copyMap(istag.Annotations)
	}
	if stream == nil {
		stream = &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: istag.Namespace, Name: streamName}}
		stream.Spec.LookupPolicy = istag.LookupPolicy
		stream.Spec.Tags = []imagev1.TagReference{*tagRef}
		return imagestream.SaveStream(ctx, r.streams, stream, dryRun)
	}
	stream = stream.DeepCopy()
	if existing := imagestream.SpecTag(stream, tag); existing != nil {
		*existing = *tagRef
	} else {
		stream.Spec.Tags = append(stream.Spec.Tags, *tagRef)
	}
	if setLookup {
		stream.Spec.LookupPolicy = istag.LookupPolicy
	}
	return imagestream.SaveStream(ctx, r.streams, stream, dryRun)
}

// Delete removes the tag from the stream's spec and status.
func (r *REST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	streamName, tag, err := splitName(name)
	if err != nil {
		return nil, false, err
	}
	var dryRun []string
	var preconditions *metav1.Preconditions
	if options != nil {
		dryRun = options.DryRun
		preconditions = options.Preconditions
	}
	release, attempts, err := r.streams.Turn(ctx, streamName)
	if err != nil {
		return nil, false, err
	}
	defer release()
	for {
		stream, err := imagestream.GetStream(ctx, r.streams, streamName)
		if err != nil {
			return nil, false, err
		}
		if stream == nil || !hasTag(stream, tag) {
			return nil, false, apierrors.NewNotFound(resource, name)
		}
		if preconditions != nil {
			if preconditions.UID != nil && *preconditions.UID != stream.UID {
				return nil, false, apierrors.NewConflict(resource, name, fmt.Errorf("precondition failed: UID in precondition: %v, UID in object meta: %v", *preconditions.UID, stream.UID))
			}
			if preconditions.ResourceVersion != nil && *preconditions.ResourceVersion != stream.ResourceVersion {
				return nil, false, apierrors.NewConflict(resource, name, fmt.Errorf("precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *preconditions.ResourceVersion, stream.ResourceVersion))
			}
		}
		if deleteValidation != nil {
			old, err := r.newImageStreamTag(ctx, stream, tag)
			if err != nil {
				return nil, false, err
			}
			if err := deleteValidation(ctx, old); err != nil {
				return nil, false, err
			}
		}
		stream = stream.DeepCopy()
		imagestream.RemoveTag(stream, tag)
		_, err = imagestream.SaveStream(ctx, r.streams, stream, dryRun)
		if apierrors.IsConflict(err) && (preconditions == nil || preconditions.ResourceVersion == nil) && attempts.Again(ctx) {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		return &metav1.Status{Status: metav1.StatusSuccess}, true, nil
	}
}

// ValidateImageStreamTag validates a created (create true) or updated
// ImageStreamTag: its name is "<stream>:<tag>", a created one carries a tag,
// and the tag's source is valid as a stream's spec tag would be.
func ValidateImageStreamTag(istag *imagev1.ImageStreamTag, create bool) field.ErrorList {
	var errs field.ErrorList
	namePath := field.NewPath("metadata", "name")
	streamName, _, ok := imagestream.SplitTag(istag.Name)
	switch {
	case istag.Name == "":
		errs = append(errs, field.Required(namePath, ""))
	case !ok:
		errs = append(errs, field.Invalid(namePath, istag.Name, "must be of the form <stream>:<tag>"))
	default:
		for _, msg := range imagestream.ValidateImageStreamName(streamName, false) {
			errs = append(errs, field.Invalid(namePath, istag.Name, "image stream name: "+msg))
		}
		if _, tag, _ := imagestream.SplitTag(istag.Name); !imagestream.ValidTagName(tag) {
			errs = append(errs, field.Invalid(namePath, istag.Name, `tag must match "[\w][\w.-]{0,127}"`))
		}
	}
	if istag.Tag == nil {
		if create {
			errs = append(errs, field.Required(field.NewPath("tag"), ""))
		}
		return errs
	}
	errs = append(errs, imagestream.ValidateTagReference(istag.Tag, field.NewPath("tag"))...)
	return errs
}
