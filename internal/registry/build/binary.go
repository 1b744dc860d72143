package buildregistry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"time"

	buildv1 "github.com/openshift/api/build/v1"
	buildclient "github.com/openshift/client-go/build/clientset/versioned/typed/build/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	coreclient "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/util/retry"

	"github.com/slipway-dev/slipway/internal/buildgenerator"
	"github.com/slipway-dev/slipway/internal/podlogs"
	"github.com/slipway-dev/slipway/internal/registry/build/build"
	"github.com/slipway-dev/slipway/internal/serialwrite"
)

// binaryContainer is the build pod's container that reads the binary
// input on its stdin (the build controller's docker-build container).
const binaryContainer = "docker-build"

// binaryTimeout bounds the whole wait for the build's pod to run, as
// openshift-apiserver's instantiatebinary does.
const binaryTimeout = 5 * time.Minute

// InstantiateBinaryREST serves POST buildconfigs/<name>/instantiatebinary:
// it starts a build with binary input, waits for its pod to run and
// streams the request body into the pod's stdin, then answers the Build.
type InstantiateBinaryREST struct {
	generator *buildgenerator.Generator
	builds    buildclient.BuildsGetter
	pods      coreclient.PodsGetter
	dir       podlogs.Dir
	timeout   time.Duration
	// maxSize bounds the request body (the server's
	// --max-binary-build-size); zero or less is no bound.
	maxSize int64
}

// DefaultMaxBinarySize is the default bound of a binary build's input:
// OpenShift has none, but an unbounded upload is disk and time a single
// request may take from the node.
const DefaultMaxBinarySize = 1 << 30

// tooLarge is the 413 answered for input over the bound.
func (r *InstantiateBinaryREST) tooLarge(namespace, name, what string) error {
	return apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("the binary input of buildconfig %s/%s is larger than the limit of %s bytes (%s, the server's --max-binary-build-size)%s",
		namespace, name, strconv.FormatInt(r.maxSize, 10), resource.NewQuantity(r.maxSize, resource.BinarySI).String(), what))
}

var _ rest.Connecter = &InstantiateBinaryREST{}

// New returns a Build, what the call answers.
func (*InstantiateBinaryREST) New() runtime.Object { return &buildv1.Build{} }

// Destroy does nothing.
func (*InstantiateBinaryREST) Destroy() {}

// ConnectMethods is POST only.
func (*InstantiateBinaryREST) ConnectMethods() []string { return []string{http.MethodPost} }

// NewConnectOptions decodes nothing: the handler reads the query
// (asFile, revision.*) itself, as BinaryBuildRequestOptions names it.
func (*InstantiateBinaryREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.PodProxyOptions{}, false, ""
}

// Connect returns the handler of one binary build for BuildConfig name.
func (r *InstantiateBinaryREST) Connect(ctx context.Context, name string, _ runtime.Object, responder rest.Responder) (http.Handler, error) {
	namespace, ok := genericapirequest.NamespaceFrom(ctx)
	if !ok || namespace == "" {
		return nil, apierrors.NewBadRequest("a namespace is required")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, err := r.serve(req.Context(), namespace, name, req)
		if err != nil {
			responder.Error(err)
			return
		}
		responder.Object(http.StatusCreated, b)
	}), nil
}

func binaryRequest(name string, req *http.Request) *buildv1.BuildRequest {
	q := req.URL.Query()
	br := &buildv1.BuildRequest{
		ObjectMeta:  metav1.ObjectMeta{Name: name},
		Binary:      &buildv1.BinaryBuildSource{AsFile: q.Get("asFile")},
		TriggeredBy: []buildv1.BuildTriggerCause{{Message: buildgenerator.CauseManual}},
	}
	if commit := q.Get("revision.commit"); commit != "" {
		br.Revision = &buildv1.SourceRevision{
			Type: buildv1.BuildSourceGit,
			Git: &buildv1.GitSourceRevision{
				Commit:    commit,
				Message:   q.Get("revision.message"),
				Author:    buildv1.SourceControlUser{Name: q.Get("revision.authorName"), Email: q.Get("revision.authorEmail")},
				Committer: buildv1.SourceControlUser{Name: q.Get("revision.committerName"), Email: q.Get("revision.committerEmail")},
			},
		}
	}
	return br
}

func (r *InstantiateBinaryREST) serve(ctx context.Context, namespace, name string, req *http.Request) (*buildv1.Build, error) {
	defer req.Body.Close()
	if r.maxSize > 0 && req.ContentLength > r.maxSize {
		// Known to be too large before any build is made.
		return nil, r.tooLarge(namespace, name, "")
	}
	br := binaryRequest(name, req)
	br.Namespace = namespace
	deadline := time.Now().Add(r.timeout)
	b, err := r.generator.Instantiate(ctx, namespace, name, br)
	if err != nil {
		return nil, err
	}
	waitCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	running, err := r.waitRunning(waitCtx, b)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			r.cancel(context.WithoutCancel(ctx), namespace, b.Name)
			return nil, apierrors.NewTimeoutError(fmt.Sprintf("timed out waiting for build %s to start after %s", b.Name, r.timeout), 0)
		}
		return nil, err
	}
	fifo := r.dir.ContainerStdin(namespace, buildgenerator.PodName(b.Name), binaryContainer)
	f, err := openWriter(waitCtx, fifo, func() error {
		// The pod may end before it reads: then its FIFO is gone for good.
		current, err := r.builds.Builds(namespace).Get(waitCtx, b.Name, metav1.GetOptions{})
		if err != nil {
			return nil
		}
		if current.Status.Phase == buildv1.BuildPhaseRunning {
			return nil
		}
		_, err = r.checkBuild(waitCtx, current)
		return err
	})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			r.cancel(context.WithoutCancel(ctx), namespace, b.Name)
			return nil, apierrors.NewTimeoutError(fmt.Sprintf("timed out waiting for build %s to read its input", b.Name), 0)
		}
		if apierrors.IsBadRequest(err) {
			return nil, err
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("unable to stream the build input to build %s: %v", b.Name, err))
	}
	var copyErr error
	if r.maxSize > 0 {
		// At most maxSize bytes reach the build; one more byte in the
		// request means it is too large.
		_, copyErr = io.CopyN(f, req.Body, r.maxSize)
		if copyErr == nil {
			if n, _ := io.ReadFull(req.Body, make([]byte, 1)); n > 0 {
				// The builder must never take the truncated input for the
				// whole: the build is cancelled while its stdin is still
				// open, and the FIFO closed only once it has ended.
				r.cancel(context.WithoutCancel(ctx), namespace, b.Name)
				r.waitEnded(context.WithoutCancel(ctx), namespace, b.Name, 30*time.Second)
				f.Close()
				return nil, r.tooLarge(namespace, name, fmt.Sprintf("; build %s was cancelled", b.Name))
			}
		} else if errors.Is(copyErr, io.EOF) {
			copyErr = nil
		}
	} else {
		_, copyErr = io.Copy(f, req.Body)
	}
	closeErr := f.Close()
	if err := errors.Join(copyErr, closeErr); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("unable to stream the build input to build %s: %v", b.Name, err))
	}
	return running, nil
}

// waitRunning watches the build until it runs (its pod then runs and
// reads stdin); a build that ends first is a bad request with its message.
func (r *InstantiateBinaryREST) waitRunning(ctx context.Context, b *buildv1.Build) (*buildv1.Build, error) {
	builds := r.builds.Builds(b.Namespace)
	selector := fields.OneTermEqualSelector("metadata.name", b.Name).String()
	for {
		current, err := builds.Get(ctx, b.Name, metav1.GetOptions{})
		if err != nil {
			return nil, ctxErr(ctx, err)
		}
		if done, err := r.checkBuild(ctx, current); done || err != nil {
			return current, err
		}
		w, err := builds.Watch(ctx, metav1.ListOptions{FieldSelector: selector, ResourceVersion: current.ResourceVersion})
		if err != nil {
			return nil, ctxErr(ctx, err)
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Deleted {
				w.Stop()
				return nil, apierrors.NewBadRequest(fmt.Sprintf("build %s was deleted before it started", b.Name))
			}
			nb, ok := ev.Object.(*buildv1.Build)
			if !ok {
				continue
			}
			if done, err := r.checkBuild(ctx, nb); done || err != nil {
				w.Stop()
				return nb, err
			}
		}
		w.Stop()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// checkBuild reports whether b's pod runs (done), or the error of a build
// that ended before it could.
func (r *InstantiateBinaryREST) checkBuild(ctx context.Context, b *buildv1.Build) (bool, error) {
	switch b.Status.Phase {
	case buildv1.BuildPhaseError, buildv1.BuildPhaseFailed, buildv1.BuildPhaseCancelled, buildv1.BuildPhaseComplete:
		msg := b.Status.Message
		if msg == "" {
			msg = string(b.Status.Reason)
		}
		return true, apierrors.NewBadRequest(fmt.Sprintf("build %s/%s did not start: %s (%s)", b.Namespace, b.Name, msg, b.Status.Phase))
	case buildv1.BuildPhaseRunning:
		return true, nil
	}
	// The controller marks the build Running once its pod runs; look at
	// the pod too, in case the build's status lags.
	pod, err := r.pods.Pods(b.Namespace).Get(ctx, buildgenerator.PodName(b.Name), metav1.GetOptions{})
	if err == nil && pod.Status.Phase == corev1.PodRunning {
		return true, nil
	}
	return false, nil
}

// openWriter opens the FIFO for writing once its reader (the node agent
// feeding the container) is there.
// ended, asked between attempts, answers the error of a build that ended.
func openWriter(ctx context.Context, path string, ended func() error) (*os.File, error) {
	for {
		f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.ENXIO) && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if err := ended(); err != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitEnded waits, for at most timeout, until build name has ended (the
// controller stopped its pod).
func (r *InstantiateBinaryREST) waitEnded(ctx context.Context, namespace, name string, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		b, err := r.builds.Builds(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return
		}
		if build.IsTerminal(b.Status.Phase) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// cancel marks the build cancelled, as cancel-build does.
func (r *InstantiateBinaryREST) cancel(ctx context.Context, namespace, name string) {
	_ = retry.RetryOnConflict(serialwrite.Backoff, func() error {
		b, err := r.builds.Builds(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil || b.Status.Cancelled {
			return err
		}
		b.Status.Cancelled = true
		_, err = r.builds.Builds(namespace).Update(ctx, b, metav1.UpdateOptions{})
		return err
	})
}
