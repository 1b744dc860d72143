package deployer

import (
	"context"
	"fmt"
	"os"

	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"

	"github.com/slipway-dev/slipway/internal/deployutil"
	"github.com/slipway-dev/slipway/internal/podenv"
)

// Environment the node agent gives the deployer pod's container (the
// deploymentconfig controller sets deployutil.EnvDeploymentName and
// EnvDeploymentNamespace).
const (
	EnvServiceHost       = podenv.EnvServiceHost
	EnvServicePort       = podenv.EnvServicePort
	EnvServiceAccountDir = podenv.EnvServiceAccountDir
	EnvTerminationLog    = podenv.EnvTerminationLog
)

// NewCommand returns `slipway deployer`, run by a deployer pod
// "<rc>-deploy"; everything it needs comes from the environment.
func NewCommand() *cobra.Command {
	short := "Roll out the deployment $OPENSHIFT_DEPLOYMENT_NAME (inside a deployer pod)"
	return podenv.Command("deployer", short, func(ctx context.Context, cmd *cobra.Command) error {
		d, err := FromEnv(os.Getenv)
		if err != nil {
			return podenv.SetupFailed(cmd, err)
		}
		d.Out = cmd.OutOrStdout()
		if err := d.Run(ctx); err != nil {
			podenv.WriteTerminationMessage(os.Getenv(EnvTerminationLog), err.Error())
			return err
		}
		return nil
	})
}

// FromEnv returns the Deployer the pod's environment describes (contract:
// OPENSHIFT_DEPLOYMENT_NAME, OPENSHIFT_DEPLOYMENT_NAMESPACE, and
// KUBERNETES_SERVICE_HOST/PORT with SLIPWAY_SERVICEACCOUNT_DIR holding the
// service account's token and ca.crt).
func FromEnv(getenv func(string) string) (*Deployer, error) {
	name, namespace := getenv(deployutil.EnvDeploymentName), getenv(deployutil.EnvDeploymentNamespace)
	if name == "" || namespace == "" {
		return nil, fmt.Errorf("%s and %s must be set: slipway deployer runs inside a deployer pod", deployutil.EnvDeploymentName, deployutil.EnvDeploymentNamespace)
	}
	cfg, err := podenv.ClientConfig(getenv, "slipway-deployer")
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("core API client: %w", err)
	}
	images, err := imageclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("image API client: %w", err)
	}
	return &Deployer{Kube: kube, Images: images, Namespace: namespace, Name: name}, nil
}
