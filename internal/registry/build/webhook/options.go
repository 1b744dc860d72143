package webhook

import (
	"net/url"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
)

// AddConversions lets the API server decode the webhook's connect options:
// it turns the query (into which the server puts the subpath as "path")
// into PodProxyOptions. k8s.io/api registers no such conversion itself.
func AddConversions(s *runtime.Scheme) error {
	return s.AddConversionFunc((*url.Values)(nil), (*corev1.PodProxyOptions)(nil), func(a, b any, _ conversion.Scope) error {
		values, opts := a.(*url.Values), b.(*corev1.PodProxyOptions)
		opts.Path = values.Get("path")
		return nil
	})
}
