package pod

import (
	"context"
	"fmt"
	"net/url"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/podlogs"
	"github.com/slipway-dev/slipway/internal/scheme"
)

func init() {
	// The endpoint decodes ?container=&follow=... into PodLogOptions through
	// the parameter codec, which needs this conversion registered.
	podlogs.RegisterQueryConversion(scheme.Scheme, PodLogOptionsFromQuery)
}

// PodLogOptionsFromQuery fills opts from a pods/log query string.
func PodLogOptionsFromQuery(values url.Values, opts *corev1.PodLogOptions) error {
	q := podlogs.Query{Values: values}
	opts.Container = q.String("container")
	opts.Follow = q.Bool("follow")
	opts.Previous = q.Bool("previous")
	opts.Timestamps = q.Bool("timestamps")
	opts.InsecureSkipTLSVerifyBackend = q.Bool("insecureSkipTLSVerifyBackend")
	opts.SinceSeconds = q.Int("sinceSeconds")
	opts.TailLines = q.Int("tailLines")
	opts.LimitBytes = q.Int("limitBytes")
	if s := q.String("stream"); s != "" {
		opts.Stream = &s
	}
	return q.Err()
}

// LogREST serves pods/log from the container log files the node agent
// writes (package podlogs). timestamps, previous and sinceSeconds are
// accepted and ignored: the files keep no timestamps and no earlier runs.
type LogREST struct {
	podlogs.PlainText
	pods rest.Getter
	logs podlogs.Dir
	ok   bool
}

var (
	_ rest.GetterWithOptions = &LogREST{}
	_ rest.StorageMetadata   = &LogREST{}
)

// NewLogREST returns pods/log reading pods from pods and logs from the
// directory optsGetter carries (podlogs.WithDir); without one every request
// fails with a clear error.
func NewLogREST(pods rest.Getter, optsGetter generic.RESTOptionsGetter) *LogREST {
	dir, ok := podlogs.DirOf(optsGetter)
	return &LogREST{pods: pods, logs: dir, ok: ok}
}

// New returns the pod, the subresource's parent kind.
func (r *LogREST) New() runtime.Object { return &corev1.Pod{} }

// NewGetOptions returns an empty PodLogOptions for the query to decode into.
func (r *LogREST) NewGetOptions() (runtime.Object, bool, string) {
	return &corev1.PodLogOptions{}, false, ""
}

// Get returns a stream of the container's log.
func (r *LogREST) Get(ctx context.Context, name string, options runtime.Object) (runtime.Object, error) {
	opts, ok := options.(*corev1.PodLogOptions)
	if !ok {
		return nil, fmt.Errorf("invalid options object: %#v", options)
	}
	if errs := validateLogOptions(opts); len(errs) > 0 {
		return nil, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("PodLogOptions").GroupKind(), name, errs)
	}
	obj, err := r.pods.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	pod := obj.(*corev1.Pod)
	container, err := ContainerForLog(pod, opts.Container)
	if err != nil {
		return nil, err
	}
	if !r.ok {
		return nil, apierrors.NewServiceUnavailable("pod logs are not available: this server has no node data directory")
	}
	return LogStream(r.pods, r.logs, pod, container, podlogs.Options{
		Follow:     opts.Follow,
		TailLines:  opts.TailLines,
		LimitBytes: opts.LimitBytes,
	}), nil
}

// LogStream returns the stream of container's log in pod. A follower ends
// once the container or the pod has terminated (read through pods) and the
// file is drained; a missing log without follow is a 400 as in Kubernetes.
func LogStream(pods rest.Getter, logs podlogs.Dir, pod *corev1.Pod, container string, opts podlogs.Options) *podlogs.Stream {
	path := logs.ContainerLog(pod.Namespace, pod.Name, container)
	done := podlogs.DoneWhen(pods, pod.Namespace, pod.Name, func(obj runtime.Object) bool {
		return ContainerFinished(obj.(*corev1.Pod), pod.UID, container)
	})
	notStarted := apierrors.NewBadRequest(fmt.Sprintf("container %q in pod %q is waiting to start: ContainerCreating", container, pod.Name))
	return podlogs.FileStream(path, opts, done, notStarted)
}

// ContainerFinished reports whether container will write no more log: the
// pod was replaced (another UID), is terminal, or the container terminated.
func ContainerFinished(pod *corev1.Pod, uid types.UID, container string) bool {
	if pod.UID != uid || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return true
	}
	for _, statuses := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, s := range statuses {
			if s.Name == container && s.State.Terminated != nil {
				return true
			}
		}
	}
	return false
}

// ContainerForLog returns the container whose log is asked for: the named
// one, or the only container when none is named, with Kubernetes' errors.
func ContainerForLog(pod *corev1.Pod, name string) (string, error) {
	var names []string
	for _, c := range pod.Spec.InitContainers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	if name == "" {
		if len(pod.Spec.Containers) == 1 {
			return pod.Spec.Containers[0].Name, nil
		}
		var main []string
		for _, c := range pod.Spec.Containers {
			main = append(main, c.Name)
		}
		return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v", pod.Name, main))
	}
	for _, n := range names {
		if n == name {
			return name, nil
		}
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
}

func validateLogOptions(opts *corev1.PodLogOptions) field.ErrorList {
	errs := podlogs.ValidateLimits(opts.TailLines, opts.LimitBytes)
	if opts.SinceSeconds != nil && *opts.SinceSeconds < 1 {
		errs = append(errs, field.Invalid(field.NewPath("sinceSeconds"), *opts.SinceSeconds, "must be greater than 0"))
	}
	return errs
}
