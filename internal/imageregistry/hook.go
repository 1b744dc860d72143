package imageregistry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	repositorymiddleware "github.com/distribution/distribution/v3/registry/middleware/repository"
	"github.com/opencontainers/go-digest"
	imagev1 "github.com/openshift/api/image/v1"
	imagev1client "github.com/openshift/client-go/image/clientset/versioned/typed/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/registry/image/imagestreammapping"
)

// hookMiddleware is the name the image stream hook is registered under in
// distribution's repository middleware registry (a process-wide table, so
// it is registered once; each Registry passes its own hook in the options).
const hookMiddleware = "slipway-imagestream-hook"

// hookOption is the middleware option key that carries the *imageStreamHook.
const hookOption = "hook"

// maxConfigSize bounds the image config blob read for the Image metadata.
const maxConfigSize = 8 << 20

func init() {
	if err := repositorymiddleware.Register(hookMiddleware, func(ctx context.Context, repo distribution.Repository, options map[string]any) (distribution.Repository, error) {
		hook, ok := options[hookOption].(*imageStreamHook)
		if !ok {
			return nil, fmt.Errorf("%s: option %q is %T, not the hook", hookMiddleware, hookOption, options[hookOption])
		}
		return &hookedRepository{Repository: repo, hook: hook}, nil
	}); err != nil {
		panic(err)
	}
}

// imageStreamHook records pushed manifests in the API: by tag as an
// ImageStreamMapping (the Image, and the tag event in the stream), by
// digest as an Image only.
type imageStreamHook struct {
	images   imagev1client.ImageV1Interface
	hostname string
	log      *slog.Logger
}

// hookedRepository is a repository whose manifest service runs the hook.
type hookedRepository struct {
	distribution.Repository
	hook *imageStreamHook
}

// Manifests wraps the repository's manifest service.
func (r *hookedRepository) Manifests(ctx context.Context, options ...distribution.ManifestServiceOption) (distribution.ManifestService, error) {
	ms, err := r.Repository.Manifests(ctx, options...)
	if err != nil {
		return nil, err
	}
	return &hookedManifests{ManifestService: ms, repo: r}, nil
}

// hookedManifests runs the hook after a manifest is stored and before the
// registry tags it and answers the client, so a push whose image could not
// be recorded fails.
type hookedManifests struct {
	distribution.ManifestService
	repo *hookedRepository
}

// Put stores the manifest, then records it in the API.
func (m *hookedManifests) Put(ctx context.Context, manifest distribution.Manifest, options ...distribution.ManifestServiceOption) (digest.Digest, error) {
	dgst, err := m.ManifestService.Put(ctx, manifest, options...)
	if err != nil {
		return dgst, err
	}
	tag := ""
	for _, option := range options {
		if t, ok := option.(distribution.WithTagOption); ok {
			tag = t.Tag
		}
	}
	if err := m.repo.hook.record(ctx, m.repo, manifest, dgst, tag); err != nil {
		return "", err
	}
	return dgst, nil
}

// record creates the ImageStreamMapping (tag set) or the Image (push by
// digest) for a stored manifest. Its errors are registry errors the client
// shows.
func (h *imageStreamHook) record(ctx context.Context, repo distribution.Repository, manifest distribution.Manifest, dgst digest.Digest, tag string) error {
	name := repo.Named().Name()
	namespace, stream, ok := SplitRepository(name)
	if !ok {
		return errcode.ErrorCodeDenied.WithMessage(fmt.Sprintf("repository name %q must be <namespace>/<imagestream>", name))
	}
	image, err := h.newImage(ctx, repo, manifest, dgst, namespace, stream)
	if err != nil {
		return errcode.ErrorCodeManifestInvalid.WithMessage(err.Error())
	}
	if tag == "" {
		prepared, err := imagestreammapping.PrepareImage(image)
		if err != nil {
			return errcode.ErrorCodeManifestInvalid.WithMessage(err.Error())
		}
		_, err = h.images.Images().Create(ctx, prepared, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return apiError(fmt.Sprintf("recording image %s", dgst), err)
		}
		return nil
	}
	mapping := &imagev1.ImageStreamMapping{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: stream},
		Image:      *image,
		Tag:        tag,
	}
	if _, err := h.images.ImageStreamMappings(namespace).Create(ctx, mapping, metav1.CreateOptions{}); err != nil {
		return apiError(fmt.Sprintf("updating image stream %s/%s tag %s", namespace, stream, tag), err)
	}
	h.log.Info("image pushed", "imagestream", namespace+"/"+stream, "tag", tag, "digest", dgst.String())
	return nil
}

// newImage builds the Image the registry reports: the raw manifest and
// config (the API server derives metadata and layers from them), a
// reference into this repository by digest, and OpenShift's annotations
// saying the registry manages it and keeps its blobs.
func (h *imageStreamHook) newImage(ctx context.Context, repo distribution.Repository, manifest distribution.Manifest, dgst digest.Digest, namespace, stream string) (*imagev1.Image, error) {
	mediaType, payload, err := manifest.Payload()
	if err != nil {
		return nil, fmt.Errorf("reading the manifest: %w", err)
	}
	image := &imagev1.Image{
		ObjectMeta: metav1.ObjectMeta{
			Name: dgst.String(),
			Annotations: map[string]string{
				imagev1.ManagedByOpenShiftAnnotation:      "true",
				imagev1.ImageManifestBlobStoredAnnotation: "true",
			},
		},
		DockerImageReference:         fmt.Sprintf("%s/%s/%s@%s", h.hostname, namespace, stream, dgst),
		DockerImageManifest:          string(payload),
		DockerImageManifestMediaType: mediaType,
	}
	var probe struct {
		Config *struct {
			Digest digest.Digest `json:"digest"`
		} `json:"config"`
	}
	if err := json.Unmarshal(payload, &probe); err != nil {
		return nil, fmt.Errorf("decoding the manifest: %w", err)
	}
	if probe.Config == nil || probe.Config.Digest == "" {
		return image, nil // a manifest list or index has no config
	}
	config, err := readBlob(ctx, repo.Blobs(ctx), probe.Config.Digest)
	if err != nil {
		return nil, fmt.Errorf("reading the image config %s: %w", probe.Config.Digest, err)
	}
	image.DockerImageConfig = string(config)
	return image, nil
}

func readBlob(ctx context.Context, blobs distribution.BlobStore, dgst digest.Digest) ([]byte, error) {
	desc, err := blobs.Stat(ctx, dgst)
	if err != nil {
		return nil, err
	}
	if desc.Size > maxConfigSize {
		return nil, fmt.Errorf("config blob is %d bytes, more than the %d allowed", desc.Size, maxConfigSize)
	}
	// Get reads the file in one go; Open's reader allocates a 4 MiB
	// buffer, whose page faults cost more than the read on a small VM.
	return blobs.Get(ctx, dgst)
}

// apiError turns an API failure into the registry error a client sees:
// refusals as DENIED, bad objects as MANIFEST_INVALID, the rest UNKNOWN,
// each with what failed and the API's message.
func apiError(what string, err error) error {
	message := what + ": " + err.Error()
	var status apierrors.APIStatus
	switch {
	case apierrors.IsForbidden(err), apierrors.IsNotFound(err), apierrors.IsUnauthorized(err):
		return errcode.ErrorCodeDenied.WithMessage(message)
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		return errcode.ErrorCodeManifestInvalid.WithMessage(message)
	case errors.As(err, &status):
		return errcode.ErrorCodeUnknown.WithMessage(message)
	default:
		return errcode.ErrorCodeUnavailable.WithMessage(message)
	}
}
