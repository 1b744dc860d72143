package apiserver

import (
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"

	"github.com/slipway-dev/slipway/internal/registry/authentication/selfsubjectreview"
	"github.com/slipway-dev/slipway/internal/scheme"
)

// installAPIGroups installs /api/v1 and every /apis group Slipway serves.
func installAPIGroups(s *genericapiserver.GenericAPIServer, optsGetter generic.RESTOptionsGetter, registryHostname string) error {
	install := func(group string, storage map[string]rest.Storage) error {
		info := genericapiserver.NewDefaultAPIGroupInfo(group, scheme.Scheme, scheme.ParameterCodec, scheme.Codecs)
		info.VersionedResourcesStorageMap["v1"] = storage
		if group == "" {
			return s.InstallLegacyAPIGroup(genericapiserver.DefaultLegacyAPIPrefix, &info)
		}
		return s.InstallAPIGroup(&info)
	}
	if err := install(authenticationv1.GroupName, map[string]rest.Storage{"selfsubjectreviews": &selfsubjectreview.REST{}}); err != nil {
		return fmt.Errorf("installing %s: %w", authenticationv1.GroupName, err)
	}
	return nil
}
