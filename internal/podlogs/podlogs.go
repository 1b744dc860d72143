// Package podlogs is where the node agent keeps each pod's files (container
// logs with the times and runs that date and divide them, volumes, the
// termination log) and how a container's log is read back, once or
// following it as it grows.
package podlogs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Dir is the node's data directory; pods live under Dir/pods.
type Dir string

// PodDir is the directory of one pod: <dir>/pods/<namespace>/<pod>.
func (d Dir) PodDir(namespace, pod string) string {
	return filepath.Join(string(d), "pods", namespace, pod)
}

// ContainerLog is the file a container's stdout and stderr go to:
// <dir>/pods/<namespace>/<pod>/<container>.log.
func (d Dir) ContainerLog(namespace, pod, container string) string {
	return filepath.Join(d.PodDir(namespace, pod), container+".log")
}

// ContainerStdin is the FIFO a container with stdin reads from:
// <dir>/pods/<namespace>/<pod>/<container>.stdin. Whoever opens it for
// writing (buildconfigs/instantiatebinary) feeds the container's stdin.
func (d Dir) ContainerStdin(namespace, pod, container string) string {
	return filepath.Join(d.PodDir(namespace, pod), container+".stdin")
}

// optionsGetter is a RESTOptionsGetter that also knows where pod logs are,
// so the group storage constructors (which only get a RESTOptionsGetter)
// can build the log subresources without a second parameter.
type optionsGetter struct {
	generic.RESTOptionsGetter
	dir Dir
}

// WithDir returns getter extended with the node data directory that the
// pods/log and builds/log storage read logs from. The server wraps its
// RESTOptionsGetter with it before building the group storage.
func WithDir(getter generic.RESTOptionsGetter, dir Dir) generic.RESTOptionsGetter {
	return optionsGetter{RESTOptionsGetter: getter, dir: dir}
}

// DirOf returns the directory WithDir attached to getter; ok is false when
// the getter carries none (the log subresources then answer an error).
func DirOf(getter generic.RESTOptionsGetter) (dir Dir, ok bool) {
	g, ok := getter.(optionsGetter)
	if !ok || g.dir == "" {
		return "", false
	}
	return g.dir, true
}

// GetRESTOptions implements generic.RESTOptionsGetter by delegating.
func (g optionsGetter) GetRESTOptions(resource schema.GroupResource, example runtime.Object) (generic.RESTOptions, error) {
	return g.RESTOptionsGetter.GetRESTOptions(resource, example)
}

// DoneFunc reports whether the writer of a log is finished for good (the
// pod is terminal or gone), so a follower that reached the end may stop.
type DoneFunc func(ctx context.Context) (bool, error)

// DoneWhen returns the DoneFunc of a log whose writer is the object name in
// namespace, read through getter: the log is done once the object is gone
// or finished says so of it.
func DoneWhen(getter rest.Getter, namespace, name string, finished func(runtime.Object) bool) DoneFunc {
	return func(ctx context.Context) (bool, error) {
		// The stream's context is the request's; name the namespace anyway
		// so that the lookup never depends on where the stream is read.
		ctx = genericapirequest.WithNamespace(ctx, namespace)
		obj, err := getter.Get(ctx, name, &metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		return finished(obj), nil
	}
}

// Stream is the object a log subresource's Get returns: the API server's
// endpoint sees a rest.ResourceStreamer and copies Open's reader to the
// response as text/plain, flushing each write when following.
type Stream struct {
	// Open opens the log with the request's context.
	Open func(ctx context.Context) (io.ReadCloser, error)
	// Flush sends every read to the client at once (for follow).
	Flush bool
}

var (
	_ runtime.Object        = &Stream{}
	_ rest.ResourceStreamer = &Stream{}
)

// GetObjectKind implements runtime.Object; a stream has no kind.
func (*Stream) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

// DeepCopyObject implements runtime.Object; a stream is never copied.
func (s *Stream) DeepCopyObject() runtime.Object { return s }

// InputStream implements rest.ResourceStreamer.
func (s *Stream) InputStream(ctx context.Context, _, _ string) (io.ReadCloser, bool, string, error) {
	r, err := s.Open(ctx)
	if err != nil {
		return nil, false, "", err
	}
	return r, s.Flush, "text/plain", nil
}

// FileStream is the stream of the log file at path; notStarted is the
// error answered when the file does not exist yet and opts do not follow.
func FileStream(path string, opts Options, done DoneFunc, notStarted error) *Stream {
	return &Stream{
		Flush: opts.Follow,
		Open: func(ctx context.Context) (io.ReadCloser, error) {
			r, err := Open(ctx, path, opts, done)
			if errors.Is(err, ErrNotStarted) {
				return nil, notStarted
			}
			return r, err
		},
	}
}

// EmptyStream is the stream of a log with nothing in it yet, answered to
// nowait requests for a log that has not started.
func EmptyStream() *Stream {
	return &Stream{Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("")), nil }}
}

// PlainText is embedded by log subresources: it says they answer text,
// and that they own no storage of their own.
type PlainText struct{}

// ProducesMIMETypes says logs are plain text.
func (PlainText) ProducesMIMETypes(string) []string { return []string{"text/plain"} }

// ProducesObject says the response is a string.
func (PlainText) ProducesObject(string) interface{} { return "" }

// Destroy does nothing: the parent resource's storage owns the store.
func (PlainText) Destroy() {}

// ValidateLimits checks the tailLines and limitBytes of a log request.
func ValidateLimits(tailLines, limitBytes *int64) field.ErrorList {
	var errs field.ErrorList
	if tailLines != nil && *tailLines < 0 {
		errs = append(errs, field.Invalid(field.NewPath("tailLines"), *tailLines, "must be greater than or equal to 0"))
	}
	if limitBytes != nil && *limitBytes < 1 {
		errs = append(errs, field.Invalid(field.NewPath("limitBytes"), *limitBytes, "must be greater than 0"))
	}
	return errs
}

// ContainerRuns is the file that records each start of a container:
// <dir>/pods/<namespace>/<pod>/<container>.runs, one line per start with
// the log's size then and the start time (RFC 3339). A restarted container
// appends to the same log; this says where each run's output begins.
func (d Dir) ContainerRuns(namespace, pod, container string) string {
	return filepath.Join(d.PodDir(namespace, pod), container+".runs")
}

// Run is one start of a container.
type Run struct {
	// Offset is where the run's output begins in the log file.
	Offset int64
	// Started is when it started.
	Started time.Time
}

// AppendRun records run in the runs file at path.
func AppendRun(path string, run Run) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%d %s\n", run.Offset, run.Started.UTC().Format(time.RFC3339Nano))
	return errors.Join(err, f.Close())
}

// ReadRuns returns the runs recorded in the file at path, oldest first; a
// missing file is no run.
func ReadRuns(path string) ([]Run, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var runs []Run
	for _, line := range strings.Split(string(b), "\n") {
		offset, started, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(offset, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: offset %q: %w", path, offset, err)
		}
		t, err := time.Parse(time.RFC3339Nano, started)
		if err != nil {
			return nil, fmt.Errorf("%s: time %q: %w", path, started, err)
		}
		runs = append(runs, Run{Offset: n, Started: t})
	}
	return runs, nil
}
