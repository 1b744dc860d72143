package apiserver

import (
	"context"
	"fmt"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	projectv1 "github.com/openshift/api/project/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"

	"github.com/slipway-dev/slipway/internal/controller/serviceaccount"
	"github.com/slipway-dev/slipway/internal/image"
	appsregistry "github.com/slipway-dev/slipway/internal/registry/apps"
	buildregistry "github.com/slipway-dev/slipway/internal/registry/build"
	imagegroup "github.com/slipway-dev/slipway/internal/registry/image"
	"github.com/slipway-dev/slipway/internal/registry/image/imagestreamsecrets"
	projectregistry "github.com/slipway-dev/slipway/internal/registry/project"
	projectstore "github.com/slipway-dev/slipway/internal/registry/project/project"
	"github.com/slipway-dev/slipway/internal/scheme"
)

// installAPIGroups installs every /apis group the OpenShift API server
// serves. kubeConfig and kube reach the kube-apiserver (as this server's
// own identity), for what OpenShift's resources read of Kubernetes'; authz
// is the server's (delegated) authorizer, for the checks a write makes on
// the requester's behalf elsewhere (a tag of another project's image).
func installAPIGroups(s *genericapiserver.GenericAPIServer, optsGetter generic.RESTOptionsGetter, kubeConfig *restclient.Config, kube kubernetes.Interface, authz authorizer.Authorizer, registryHostname string, registries *image.Client, maxBinaryBuildSize int64) error {
	projects, err := projectregistry.NewStorage(projectstore.ClientNamespaces(kube.CoreV1().Namespaces()), defaultServiceAccounts(kube))
	if err != nil {
		return fmt.Errorf("project storage: %w", err)
	}
	buildOpts := []buildregistry.Option{buildregistry.WithLoopbackConfig(kubeConfig)}
	if maxBinaryBuildSize != 0 {
		buildOpts = append(buildOpts, buildregistry.WithMaxBinarySize(maxBinaryBuildSize))
	}
	builds, err := buildregistry.NewStorage(optsGetter, buildOpts...)
	if err != nil {
		return fmt.Errorf("build storage: %w", err)
	}
	images, err := imagegroup.NewStorage(optsGetter, registryHostname,
		imagegroup.WithSecrets(imagestreamsecrets.FromClient(kube.CoreV1())),
		imagegroup.WithImporter(registries),
		imagegroup.WithAuthorizer(authz))
	if err != nil {
		return fmt.Errorf("image storage: %w", err)
	}
	apps, err := appsregistry.NewStorage(optsGetter, appsregistry.WithLoopbackConfig(kubeConfig))
	if err != nil {
		return fmt.Errorf("apps storage: %w", err)
	}
	groups := []struct {
		name    string
		storage map[string]rest.Storage
	}{
		{projectv1.GroupName, projects},
		{buildv1.GroupName, builds},
		{imagev1.GroupName, images},
		{appsv1.GroupName, apps},
	}
	for _, g := range groups {
		info := genericapiserver.NewDefaultAPIGroupInfo(g.name, scheme.Scheme, scheme.ParameterCodec, scheme.Codecs)
		info.VersionedResourcesStorageMap["v1"] = g.storage
		if err := s.InstallAPIGroup(&info); err != nil {
			return fmt.Errorf("installing API group %q: %w", g.name, err)
		}
	}
	return nil
}

// defaultServiceAccounts creates a new project's builder, default and
// deployer service accounts with it, so that the project's first commands
// (`secrets link builder ...`) find them; their tokens, pull secrets and
// role bindings follow from the service account controller.
func defaultServiceAccounts(kube kubernetes.Interface) func(ctx context.Context, namespace string) error {
	return func(ctx context.Context, namespace string) error {
		for _, name := range serviceaccount.DefaultServiceAccounts {
			sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
			_, err := kube.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("creating service account %s/%s: %w", namespace, name, err)
			}
		}
		return nil
	}
}
