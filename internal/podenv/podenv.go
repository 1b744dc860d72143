// Package podenv is the contract between the node agent and the host-process
// programs it runs in pods (`slipway builder`, `slipway deployer`): the
// environment variables it sets, and the API client configuration a
// program makes from them.
package podenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
)

// The environment of a host-process pod, besides the container's own.
const (
	// EnvServiceHost and EnvServicePort are the API server's address, as
	// in every Kubernetes pod.
	EnvServiceHost = "KUBERNETES_SERVICE_HOST"
	EnvServicePort = "KUBERNETES_SERVICE_PORT"
	// EnvServiceAccountDir holds the pod's service account token and the
	// API server's CA (token, ca.crt, namespace): the pod's kube-api-access
	// projected volume, which a host process does not see mounted at
	// /var/run/secrets/kubernetes.io/serviceaccount. The node agent renews
	// the token in place before it expires.
	EnvServiceAccountDir = "SLIPWAY_SERVICEACCOUNT_DIR"
	// EnvTerminationLog is the file whose content becomes the container's
	// terminated.message.
	EnvTerminationLog = "SLIPWAY_TERMINATION_LOG"
	// EnvLocalGitRoot is the directory under which builds may use git
	// repositories of this machine (slipway server --local-git-root);
	// empty refuses them. The node agent always sets it, so a pod's own
	// env cannot.
	EnvLocalGitRoot = "SLIPWAY_LOCAL_GIT_ROOT"
)

// ClientConfig is the API client configuration of a program in a pod: the
// address from EnvServiceHost/EnvServicePort (port 443 by default), the
// service account's token and CA from EnvServiceAccountDir. The token file
// is read again as the node renews it, as in-cluster clients do.
func ClientConfig(getenv func(string) string, userAgent string) (*rest.Config, error) {
	host, port, saDir := getenv(EnvServiceHost), getenv(EnvServicePort), getenv(EnvServiceAccountDir)
	if host == "" {
		return nil, errors.New(EnvServiceHost + " is not set")
	}
	if port == "" {
		port = "443"
	}
	if saDir == "" {
		return nil, errors.New(EnvServiceAccountDir + " is not set")
	}
	tokenFile := filepath.Join(saDir, "token")
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, fmt.Errorf("reading the service account token: %w", err)
	}
	return &rest.Config{
		Host:            "https://" + net.JoinHostPort(host, port),
		BearerToken:     strings.TrimSpace(string(token)),
		BearerTokenFile: tokenFile,
		TLSClientConfig: rest.TLSClientConfig{CAFile: filepath.Join(saDir, "ca.crt")},
		UserAgent:       userAgent,
		ContentConfig: rest.ContentConfig{
			ContentType:        runtime.ContentTypeProtobuf,
			AcceptContentTypes: runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON,
		},
	}, nil
}

// Command returns the hidden command use that a host-process pod runs: it
// takes no arguments (everything comes from the environment) and calls run
// with a context cancelled on SIGTERM and interrupt. Usage and errors are
// not printed: the program has already logged its failure and written the
// termination message (SetupFailed, WriteTerminationMessage).
func Command(use, short string, run func(ctx context.Context, cmd *cobra.Command) error) *cobra.Command {
	return &cobra.Command{
		Use:           use,
		Short:         short,
		Hidden:        true,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			return run(ctx, cmd)
		},
	}
}

// SetupFailed reports err, an environment the program cannot run from:
// "error: ..." on the command's stderr and as the termination message. It
// returns err.
func SetupFailed(cmd *cobra.Command, err error) error {
	fmt.Fprintf(cmd.ErrOrStderr(), "error: %v\n", err)
	WriteTerminationMessage(os.Getenv(EnvTerminationLog), err.Error())
	return err
}

// WriteTerminationMessage writes msg on one line to path, the file whose
// content becomes the container's terminated.message; "" writes nothing.
// It is best effort: the failure it reports is already in the log.
func WriteTerminationMessage(path, msg string) {
	if path == "" {
		return
	}
	_ = os.WriteFile(path, []byte(strings.Join(strings.Fields(msg), " ")+"\n"), 0o644)
}
