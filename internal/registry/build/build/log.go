package build

import (
	"context"
	"fmt"
	"net/url"
	"time"

	buildv1 "github.com/openshift/api/build/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/podlogs"
	"github.com/slipway-dev/slipway/internal/scheme"
)

func init() {
	// The endpoint decodes ?follow=&version=... into BuildLogOptions through
	// the parameter codec, which needs this conversion registered.
	podlogs.RegisterQueryConversion(scheme.Scheme, BuildLogOptionsFromQuery)
}

// BuildLogOptionsFromQuery fills opts from a builds/log query string.
func BuildLogOptionsFromQuery(values url.Values, opts *buildv1.BuildLogOptions) error {
	q := podlogs.Query{Values: values}
	opts.Container = q.String("container")
	opts.Follow = q.Bool("follow")
	opts.Previous = q.Bool("previous")
	opts.Timestamps = q.Bool("timestamps")
	opts.NoWait = q.Bool("nowait")
	opts.SinceSeconds = q.Int("sinceSeconds")
	opts.TailLines = q.Int("tailLines")
	opts.LimitBytes = q.Int("limitBytes")
	opts.Version = q.Int("version")
	return q.Err()
}

// StartWait is how long builds/log waits for a New or Pending build to
// start before answering, as OpenShift does, unless nowait is set.
const StartWait = 30 * time.Second

// buildStore is what the log needs of the builds storage.
type buildStore interface {
	rest.Getter
	rest.Watcher
}

// LogREST serves builds/log: the log of the build pod's build container,
// from the node agent's files (package podlogs).
type LogREST struct {
	podlogs.PlainText
	builds    buildStore
	logs      podlogs.Dir
	ok        bool
	startWait time.Duration
}

var (
	_ rest.GetterWithOptions = &LogREST{}
	_ rest.StorageMetadata   = &LogREST{}
)

// NewLogREST returns builds/log over the builds storage, reading logs from
// the directory optsGetter carries (podlogs.WithDir).
func NewLogREST(builds buildStore, optsGetter generic.RESTOptionsGetter) *LogREST {
	dir, ok := podlogs.DirOf(optsGetter)
	return &LogREST{builds: builds, logs: dir, ok: ok, startWait: StartWait}
}

// New returns the build, the subresource's parent kind.
func (r *LogREST) New() runtime.Object { return &buildv1.Build{} }

// NewGetOptions returns an empty BuildLogOptions for the query to decode into.
func (r *LogREST) NewGetOptions() (runtime.Object, bool, string) {
	return &buildv1.BuildLogOptions{}, false, ""
}

// Get returns a stream of the build's log. version=N reads build <bc>-N of
// the same BuildConfig instead. A New or Pending build is waited for up to
// StartWait unless nowait is set, in which case the answer is empty.
func (r *LogREST) Get(ctx context.Context, name string, options runtime.Object) (runtime.Object, error) {
	opts, ok := options.(*buildv1.BuildLogOptions)
	if !ok {
		return nil, fmt.Errorf("invalid options object: %#v", options)
	}
	if errs := validateLogOptions(opts); len(errs) > 0 {
		return nil, apierrors.NewInvalid(buildv1.GroupVersion.WithKind("BuildLogOptions").GroupKind(), name, errs)
	}
	b, err := r.getBuild(ctx, name)
	if err != nil {
		return nil, err
	}
	if opts.Version != nil {
		config := buildConfigName(b)
		if config == "" {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("build %s does not belong to a build config, so it has no version %d", name, *opts.Version))
		}
		if b, err = r.getBuild(ctx, fmt.Sprintf("%s-%d", config, *opts.Version)); err != nil {
			return nil, err
		}
	}
	if !r.ok {
		return nil, apierrors.NewServiceUnavailable("build logs are not available: this server has no node data directory")
	}
	if waiting(b) {
		if opts.NoWait {
			return podlogs.EmptyStream(), nil
		}
		if b, err = r.waitForStart(ctx, b); err != nil {
			return nil, err
		}
	}
	container := opts.Container
	if container == "" {
		container = BuildContainerName(b)
	}
	pod := BuildPodName(b)
	path := r.logs.ContainerLog(b.Namespace, pod, container)
	logOpts := podlogs.Options{Follow: opts.Follow, TailLines: opts.TailLines, LimitBytes: opts.LimitBytes}
	done := podlogs.DoneWhen(r.builds, b.Namespace, b.Name, func(obj runtime.Object) bool {
		current := obj.(*buildv1.Build)
		return current.UID != b.UID || terminal(current.Status.Phase)
	})
	notStarted := apierrors.NewBadRequest(fmt.Sprintf("no logs for build %s: pod %s has not written any (build phase %s)", b.Name, pod, b.Status.Phase))
	return podlogs.FileStream(path, logOpts, done, notStarted), nil
}

func (r *LogREST) getBuild(ctx context.Context, name string) (*buildv1.Build, error) {
	obj, err := r.builds.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return obj.(*buildv1.Build), nil
}

// waitForStart watches b until it leaves New/Pending, for at most startWait.
func (r *LogREST) waitForStart(ctx context.Context, b *buildv1.Build) (*buildv1.Build, error) {
	ctx, cancel := context.WithTimeout(ctx, r.startWait)
	defer cancel()
	w, err := r.builds.Watch(ctx, &metainternalversion.ListOptions{
		FieldSelector:   fields.OneTermEqualSelector("metadata.name", b.Name),
		ResourceVersion: b.ResourceVersion,
	})
	if err != nil {
		return nil, fmt.Errorf("watching build %s: %w", b.Name, err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, apierrors.NewTimeoutError(fmt.Sprintf("timed out waiting for build %s to start after %s", b.Name, r.startWait), 1)
		case ev, open := <-w.ResultChan():
			if !open {
				return nil, apierrors.NewTimeoutError(fmt.Sprintf("watch of build %s ended before it started", b.Name), 1)
			}
			switch ev.Type {
			case watch.Deleted:
				return nil, apierrors.NewNotFound(buildv1.Resource("builds"), b.Name)
			case watch.Added, watch.Modified:
				// The watch cache wraps objects it serves to several
				// watchers (cacher.cachingObject).
				obj := ev.Object
				if cached, ok := obj.(runtime.CacheableObject); ok {
					obj = cached.GetObject()
				}
				if current, ok := obj.(*buildv1.Build); ok && !waiting(current) {
					return current, nil
				}
			}
		}
	}
}

// BuildPodName is the pod a build runs in: the build controller's
// annotation, else the default <build>-build.
func BuildPodName(b *buildv1.Build) string {
	if name := b.Annotations[buildv1.BuildPodNameAnnotation]; name != "" {
		return name
	}
	return b.Name + "-build"
}

// BuildContainerName is the build pod's main container for b's strategy.
func BuildContainerName(b *buildv1.Build) string {
	switch {
	case b.Spec.Strategy.SourceStrategy != nil:
		return "sti-build"
	case b.Spec.Strategy.CustomStrategy != nil:
		return "custom-build"
	default:
		return "docker-build"
	}
}

func buildConfigName(b *buildv1.Build) string {
	if name := b.Annotations[buildv1.BuildConfigAnnotation]; name != "" {
		return name
	}
	if b.Status.Config != nil {
		return b.Status.Config.Name
	}
	return b.Labels[buildv1.BuildConfigLabel]
}

func waiting(b *buildv1.Build) bool {
	return b.Status.Phase == buildv1.BuildPhaseNew || b.Status.Phase == buildv1.BuildPhasePending || b.Status.Phase == ""
}

func terminal(phase buildv1.BuildPhase) bool {
	switch phase {
	case buildv1.BuildPhaseComplete, buildv1.BuildPhaseFailed, buildv1.BuildPhaseError, buildv1.BuildPhaseCancelled:
		return true
	}
	return false
}

func validateLogOptions(opts *buildv1.BuildLogOptions) field.ErrorList {
	errs := podlogs.ValidateLimits(opts.TailLines, opts.LimitBytes)
	if opts.Version != nil && *opts.Version < 1 {
		errs = append(errs, field.Invalid(field.NewPath("version"), *opts.Version, "must be greater than 0"))
	}
	return errs
}
