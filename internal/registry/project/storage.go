// Package project assembles the REST storage of project.openshift.io/v1.
package project

import (
	"context"

	"k8s.io/apiserver/pkg/registry/rest"

	projectstore "github.com/slipway-dev/slipway/internal/registry/project/project"
	"github.com/slipway-dev/slipway/internal/registry/project/projectrequest"
)

// NewStorage returns the storage of "projects" and "projectrequests", both
// served from the cluster's namespaces (projectstore.ClientNamespaces).
func NewStorage(namespaces projectstore.Namespaces, populate func(ctx context.Context, namespace string) error) (map[string]rest.Storage, error) {
	return map[string]rest.Storage{
		"projects":        projectstore.NewREST(namespaces),
		"projectrequests": projectrequest.NewREST(namespaces, populate),
	}, nil
}
