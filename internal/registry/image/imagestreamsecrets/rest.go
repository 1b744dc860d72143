// Package imagestreamsecrets serves image.openshift.io/v1
// imagestreams/<name>/secrets: the secrets of the stream's namespace an
// import may use to authenticate to registries, as a core v1 SecretList.
package imagestreamsecrets

import (
	"context"
	"fmt"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// SecretsGetter returns every secret of a namespace.
type SecretsGetter func(ctx context.Context, namespace string) ([]corev1.Secret, error)

// FromClient makes a SecretsGetter that lists a namespace's secrets
// through the Kubernetes API (the kube-apiserver owns secrets), as the
// OpenShift API server's own identity: the request was authorized on the
// image stream before.
func FromClient(secrets corev1client.SecretsGetter) SecretsGetter {
	return func(ctx context.Context, namespace string) ([]corev1.Secret, error) {
		list, err := secrets.Secrets(namespace).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err != nil {
			return nil, fmt.Errorf("listing secrets of namespace %s: %w", namespace, err)
		}
		return list.Items, nil
	}
}

// PullSecrets returns the secrets of namespace an image import may use:
// those of type kubernetes.io/dockercfg or kubernetes.io/dockerconfigjson
// not annotated openshift.io/image.excludeSecret=true.
func PullSecrets(ctx context.Context, secrets SecretsGetter, namespace string) ([]corev1.Secret, error) {
	all, err := secrets(ctx, namespace)
	if err != nil {
		return nil, err
	}
	var out []corev1.Secret
	for _, s := range all {
		if s.Type != corev1.SecretTypeDockercfg && s.Type != corev1.SecretTypeDockerConfigJson {
			continue
		}
		if s.Annotations[imagev1.ExcludeImageSecretAnnotation] == "true" {
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// REST serves imagestreams/secrets.
type REST struct {
	secrets SecretsGetter
}

var (
	_ rest.Getter                   = &REST{}
	_ rest.GroupVersionKindProvider = &REST{}
	_ rest.Storage                  = &REST{}
)

// NewREST returns the imagestreams/secrets storage reading secrets through
// secrets.
func NewREST(secrets SecretsGetter) *REST {
	return &REST{secrets: secrets}
}

// New returns an empty SecretList.
func (r *REST) New() runtime.Object { return &corev1.SecretList{} }

// Destroy does nothing: the secrets belong to the core group's storage.
func (r *REST) Destroy() {}

// GroupVersionKind says the answer is a core v1 SecretList, not an
// image.openshift.io kind; the installer needs that to encode it.
func (r *REST) GroupVersionKind(schema.GroupVersion) schema.GroupVersionKind {
	return corev1.SchemeGroupVersion.WithKind("SecretList")
}

// Get lists the pull secrets of the request's namespace. Like OpenShift,
// it does not require the stream name to exist: the list is the same for
// every stream of a namespace, and an import into a new stream needs it.
func (r *REST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	namespace, ok := genericapirequest.NamespaceFrom(ctx)
	if !ok || namespace == "" {
		return nil, apierrors.NewBadRequest("a namespace is required to list image stream secrets")
	}
	secrets, err := PullSecrets(ctx, r.secrets, namespace)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	return &corev1.SecretList{Items: secrets}, nil
}
