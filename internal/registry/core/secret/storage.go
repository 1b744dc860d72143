package secret

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"

	"github.com/slipway-dev/slipway/internal/registry/core/printing"
	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// NewREST returns the storage of secrets.
func NewREST(optsGetter generic.RESTOptionsGetter) (*genericregistry.Store, error) {
	return storebase.NewStore(optsGetter, storebase.Resource{
		Plural:   "secrets",
		Singular: "secret",
		New:      func() runtime.Object { return &corev1.Secret{} },
		NewList:  func() runtime.Object { return &corev1.SecretList{} },
		Strategy: Strategy,
		Table:    TableConvertor,
		Attrs:    GetAttrs,
	})
}

// TableConvertor prints secrets as NAME TYPE DATA AGE.
var TableConvertor = printing.TableConvertor[*corev1.Secret]{
	Columns: []metav1.TableColumnDefinition{
		printing.NameColumn,
		{Name: "Type", Type: "string", Description: "Used to facilitate programmatic handling of secret data."},
		{Name: "Data", Type: "string", Description: "Number of keys in the secret's data."},
		printing.AgeColumn,
	},
	Cells: func(s *corev1.Secret) []interface{} {
		return []interface{}{s.Name, string(s.Type), int64(len(s.Data)), printing.Age(s.CreationTimestamp)}
	},
}
