package deploymentconfig

import (
	"testing"

	appsv1 "github.com/openshift/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/hostprocess"
	"github.com/slipway-dev/slipway/internal/node"
)

// TestCustomStrategyCannotBecomeAHostProcess reproduces an attack: a
// Custom strategy's annotations asked for slipway.dev/host-process, so the
// strategy's own image command ran on the host with the node's rights.
// Neither that annotation nor a signature comes from the strategy; the
// default strategy's deployer stays a host process.
func TestCustomStrategyCannotBecomeAHostProcess(t *testing.T) {
	rc := &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "p", UID: "u"}}
	custom := &appsv1.DeploymentConfig{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "p"}, Spec: appsv1.DeploymentConfigSpec{
		Strategy: appsv1.DeploymentStrategy{
			Type:         appsv1.DeploymentStrategyTypeCustom,
			CustomParams: &appsv1.CustomDeploymentStrategyParams{Image: "busybox", Command: []string{"slipway", "get", "secrets", "-A"}},
			Annotations:  map[string]string{node.HostProcessAnnotation: "true", hostprocess.SignatureAnnotation: "forged", "team": "a"},
		},
	}}
	pod := DeployerPod(rc, custom)
	if _, ok := pod.Annotations[node.HostProcessAnnotation]; ok {
		t.Errorf("a Custom strategy's deployer is a host process: %v", pod.Annotations)
	}
	if _, ok := pod.Annotations[hostprocess.SignatureAnnotation]; ok {
		t.Errorf("a strategy set the signature annotation: %v", pod.Annotations)
	}
	if pod.Annotations["team"] != "a" {
		t.Errorf("the strategy's other annotations are lost: %v", pod.Annotations)
	}
	rolling := &appsv1.DeploymentConfig{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "p"}, Spec: appsv1.DeploymentConfigSpec{
		Strategy: appsv1.DeploymentStrategy{Type: appsv1.DeploymentStrategyTypeRolling},
	}}
	if pod := DeployerPod(rc, rolling); pod.Annotations[node.HostProcessAnnotation] != "true" {
		t.Errorf("the default deployer is not a host process: %v", pod.Annotations)
	}
}
