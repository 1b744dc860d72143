// Package core assembles the REST storage of the core ("", /api/v1) group
// resources Slipway serves.
package core

import (
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/registry/core/configmap"
	"github.com/slipway-dev/slipway/internal/registry/core/event"
	"github.com/slipway-dev/slipway/internal/registry/core/namespace"
	"github.com/slipway-dev/slipway/internal/registry/core/pod"
	"github.com/slipway-dev/slipway/internal/registry/core/replicationcontroller"
	"github.com/slipway-dev/slipway/internal/registry/core/secret"
	"github.com/slipway-dev/slipway/internal/registry/core/service"
	"github.com/slipway-dev/slipway/internal/registry/core/serviceaccount"
	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// Storage is the core group's storage.
type Storage struct {
	// Resources maps resource paths ("namespaces", "pods/status", ...) to
	// their storage, ready for apiGroupInfo.VersionedResourcesStorageMap["v1"].
	Resources map[string]rest.Storage
	// Namespaces is the namespace storage, which the project group serves
	// projects and projectrequests from.
	Namespaces *namespace.REST
}

// NewStorage builds the storage of every core resource.
func NewStorage(optsGetter generic.RESTOptionsGetter) (*Storage, error) {
	resources := map[string]rest.Storage{}

	namespaces, namespaceStatus, namespaceFinalize, err := namespace.NewREST(optsGetter)
	if err != nil {
		return nil, err
	}
	resources["namespaces"] = namespaces
	resources["namespaces/status"] = namespaceStatus
	resources["namespaces/finalize"] = namespaceFinalize

	secrets, err := secret.NewREST(optsGetter)
	if err != nil {
		return nil, err
	}
	resources["secrets"] = secrets

	serviceAccounts, err := serviceaccount.NewREST(optsGetter)
	if err != nil {
		return nil, err
	}
	resources["serviceaccounts"] = storebase.WithNames(serviceAccounts, []string{"sa"})
	// serviceaccounts/token would go here if token requests are served.

	configMaps, err := configmap.NewREST(optsGetter)
	if err != nil {
		return nil, err
	}
	resources["configmaps"] = storebase.WithNames(configMaps, []string{"cm"})

	events, err := event.NewREST(optsGetter)
	if err != nil {
		return nil, err
	}
	resources["events"] = storebase.WithNames(events, []string{"ev"})

	pods, podStatus, err := pod.NewREST(optsGetter)
	if err != nil {
		return nil, err
	}
	resources["pods"] = storebase.WithNames(pods, []string{"po"}, "all")
	resources["pods/status"] = podStatus
	// pods/log reads the node agent's log files from the directory
	// optsGetter carries (podlogs.WithDir); pods/exec and pods/portforward
	// are added here by their own issue.
	resources["pods/log"] = pod.NewLogREST(pods, optsGetter)

	services, serviceStatus, err := service.NewREST(optsGetter)
	if err != nil {
		return nil, err
	}
	resources["services"] = storebase.WithNames(services, []string{"svc"}, "all")
	resources["services/status"] = serviceStatus

	controllers, controllerStatus, controllerScale, err := replicationcontroller.NewREST(optsGetter)
	if err != nil {
		return nil, err
	}
	resources["replicationcontrollers"] = storebase.WithNames(controllers, []string{"rc"}, "all")
	resources["replicationcontrollers/status"] = controllerStatus
	resources["replicationcontrollers/scale"] = controllerScale

	return &Storage{Resources: resources, Namespaces: namespaces}, nil
}
