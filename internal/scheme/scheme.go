// Package scheme holds the runtime.Scheme the API server and its storage use:
// OpenShift's and Kubernetes' external v1 types, registered as they are.
//
// Slipway has no internal API types of its own. Every served type is
// registered a second time under the internal version of its group, so the
// generic API server's "convert to internal" step is an identity and the
// structs of github.com/openshift/api and k8s.io/api are used unchanged.
package scheme

import (
	"reflect"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	projectv1 "github.com/openshift/api/project/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
)

var (
	// Scheme knows every type Slipway serves, in its v1 and internal versions.
	Scheme = runtime.NewScheme()
	// Codecs serializes Scheme's types.
	Codecs = serializer.NewCodecFactory(Scheme)
	// ParameterCodec decodes query parameters (list, get and subresource options).
	ParameterCodec = runtime.NewParameterCodec(Scheme)
)

// GroupVersions lists the API group versions Slipway serves, in the order
// they are stored and discovered.
var GroupVersions = []schema.GroupVersion{
	corev1.SchemeGroupVersion,
	projectv1.GroupVersion,
	buildv1.GroupVersion,
	imagev1.GroupVersion,
	appsv1.GroupVersion,
	autoscalingv1.SchemeGroupVersion,
	authenticationv1.SchemeGroupVersion,
}

func init() {
	utilruntime.Must(corev1.AddToScheme(Scheme))
	utilruntime.Must(autoscalingv1.AddToScheme(Scheme))
	utilruntime.Must(authenticationv1.AddToScheme(Scheme))
	utilruntime.Must(projectv1.Install(Scheme))
	utilruntime.Must(buildv1.Install(Scheme))
	utilruntime.Must(imagev1.Install(Scheme))
	utilruntime.Must(appsv1.Install(Scheme))

	for _, gv := range GroupVersions {
		registerAsInternal(gv)
		utilruntime.Must(Scheme.SetVersionPriority(gv))
	}

	metav1.AddToGroupVersion(Scheme, schema.GroupVersion{Version: "v1"})
	unversioned := schema.GroupVersion{Group: "", Version: "v1"}
	Scheme.AddUnversionedTypes(unversioned,
		&metav1.Status{},
		&metav1.APIVersions{},
		&metav1.APIGroupList{},
		&metav1.APIGroup{},
		&metav1.APIResourceList{},
	)
}

var metaPkgPath = reflect.TypeOf(metav1.Status{}).PkgPath()

// registerAsInternal registers every non-meta type of gv under gv's internal
// version too.
func registerAsInternal(gv schema.GroupVersion) {
	internal := schema.GroupVersion{Group: gv.Group, Version: runtime.APIVersionInternal}
	for kind, t := range Scheme.KnownTypes(gv) {
		if t.PkgPath() == metaPkgPath {
			continue
		}
		obj, ok := reflect.New(t).Interface().(runtime.Object)
		if !ok {
			continue
		}
		Scheme.AddKnownTypeWithName(internal.WithKind(kind), obj)
	}
}
