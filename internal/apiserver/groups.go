package apiserver

import (
	"fmt"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	projectv1 "github.com/openshift/api/project/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	restclient "k8s.io/client-go/rest"

	"github.com/slipway-dev/slipway/internal/image"
	appsregistry "github.com/slipway-dev/slipway/internal/registry/apps"
	"github.com/slipway-dev/slipway/internal/registry/authentication/selfsubjectreview"
	buildregistry "github.com/slipway-dev/slipway/internal/registry/build"
	"github.com/slipway-dev/slipway/internal/registry/core"
	imagegroup "github.com/slipway-dev/slipway/internal/registry/image"
	"github.com/slipway-dev/slipway/internal/registry/image/imagestreamsecrets"
	projectregistry "github.com/slipway-dev/slipway/internal/registry/project"
	"github.com/slipway-dev/slipway/internal/scheme"
)

// installAPIGroups installs /api/v1 and every /apis group Slipway serves.
func installAPIGroups(s *genericapiserver.GenericAPIServer, optsGetter generic.RESTOptionsGetter, loopback *restclient.Config, registryHostname string, registries *image.Client) error {
	coreStorage, err := core.NewStorage(optsGetter)
	if err != nil {
		return fmt.Errorf("core storage: %w", err)
	}
	projects, err := projectregistry.NewStorage(coreStorage.Namespaces)
	if err != nil {
		return fmt.Errorf("project storage: %w", err)
	}
	builds, err := buildregistry.NewStorage(optsGetter, buildregistry.WithLoopbackConfig(loopback))
	if err != nil {
		return fmt.Errorf("build storage: %w", err)
	}
	secrets, ok := coreStorage.Resources["secrets"].(rest.Lister)
	if !ok {
		return fmt.Errorf("core storage: secrets cannot be listed")
	}
	images, err := imagegroup.NewStorage(optsGetter, registryHostname,
		imagegroup.WithSecrets(imagestreamsecrets.FromLister(secrets)),
		imagegroup.WithImporter(registries))
	if err != nil {
		return fmt.Errorf("image storage: %w", err)
	}
	apps, err := appsregistry.NewStorage(optsGetter, appsregistry.WithLoopbackConfig(loopback))
	if err != nil {
		return fmt.Errorf("apps storage: %w", err)
	}

	groups := []struct {
		name    string
		storage map[string]rest.Storage
	}{
		{"", coreStorage.Resources},
		{projectv1.GroupName, projects},
		{buildv1.GroupName, builds},
		{imagev1.GroupName, images},
		{appsv1.GroupName, apps},
		{authenticationv1.GroupName, map[string]rest.Storage{"selfsubjectreviews": &selfsubjectreview.REST{}}},
	}
	for _, g := range groups {
		info := genericapiserver.NewDefaultAPIGroupInfo(g.name, scheme.Scheme, scheme.ParameterCodec, scheme.Codecs)
		info.VersionedResourcesStorageMap["v1"] = g.storage
		if g.name == "" {
			err = s.InstallLegacyAPIGroup(genericapiserver.DefaultLegacyAPIPrefix, &info)
		} else {
			err = s.InstallAPIGroup(&info)
		}
		if err != nil {
			return fmt.Errorf("installing API group %q: %w", g.name, err)
		}
	}
	return nil
}
