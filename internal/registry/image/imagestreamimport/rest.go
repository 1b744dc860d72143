// Package imagestreamimport serves image.openshift.io/v1
// imagestreamimports: a create-only resource that looks images up in
// registries (by tag, by digest, or a whole repository) and, unless it is a
// dry run (spec.import false), records them as Images and as tags of the
// image stream named by the request, creating the stream when needed.
//
// An import that finds nothing new does not write the stream at all, so
// that image triggers watching it never fire on a no-op.
package imagestreamimport

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/image"
	"github.com/slipway-dev/slipway/internal/registry/image/imagestream"
	"github.com/slipway-dev/slipway/internal/registry/image/imagestreamsecrets"
	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// MaxImagesBulkImported is how many tags a spec.repository import brings
// in at most (OpenShift's maxImagesBulkImportedPerRepository default); the
// rest are listed in status.repository.additionalTags.
const MaxImagesBulkImported = 50

// Importer looks images up in registries; *image.Client is one.
type Importer interface {
	Import(ctx context.Context, ref image.Reference, o image.ImportOptions) (*image.Result, error)
	Tags(ctx context.Context, repo image.Reference, o image.ImportOptions) ([]string, error)
}

// REST serves imagestreamimports.
type REST struct {
	streams  imagestream.InternalStore
	images   rest.Creater
	secrets  imagestreamsecrets.SecretsGetter
	importer Importer
	now      func() metav1.Time
}

var (
	_ rest.Creater              = &REST{}
	_ rest.Scoper               = &REST{}
	_ rest.SingularNameProvider = &REST{}
	_ rest.Storage              = &REST{}
)

// NewREST returns the imagestreamimports storage: streams is the internal
// image stream store, images the images store, secrets lists a namespace's
// secrets (the pull secrets among them authenticate the imports) and
// importer talks to the registries.
func NewREST(streams imagestream.InternalStore, images rest.Creater, secrets imagestreamsecrets.SecretsGetter, importer Importer) *REST {
	return &REST{streams: streams, images: images, secrets: secrets, importer: importer, now: metav1.Now}
}

// New returns an empty ImageStreamImport.
func (r *REST) New() runtime.Object { return &imagev1.ImageStreamImport{} }

// Destroy does nothing: the stores behind belong to their own resources.
func (r *REST) Destroy() {}

// NamespaceScoped is true: an import names a stream in a namespace.
func (r *REST) NamespaceScoped() bool { return true }

// GetSingularName is "imagestreamimport".
func (r *REST) GetSingularName() string { return "imagestreamimport" }

var (
	streamResource = imagev1.Resource("imagestreams")
	kind           = schema.GroupKind{Group: imagev1.GroupName, Kind: "ImageStreamImport"}
)

// Create imports the requested images and answers the request with its
// status filled: one status.images entry per spec.images entry, and
// status.repository for spec.repository. With spec.import true it also
// stores the found Images and records every result in the stream (see
// recordImports), returning the stream in status.import.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	isi, ok := obj.(*imagev1.ImageStreamImport)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not an ImageStreamImport: %T", obj))
	}
	namespace, _ := genericapirequest.NamespaceFrom(ctx)
	if namespace == "" {
		return nil, apierrors.NewBadRequest("a namespace must be specified to import images")
	}
	if err := storebase.RequestNamespace(ctx, &isi.ObjectMeta); err != nil {
		return nil, err
	}
	if errs := ValidateImageStreamImport(isi); len(errs) > 0 {
		return nil, apierrors.NewInvalid(kind, isi.Name, errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, isi.DeepCopy()); err != nil {
			return nil, err
		}
	}
	var dryRun []string
	if options != nil {
		dryRun = options.DryRun
	}
	// The preconditions name the stream the caller (the import controller)
	// decided to import for; a stream changed or replaced since means its
	// decision is stale.
	preconditions := isi.ObjectMeta
	stream, err := imagestream.GetStream(ctx, r.streams, isi.Name)
	if err != nil {
		return nil, err
	}
	if err := checkPreconditions(preconditions, stream, isi.Name); err != nil {
		return nil, err
	}

	pullSecrets, err := imagestreamsecrets.PullSecrets(ctx, r.secrets, namespace)
	if err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("reading the pull secrets of namespace %s: %w", namespace, err))
	}
	run := importRun{importer: r.importer, keyring: image.KeyringFromSecrets(pullSecrets), stream: stream}
	imports := run.importAll(ctx, isi)

	if !isi.Spec.Import {
		clearManifests(isi)
		return isi, nil
	}
	if err := r.createImages(ctx, isi, dryRun); err != nil {
		return nil, err
	}
	written, err := r.writeStream(ctx, isi, preconditions, stream, imports, dryRun)
	if err != nil {
		return nil, err
	}
	clearManifests(isi)
	isi.Status.Import = written
	return isi, nil
}

// checkPreconditions answers 409 when the request's resourceVersion or UID
// does not match the stream, and 404 when it names a stream that is gone.
func checkPreconditions(meta metav1.ObjectMeta, stream *imagev1.ImageStream, name string) error {
	if meta.ResourceVersion == "" && meta.UID == "" {
		return nil
	}
	if stream == nil {
		return apierrors.NewNotFound(streamResource, name)
	}
	if meta.ResourceVersion != "" && meta.ResourceVersion != stream.ResourceVersion {
		return apierrors.NewConflict(streamResource, name, fmt.Errorf("the image stream was updated from %q to %q", meta.ResourceVersion, stream.ResourceVersion))
	}
	if meta.UID != "" && meta.UID != stream.UID {
		return apierrors.NewConflict(streamResource, name, fmt.Errorf("the image stream was replaced: UID %q is now %q", meta.UID, stream.UID))
	}
	return nil
}

// createImages stores every image found (and the sub-manifests of a
// manifest list imported with PreserveOriginal). An Image that exists is
// fine: images are named by digest, so it is the same image.
func (r *REST) createImages(ctx context.Context, isi *imagev1.ImageStreamImport, dryRun []string) error {
	created := map[string]bool{}
	create := func(img *imagev1.Image) error {
		if img == nil || img.Name == "" || created[img.Name] {
			return nil
		}
		created[img.Name] = true
		stored := img.DeepCopy()
		stored.Namespace, stored.ResourceVersion, stored.UID = "", "", ""
		_, err := r.images.Create(genericapirequest.WithNamespace(ctx, ""), stored, rest.ValidateAllObjectFunc, &metav1.CreateOptions{DryRun: dryRun})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("storing image %s: %w", img.Name, err)
		}
		return nil
	}
	var statuses []imagev1.ImageImportStatus
	statuses = append(statuses, isi.Status.Images...)
	if isi.Status.Repository != nil {
		statuses = append(statuses, isi.Status.Repository.Images...)
	}
	for i := range statuses {
		if statuses[i].Status.Status != metav1.StatusSuccess {
			continue
		}
		for j := range statuses[i].Manifests {
			if err := create(&statuses[i].Manifests[j]); err != nil {
				return err
			}
		}
		if err := create(statuses[i].Image); err != nil {
			return err
		}
	}
	return nil
}

// writeStream records imports in the stream and writes it when anything
// changed (or it was never checked), creating it when missing. On a
// conflict with another writer the results are recorded again on a fresh
// read, unless the request pinned a resourceVersion.
func (r *REST) writeStream(ctx context.Context, isi *imagev1.ImageStreamImport, preconditions metav1.ObjectMeta, stream *imagev1.ImageStream, imports []tagImport, dryRun []string) (*imagev1.ImageStream, error) {
	release, attempts, err := r.streams.Turn(ctx, isi.Name)
	if err != nil {
		return nil, err
	}
	defer release()
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			var err error
			if stream, err = imagestream.GetStream(ctx, r.streams, isi.Name); err != nil {
				return nil, err
			}
			if err := checkPreconditions(preconditions, stream, isi.Name); err != nil {
				return nil, err
			}
		}
		now := r.now()
		var working *imagev1.ImageStream
		if stream == nil {
			working = &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: isi.Namespace, Name: isi.Name}}
		} else {
			working = stream.DeepCopy()
		}
		changed := recordImports(working, imports, working.Generation+1, now)
		_, checked := working.Annotations[imagev1.DockerImageRepositoryCheckAnnotation]
		if stream != nil && checked && !changed {
			return stream, nil
		}
		if working.Annotations == nil {
			working.Annotations = map[string]string{}
		}
		working.Annotations[imagev1.DockerImageRepositoryCheckAnnotation] = now.UTC().Format(time.RFC3339)

		written, err := imagestream.SaveStream(ctx, r.streams, working, dryRun)
		if imagestream.IsWriteConflict(err) && preconditions.ResourceVersion == "" && attempts.Again(ctx) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return written, nil
	}
}

// clearManifests drops the raw manifest and config of found images unless
// the request asked for them (includeManifest).
func clearManifests(isi *imagev1.ImageStreamImport) {
	clear := func(img *imagev1.Image) {
		if img != nil {
			img.DockerImageManifest = ""
			img.DockerImageConfig = ""
		}
	}
	for i := range isi.Status.Images {
		if i < len(isi.Spec.Images) && isi.Spec.Images[i].IncludeManifest {
			continue
		}
		clear(isi.Status.Images[i].Image)
		for j := range isi.Status.Images[i].Manifests {
			clear(&isi.Status.Images[i].Manifests[j])
		}
	}
	if isi.Spec.Repository != nil && !isi.Spec.Repository.IncludeManifest && isi.Status.Repository != nil {
		for i := range isi.Status.Repository.Images {
			clear(isi.Status.Repository.Images[i].Image)
			for j := range isi.Status.Repository.Images[i].Manifests {
				clear(&isi.Status.Repository.Images[i].Manifests[j])
			}
		}
	}
}

// failureStatus describes err as a failed import: its reason from the
// registry client (Unauthorized, NotFound, ...) and the matching HTTP code.
func failureStatus(err error) metav1.Status {
	reason := image.ReasonOf(err)
	if reason == "" {
		reason = metav1.StatusReasonInternalError
	}
	code := int32(http.StatusInternalServerError)
	switch reason {
	case metav1.StatusReasonUnauthorized:
		code = http.StatusUnauthorized
	case metav1.StatusReasonForbidden:
		code = http.StatusForbidden
	case metav1.StatusReasonNotFound:
		code = http.StatusNotFound
	case metav1.StatusReasonTooManyRequests:
		code = http.StatusTooManyRequests
	case metav1.StatusReasonBadRequest, metav1.StatusReasonInvalid:
		code = http.StatusBadRequest
	case metav1.StatusReasonTimeout:
		code = http.StatusGatewayTimeout
	}
	return metav1.Status{Status: metav1.StatusFailure, Reason: reason, Code: code, Message: err.Error()}
}

var errNoImage = errors.New("the registry client returned no image")
