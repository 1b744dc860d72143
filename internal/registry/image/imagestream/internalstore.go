package imagestream

import (
	"context"
	"fmt"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/serialwrite"
)

// InternalStore is the image stream storage the virtual image resources
// (tags, mappings, imports) write streams through: Storage.Internal, which
// keeps the status it is given.
type InternalStore interface {
	rest.Getter
	rest.Creater
	rest.Updater
	// Turn waits until this server's other writes of stream name (in
	// ctx's namespace) through the store are done, and returns the
	// release of the turn and the write's attempts. A caller reads the
	// stream, changes it and saves it in its turn, so concurrent requests
	// do not conflict; a write that loses a race with a writer outside the
	// turns (IsWriteConflict) is recomputed on a fresh read while
	// attempts.Again says so.
	Turn(ctx context.Context, name string) (release func(), attempts *serialwrite.Retry, err error)
}

// InternalREST is the internal store: the image stream store with its
// own strategy, and turns per stream for its writers.
type InternalREST struct {
	*genericregistry.Store
	turns serialwrite.Turns
}

// Turn implements InternalStore.
func (s *InternalREST) Turn(ctx context.Context, name string) (func(), *serialwrite.Retry, error) {
	release, _, err := s.turns.Take(ctx, genericapirequest.NamespaceValue(ctx)+"/"+name)
	return release, serialwrite.NewRetry(), err
}

// IsWriteConflict reports whether err is a write that lost a race (a
// conflict, or a create of a stream someone else created first), which
// the writer recomputes on a fresh read.
func IsWriteConflict(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)
}

// GetStream reads the stream name from streams; a missing stream is nil,
// nil.
func GetStream(ctx context.Context, streams rest.Getter, name string) (*imagev1.ImageStream, error) {
	obj, err := streams.Get(ctx, name, &metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return AsStream(obj)
}

// SaveStream writes stream to streams and returns it as stored: a stream
// never stored (no resourceVersion) is created, any other is updated
// conditional on the resourceVersion it was read at.
func SaveStream(ctx context.Context, streams InternalStore, stream *imagev1.ImageStream, dryRun []string) (*imagev1.ImageStream, error) {
	var obj runtime.Object
	var err error
	if stream.ResourceVersion == "" {
		obj, err = streams.Create(ctx, stream, rest.ValidateAllObjectFunc, &metav1.CreateOptions{DryRun: dryRun})
	} else {
		obj, _, err = streams.Update(ctx, stream.Name, rest.DefaultUpdatedObjectInfo(stream), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{DryRun: dryRun})
	}
	if err != nil {
		return nil, err
	}
	return AsStream(obj)
}

// AsStream returns obj, from an image stream store, as an ImageStream or an
// error naming its type.
func AsStream(obj runtime.Object) (*imagev1.ImageStream, error) {
	stream, ok := obj.(*imagev1.ImageStream)
	if !ok {
		return nil, fmt.Errorf("expected an ImageStream, got %T", obj)
	}
	return stream, nil
}
