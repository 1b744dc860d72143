package configmap

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"

	"github.com/slipway-dev/slipway/internal/registry/core/printing"
	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// NewREST returns the storage of configmaps.
func NewREST(optsGetter generic.RESTOptionsGetter) (*genericregistry.Store, error) {
	return storebase.NewStore(optsGetter, storebase.Resource{
		Plural:   "configmaps",
		Singular: "configmap",
		New:      func() runtime.Object { return &corev1.ConfigMap{} },
		NewList:  func() runtime.Object { return &corev1.ConfigMapList{} },
		Strategy: Strategy,
		Table:    TableConvertor,
		Attrs:    GetAttrs,
	})
}

// TableConvertor prints config maps as NAME DATA AGE.
var TableConvertor = printing.TableConvertor[*corev1.ConfigMap]{
	Columns: []metav1.TableColumnDefinition{
		printing.NameColumn,
		{Name: "Data", Type: "string", Description: "Number of keys in data and binaryData."},
		printing.AgeColumn,
	},
	Cells: func(cm *corev1.ConfigMap) []interface{} {
		return []interface{}{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), printing.Age(cm.CreationTimestamp)}
	},
}
