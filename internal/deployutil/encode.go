package deployutil

import (
	"fmt"

	appsv1 "github.com/openshift/api/apps/v1"
	appsscheme "github.com/openshift/client-go/apps/clientset/versioned/scheme"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// EncodeConfig returns dc as apps.openshift.io/v1 JSON, as it is stored in
// a deployment's appsv1.DeploymentEncodedConfigAnnotation.
func EncodeConfig(dc *appsv1.DeploymentConfig) ([]byte, error) {
	data, err := runtime.Encode(appsscheme.Codecs.LegacyCodec(appsv1.GroupVersion), dc)
	if err != nil {
		return nil, fmt.Errorf("encoding DeploymentConfig %s/%s: %w", dc.Namespace, dc.Name, err)
	}
	return data, nil
}

// DecodeConfig returns the DeploymentConfig encoded in deployment rc: the
// config as it was when rc's version was rolled out.
func DecodeConfig(rc *corev1.ReplicationController) (*appsv1.DeploymentConfig, error) {
	data := rc.Annotations[appsv1.DeploymentEncodedConfigAnnotation]
	if data == "" {
		return nil, fmt.Errorf("deployment %s/%s has no %s annotation", rc.Namespace, rc.Name, appsv1.DeploymentEncodedConfigAnnotation)
	}
	obj, _, err := appsscheme.Codecs.UniversalDeserializer().Decode([]byte(data), nil, nil)
	if err != nil {
		return nil, fmt.Errorf("decoding the DeploymentConfig of deployment %s/%s: %w", rc.Namespace, rc.Name, err)
	}
	dc, ok := obj.(*appsv1.DeploymentConfig)
	if !ok {
		return nil, fmt.Errorf("deployment %s/%s encodes a %T, not a DeploymentConfig", rc.Namespace, rc.Name, obj)
	}
	return dc, nil
}
