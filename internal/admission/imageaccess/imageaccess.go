// Package imageaccess is an admission plugin of the OpenShift API server:
// a BuildConfig, Build or DeploymentConfig that names an image stream of
// another namespace (a build's from or source images, an image change
// trigger) needs its requester to be allowed to read that stream's layers
// there, as OpenShift checks imagestreams/layers. Otherwise a project
// could learn, and have its builds and rollouts follow, another project's
// images.
package imageaccess

import (
	"context"
	"errors"
	"fmt"
	"strings"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// Plugin checks cross-namespace image stream references.
type Plugin struct {
	*admission.Handler
	authz authorizer.Authorizer
}

var _ admission.ValidationInterface = &Plugin{}

// New returns the plugin deciding with authz (the server's delegated
// authorizer).
func New(authz authorizer.Authorizer) *Plugin {
	return &Plugin{Handler: admission.NewHandler(admission.Create, admission.Update), authz: authz}
}

// stream is an image stream another object names.
type stream struct{ namespace, name string }

// Validate refuses a create or update that adds a reference to an image
// stream of another namespace its requester may not read.
func (p *Plugin) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetSubresource() != "" {
		return nil
	}
	refs := references(a.GetObject(), a.GetNamespace())
	if len(refs) == 0 {
		return nil
	}
	known := map[stream]bool{}
	if old := a.GetOldObject(); old != nil {
		// What was there already was checked when it came.
		for _, r := range references(old, a.GetNamespace()) {
			known[r] = true
		}
	}
	for _, r := range refs {
		if known[r] {
			continue
		}
		known[r] = true
		if err := MayRead(ctx, p.authz, a.GetUserInfo(), r.namespace, r.name); err != nil {
			return apierrors.NewForbidden(a.GetResource().GroupResource(), a.GetName(), fmt.Errorf("%w, which this %s names", err, a.GetKind().Kind))
		}
	}
	return nil
}

// MayRead checks that user may read image stream namespace/name's layers
// (get imagestreams/layers there), as OpenShift's tag verifier asks
// before anything copies from or follows that stream.
func MayRead(ctx context.Context, authz authorizer.Authorizer, user user.Info, namespace, name string) error {
	decision, reason, err := authz.Authorize(ctx, authorizer.AttributesRecord{
		User: user, Verb: "get", Namespace: namespace, APIGroup: imagev1.GroupName,
		Resource: "imagestreams", Subresource: "layers", Name: name, ResourceRequest: true,
	})
	if decision == authorizer.DecisionAllow {
		return nil
	}
	msg := fmt.Sprintf("%s may not read image stream %s/%s (get imagestreams/layers)", user.GetName(), namespace, name)
	if reason != "" {
		msg += ": " + reason
	}
	if err != nil {
		msg += fmt.Sprintf(" (%v)", err)
	}
	return errors.New(msg)
}

// references are the image streams of namespaces other than ns that obj
// names.
func references(obj any, ns string) []stream {
	var refs []*corev1.ObjectReference
	switch o := obj.(type) {
	case *buildv1.BuildConfig:
		refs = buildReferences(&o.Spec.CommonSpec)
		for _, t := range o.Spec.Triggers {
			if t.ImageChange != nil {
				refs = append(refs, t.ImageChange.From)
			}
		}
	case *buildv1.Build:
		refs = buildReferences(&o.Spec.CommonSpec)
	case *appsv1.DeploymentConfig:
		for _, t := range o.Spec.Triggers {
			if t.ImageChangeParams != nil {
				refs = append(refs, &t.ImageChangeParams.From)
			}
		}
	}
	var out []stream
	for _, r := range refs {
		if r == nil || r.Namespace == "" || r.Namespace == ns {
			continue
		}
		var name string
		switch r.Kind {
		case "ImageStreamTag":
			name, _, _ = strings.Cut(r.Name, ":")
		case "ImageStreamImage":
			name, _, _ = strings.Cut(r.Name, "@")
		case "ImageStream":
			name = r.Name
		default:
			continue
		}
		out = append(out, stream{namespace: r.Namespace, name: name})
	}
	return out
}

// buildReferences are a build's strategy image and source images.
func buildReferences(spec *buildv1.CommonSpec) []*corev1.ObjectReference {
	var refs []*corev1.ObjectReference
	s := &spec.Strategy
	switch {
	case s.DockerStrategy != nil:
		refs = append(refs, s.DockerStrategy.From)
	case s.SourceStrategy != nil:
		refs = append(refs, &s.SourceStrategy.From)
	case s.CustomStrategy != nil:
		refs = append(refs, &s.CustomStrategy.From)
	}
	for i := range spec.Source.Images {
		refs = append(refs, &spec.Source.Images[i].From)
	}
	return refs
}
