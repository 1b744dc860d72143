// Package project assembles the REST storage of project.openshift.io/v1.
package project

import (
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/registry/core/namespace"
	projectstore "github.com/slipway-dev/slipway/internal/registry/project/project"
	"github.com/slipway-dev/slipway/internal/registry/project/projectrequest"
)

// NewStorage returns the storage of "projects" and "projectrequests", both
// served from the namespace storage (core.Storage.Namespaces).
func NewStorage(namespaces projectstore.Namespaces) (map[string]rest.Storage, error) {
	return map[string]rest.Storage{
		"projects":        projectstore.NewREST(namespaces),
		"projectrequests": projectrequest.NewREST(namespaces),
	}, nil
}

// The namespace storage is what projects are served from.
var _ projectstore.Namespaces = (*namespace.REST)(nil)
