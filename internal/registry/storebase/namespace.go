package storebase

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
)

// RequestNamespace gives an object posted to a namespaced virtual resource
// the request's namespace when it names none, and answers 400 when it
// names another.
func RequestNamespace(ctx context.Context, meta *metav1.ObjectMeta) error {
	namespace, _ := genericapirequest.NamespaceFrom(ctx)
	if meta.Namespace == "" {
		meta.Namespace = namespace
	}
	if meta.Namespace != namespace {
		return apierrors.NewBadRequest(fmt.Sprintf("the namespace of the object (%s) does not match the namespace on the request (%s)", meta.Namespace, namespace))
	}
	return nil
}
