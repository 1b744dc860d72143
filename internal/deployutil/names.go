// Package deployutil holds what the DeploymentConfig controller, the
// ReplicationController controller, the deployer and the CLI share about
// DeploymentConfigs and their deployments (the ReplicationControllers
// "<dc>-<n>", openshift-semantics.md 3.3): names, labels and annotations,
// the DeploymentConfig encoded in a deployment, phases, cancellation
// reasons, conditions and the causes of a rollout.
package deployutil

import (
	"strconv"

	"github.com/slipway-dev/slipway/internal/buildgenerator"
)

// Suffixes of the pods that act on a deployment.
const (
	DeployerPodSuffix = "deploy"
	PreHookPodSuffix  = "hook-pre"
	MidHookPodSuffix  = "hook-mid"
	PostHookPodSuffix = "hook-post"
)

// EnvDeploymentName and EnvDeploymentNamespace are the environment of a
// deployer pod naming the deployment (RC) it rolls out.
const (
	EnvDeploymentName      = "OPENSHIFT_DEPLOYMENT_NAME"
	EnvDeploymentNamespace = "OPENSHIFT_DEPLOYMENT_NAMESPACE"
)

// DeploymentName is the name of version of DeploymentConfig dc: "<dc>-<version>".
func DeploymentName(dc string, version int64) string {
	return dc + "-" + strconv.FormatInt(version, 10)
}

// DeployerPodName is the name of the deployer pod of deployment:
// "<rc>-deploy", shortened with a hash past 63 characters as OpenShift does.
func DeployerPodName(deployment string) string {
	return buildgenerator.ShortName(deployment, DeployerPodSuffix)
}

// HookPodName is the name of the pod running the hook of deployment whose
// suffix is one of PreHookPodSuffix, MidHookPodSuffix, PostHookPodSuffix.
func HookPodName(deployment, suffix string) string {
	return buildgenerator.ShortName(deployment, suffix)
}
