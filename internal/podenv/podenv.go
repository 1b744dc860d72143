// Package podenv is the contract between the node agent and the host-process
// programs it runs in pods (`slipway builder`, `slipway deployer`): the
// environment variables it sets, and the API client configuration a
// program makes from them.
package podenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/rest"
)

// The environment of a host-process pod, besides the container's own.
const (
	// EnvServiceHost and EnvServicePort are the API server's address, as
	// in every Kubernetes pod.
	EnvServiceHost = "KUBERNETES_SERVICE_HOST"
	EnvServicePort = "KUBERNETES_SERVICE_PORT"
	// EnvServiceAccountDir holds the pod's service account token and the
	// API server's CA (token, ca.crt): a host process has no
	// /var/run/secrets mount.
	EnvServiceAccountDir = "SLIPWAY_SERVICEACCOUNT_DIR"
	// EnvTerminationLog is the file whose content becomes the container's
	// terminated.message.
	EnvTerminationLog = "SLIPWAY_TERMINATION_LOG"
)

// ClientConfig is the API client configuration of a program in a pod: the
// address from EnvServiceHost/EnvServicePort (port 443 by default), the
// service account's token and CA from EnvServiceAccountDir.
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
	token, err := os.ReadFile(filepath.Join(saDir, "token"))
	if err != nil {
		return nil, fmt.Errorf("reading the service account token: %w", err)
	}
	return &rest.Config{
		Host:            "https://" + net.JoinHostPort(host, port),
		BearerToken:     strings.TrimSpace(string(token)),
		TLSClientConfig: rest.TLSClientConfig{CAFile: filepath.Join(saDir, "ca.crt")},
		UserAgent:       userAgent,
	}, nil
}
