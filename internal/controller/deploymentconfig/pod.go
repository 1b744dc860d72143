package deploymentconfig

import (
	"maps"

	appsv1 "github.com/openshift/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/deployutil"
	"github.com/slipway-dev/slipway/internal/hostprocess"
	"github.com/slipway-dev/slipway/internal/node"
	dcregistry "github.com/slipway-dev/slipway/internal/registry/apps/deploymentconfig"
)

// Deployer pod contract shared with the node agent and `slipway deployer`.
const (
	// DeployerServiceAccount runs deployer pods; its token lets the
	// deployer scale the deployment's RCs.
	DeployerServiceAccount = "deployer"
	// DeployerContainerName is the deployer pod's one container.
	DeployerContainerName = "deployment"
	// DeployerImage names the deployer; the node agent runs host-process
	// pods from the slipway binary itself, whatever the image.
	DeployerImage = "slipway/deployer"
)

// deployerGracePeriod gives the deployer 10 s to stop, as OpenShift does.
const deployerGracePeriod int64 = 10

// DeployerPod returns the pod "<rc>-deploy" that rolls out deployment rc
// of dc: `slipway deployer` as a host-process pod of the deployer service
// account, owned by rc, bounded by the strategy's activeDeadlineSeconds.
// A Custom strategy with an image runs that image as an ordinary
// container instead, with its command and environment.
func DeployerPod(rc *corev1.ReplicationController, dc *appsv1.DeploymentConfig) *corev1.Pod {
	strategy := &dc.Spec.Strategy
	deadline := dcregistry.DefaultActiveDeadlineSeconds
	if strategy.ActiveDeadlineSeconds != nil {
		deadline = *strategy.ActiveDeadlineSeconds
	}
	grace := deployerGracePeriod

	container := corev1.Container{
		Name:                     DeployerContainerName,
		Image:                    DeployerImage,
		Command:                  []string{"slipway", "deployer"},
		Resources:                strategy.Resources,
		ImagePullPolicy:          corev1.PullIfNotPresent,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	annotations := map[string]string{
		appsv1.DeploymentAnnotation:       rc.Name,
		appsv1.DeploymentConfigAnnotation: dc.Name,
		node.HostProcessAnnotation:        "true",
	}
	if p := strategy.CustomParams; p != nil && p.Image != "" {
		container.Image, container.Command = p.Image, p.Command
		container.Env = append(container.Env, p.Environment...)
		delete(annotations, node.HostProcessAnnotation)
	}
	container.Env = append(container.Env,
		corev1.EnvVar{Name: deployutil.EnvDeploymentName, Value: rc.Name},
		corev1.EnvVar{Name: deployutil.EnvDeploymentNamespace, Value: rc.Namespace},
	)
	labels := map[string]string{appsv1.DeployerPodForDeploymentLabel: rc.Name}
	// The strategy's labels and annotations never replace the contract's.
	for k, v := range strategy.Labels {
		if _, ok := labels[k]; !ok {
			labels[k] = v
		}
	}
	for k, v := range strategy.Annotations {
		if _, ok := annotations[k]; !ok && !hostProcessKey(k) {
			annotations[k] = v
		}
	}

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        deployutil.DeployerPodName(rc.Name),
			Namespace:   rc.Namespace,
			Labels:      labels,
			Annotations: annotations,
			// Not a controller reference: the RC controller must not count
			// the deployer among the RC's pods.
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1",
				Kind:       "ReplicationController",
				Name:       rc.Name,
				UID:        rc.UID,
			}},
		},
		Spec: corev1.PodSpec{
			ServiceAccountName:            DeployerServiceAccount,
			RestartPolicy:                 corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:         &deadline,
			TerminationGracePeriodSeconds: &grace,
			Containers:                    []corev1.Container{container},
		},
	}
	if t := rc.Spec.Template; t != nil {
		// Where the application's pods may run, the deployer may too.
		pod.Spec.NodeSelector = maps.Clone(t.Spec.NodeSelector)
		pod.Spec.Tolerations = t.Spec.Tolerations
		pod.Spec.ImagePullSecrets = t.Spec.ImagePullSecrets
	}
	return pod
}

// hostProcessKey tells the annotations only Slipway's controllers set: a
// strategy's annotations never make a deployer (a Custom strategy's image,
// command and environment) run as a host process.
func hostProcessKey(k string) bool {
	return k == node.HostProcessAnnotation || k == hostprocess.SignatureAnnotation
}
