package serviceaccount

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"

	"github.com/slipway-dev/slipway/internal/registry/core/printing"
	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// NewREST returns the storage of serviceaccounts.
func NewREST(optsGetter generic.RESTOptionsGetter) (*genericregistry.Store, error) {
	return storebase.NewStore(optsGetter, storebase.Resource{
		Plural:   "serviceaccounts",
		Singular: "serviceaccount",
		New:      func() runtime.Object { return &corev1.ServiceAccount{} },
		NewList:  func() runtime.Object { return &corev1.ServiceAccountList{} },
		Strategy: Strategy,
		Table:    TableConvertor,
		Attrs:    GetAttrs,
	})
}

// TableConvertor prints service accounts as NAME SECRETS AGE.
var TableConvertor = printing.TableConvertor[*corev1.ServiceAccount]{
	Columns: []metav1.TableColumnDefinition{
		printing.NameColumn,
		{Name: "Secrets", Type: "string", Description: "Number of secrets the service account may use."},
		printing.AgeColumn,
	},
	Cells: func(sa *corev1.ServiceAccount) []interface{} {
		return []interface{}{sa.Name, int64(len(sa.Secrets)), printing.Age(sa.CreationTimestamp)}
	},
}
