// Package imagelookup is the admission behind ImageStream
// spec.lookupPolicy.local: on create and update of DeploymentConfigs (an
// admission plugin of the OpenShift API server) and of Kubernetes'
// pod-making kinds (a mutating webhook it serves) it rewrites container images
// that are short names of image streams in the same namespace ("myapp",
// "myapp:tag") to the pull spec the stream's tag resolves to, as
// OpenShift's image policy admission does.
package imagelookup

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	appsv1 "github.com/openshift/api/apps/v1"
	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned/typed/image/v1"
	kappsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/client-go/rest"

	"github.com/slipway-dev/slipway/internal/buildgenerator"
)

// PluginName is the name the plugin reports in admission metrics.
const PluginName = "image.openshift.io/ImageLookup"

// ResolveNamesAnnotation on an object or its pod template set to "*" makes
// every short name resolve against the namespace's image streams, whether
// or not their lookupPolicy.local is set (what `oc set image-lookup` writes
// on workloads).
const ResolveNamesAnnotation = "alpha.image.policy.openshift.io/resolve-names"

// StreamGetter reads the image stream namespace/name. It returns an error
// for which apierrors.IsNotFound is true when there is no such stream.
type StreamGetter func(ctx context.Context, namespace, name string) (*imagev1.ImageStream, error)

// Plugin is the mutating admission plugin that resolves short image names.
type Plugin struct {
	*admission.Handler
	streams StreamGetter
}

var _ admission.MutationInterface = &Plugin{}

// New returns the plugin reading image streams through streams.
func New(streams StreamGetter) *Plugin {
	return &Plugin{Handler: admission.NewHandler(admission.Create, admission.Update), streams: streams}
}

// NewForConfig returns the plugin reading image streams through the API
// server at cfg (in the server: its privileged loopback configuration). It
// reads them at admission time rather than from an informer so that a pod
// created right after its stream's tag moved sees the new image.
func NewForConfig(cfg *rest.Config) (*Plugin, error) {
	client, err := imageclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("image lookup admission: %w", err)
	}
	return New(func(ctx context.Context, namespace, name string) (*imagev1.ImageStream, error) {
		return client.ImageStreams(namespace).Get(ctx, name, metav1.GetOptions{})
	}), nil
}

// Admit rewrites the short image names of a Pod, ReplicationController or
// DeploymentConfig being created or updated. It never refuses a request:
// names it cannot resolve, or streams it cannot read, leave the image as
// it is (the pull then fails as it would on OpenShift).
func (p *Plugin) Admit(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	// Subresources (status, scale, instantiate, rollback, ...) carry no
	// user-written images; the main resource was resolved when written.
	if a.GetSubresource() != "" || a.GetNamespace() == "" {
		return nil
	}
	r := &resolver{ctx: ctx, namespace: a.GetNamespace(), get: p.streams, streams: map[string]*imagev1.ImageStream{}}
	rewrite(a.GetObject(), r.resolve)
	return nil
}

// resolveFunc returns the pull spec that image, a container's image, should
// be replaced by, or "" to leave it. force is the resolve-names annotation:
// resolve even through streams without lookupPolicy.local.
type resolveFunc func(image string, force bool) string

// rewrite applies resolve to the containers of obj's pod spec.
func rewrite(obj runtime.Object, resolve resolveFunc) {
	if t, ok := podTemplateOf(obj); ok {
		rewriteSpec(t.spec, t.force, t.skip, resolve)
	}
}

// podTemplate is where an object keeps the pod spec whose images are
// resolved: the spec, its JSON pointer (for the webhook's patch), whether
// the object's or template's annotations force resolution, and the
// containers an image trigger owns.
type podTemplate struct {
	spec    *corev1.PodSpec
	pointer string
	force   bool
	skip    map[string]bool
}

// podTemplateOf finds obj's pod spec: Pods, ReplicationControllers and
// DeploymentConfigs (this API server's admission), and Kubernetes'
// workloads (the webhook).
func podTemplateOf(obj runtime.Object) (podTemplate, bool) {
	meta, ok := obj.(metav1.Object)
	if !ok {
		return podTemplate{}, false
	}
	force := forced(meta.GetAnnotations())
	template := func(t *corev1.PodTemplateSpec, pointer string) (podTemplate, bool) {
		if t == nil {
			return podTemplate{}, false
		}
		return podTemplate{spec: &t.Spec, pointer: pointer, force: force || forced(t.Annotations)}, true
	}
	const templateSpec = "/spec/template/spec"
	switch o := obj.(type) {
	case *corev1.Pod:
		return podTemplate{spec: &o.Spec, pointer: "/spec", force: force}, true
	case *corev1.ReplicationController:
		return template(o.Spec.Template, templateSpec)
	case *appsv1.DeploymentConfig:
		t, ok := template(o.Spec.Template, templateSpec)
		t.skip = triggeredContainers(o)
		return t, ok
	case *kappsv1.Deployment:
		return template(&o.Spec.Template, templateSpec)
	case *kappsv1.ReplicaSet:
		return template(&o.Spec.Template, templateSpec)
	case *kappsv1.StatefulSet:
		return template(&o.Spec.Template, templateSpec)
	case *kappsv1.DaemonSet:
		return template(&o.Spec.Template, templateSpec)
	case *batchv1.Job:
		return template(&o.Spec.Template, templateSpec)
	case *batchv1.CronJob:
		return template(&o.Spec.JobTemplate.Spec.Template, "/spec/jobTemplate/spec/template/spec")
	}
	return podTemplate{}, false
}

// forced reports whether annotations ask for every short name to resolve.
func forced(annotations map[string]string) bool {
	return annotations[ResolveNamesAnnotation] == "*"
}

// triggeredContainers names the containers whose image an ImageChange
// trigger of dc owns: the trigger controller writes those, so admission
// leaves them to it.
func triggeredContainers(dc *appsv1.DeploymentConfig) map[string]bool {
	names := map[string]bool{}
	for _, t := range dc.Spec.Triggers {
		if t.Type == appsv1.DeploymentTriggerOnImageChange && t.ImageChangeParams != nil {
			for _, n := range t.ImageChangeParams.ContainerNames {
				names[n] = true
			}
		}
	}
	return names
}

func rewriteSpec(spec *corev1.PodSpec, force bool, skip map[string]bool, resolve resolveFunc) {
	for _, containers := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range containers {
			c := &containers[i]
			if skip[c.Name] {
				continue
			}
			if image := resolve(c.Image, force); image != "" {
				c.Image = image
			}
		}
	}
}

// resolver resolves short names against one namespace's image streams,
// reading each stream once per request.
type resolver struct {
	ctx       context.Context
	namespace string
	get       StreamGetter
	streams   map[string]*imagev1.ImageStream // nil value: unreadable or absent
}

// resolve implements resolveFunc.
func (r *resolver) resolve(image string, force bool) string {
	stream, tag, ok := shortName(image)
	if !ok {
		return ""
	}
	is, seen := r.streams[stream]
	if !seen {
		var err error
		is, err = r.get(r.ctx, r.namespace, stream)
		if err != nil {
			if !apierrors.IsNotFound(err) {
				slog.Warn("image lookup: reading image stream, leaving the image as it is",
					"namespace", r.namespace, "imagestream", stream, "error", err)
			}
			is = nil
		}
		r.streams[stream] = is
	}
	if is == nil || !(force || is.Spec.LookupPolicy.Local) {
		return ""
	}
	return buildgenerator.LatestTaggedImage(is, tag)
}

// shortName splits image into the stream and tag it names when it is a
// name an image stream lookup applies to: "name" or "name:tag", with no
// registry host or repository path and no digest.
func shortName(image string) (stream, tag string, ok bool) {
	if image == "" || strings.ContainsAny(image, "/@ \t\r\n") {
		return "", "", false
	}
	stream, tag, err := buildgenerator.SplitImageStreamTag(image)
	if err != nil {
		return "", "", false
	}
	return stream, tag, true
}
