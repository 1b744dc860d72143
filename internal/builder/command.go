package builder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"

	buildv1 "github.com/openshift/api/build/v1"
	buildclient "github.com/openshift/client-go/build/clientset/versioned"
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/podenv"
)

// Environment variables of the build pod's docker-build container (the
// node agent sets the SLIPWAY_* ones, the build controller the others).
const (
	EnvBuild              = "BUILD"
	EnvWorkDir            = "SLIPWAY_WORK_DIR"
	EnvServiceAccountDir  = podenv.EnvServiceAccountDir
	EnvTerminationLog     = podenv.EnvTerminationLog
	EnvBuildkitHost       = "BUILDKIT_HOST"
	EnvBuildLogLevel      = "BUILD_LOGLEVEL"
	EnvSourceCache        = "SLIPWAY_SOURCE_CACHE"
	EnvLocalGitRoot       = podenv.EnvLocalGitRoot
	EnvPushDockercfgPath  = "PUSH_DOCKERCFG_PATH"
	EnvPullDockercfgPath  = "PULL_DOCKERCFG_PATH"
	EnvSourceSecretPath   = "SOURCE_SECRET_PATH"
	EnvServiceHost        = podenv.EnvServiceHost
	EnvServicePort        = podenv.EnvServicePort
	defaultWorkDir        = "/tmp/build"
	defaultBuildkitSocket = "unix:///run/buildkit/buildkitd.sock"
)

// NewCommand returns `slipway builder`, run by a build pod's docker-build
// container; everything it needs comes from the environment.
func NewCommand() *cobra.Command {
	short := "Run the build described by $BUILD (inside a build pod)"
	return podenv.Command("builder", short, func(ctx context.Context, cmd *cobra.Command) error {
		job, err := JobFromEnv(os.Getenv)
		if err != nil {
			return podenv.SetupFailed(cmd, err)
		}
		job.Out = cmd.OutOrStdout()
		job.Stdin = cmd.InOrStdin()
		_, err = Run(ctx, job)
		return err
	})
}

// JobFromEnv reads the build pod's environment (contract: BUILD,
// SLIPWAY_WORK_DIR, BUILDKIT_HOST, SLIPWAY_SOURCE_CACHE,
// SLIPWAY_LOCAL_GIT_ROOT, the *_PATH secret dirs, SLIPWAY_TERMINATION_LOG,
// and KUBERNETES_SERVICE_HOST/PORT with
// SLIPWAY_SERVICEACCOUNT_DIR for the API).
func JobFromEnv(getenv func(string) string) (Job, error) {
	raw := getenv(EnvBuild)
	if raw == "" {
		return Job{}, errors.New("BUILD is not set: slipway builder runs inside a build pod")
	}
	b := &buildv1.Build{}
	if err := json.Unmarshal([]byte(raw), b); err != nil {
		return Job{}, fmt.Errorf("decoding BUILD: %w", err)
	}
	job := Job{
		Build:           b,
		WorkDir:         orDefault(getenv(EnvWorkDir), defaultWorkDir),
		BuildkitAddress: orDefault(getenv(EnvBuildkitHost), defaultBuildkitSocket),
		SourceCache:     getenv(EnvSourceCache),
		LocalGitRoot:    getenv(EnvLocalGitRoot),
		PushSecretDir:   getenv(EnvPushDockercfgPath),
		PullSecretDir:   getenv(EnvPullDockercfgPath),
		SourceSecretDir: getenv(EnvSourceSecretPath),
		TerminationLog:  getenv(EnvTerminationLog),
	}
	// As OpenShift's builder: a level that is not a number is level 0.
	job.LogLevel, _ = strconv.Atoi(getenv(EnvBuildLogLevel))
	if host := getenv(EnvServiceHost); host != "" {
		cfg, err := podenv.ClientConfig(getenv, "slipway-builder")
		if err != nil {
			return Job{}, err
		}
		client, err := buildclient.NewForConfig(cfg)
		if err != nil {
			return Job{}, fmt.Errorf("build API client: %w", err)
		}
		job.Reporter = &APIReporter{Client: client, Namespace: b.Namespace, Name: b.Name}
	}
	return job, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// APIReporter reports through PUT builds/<name>/details.
type APIReporter struct {
	Client    buildclient.Interface
	Namespace string
	Name      string
}

// Connect opens the connection to the API ahead of the report (GET
// /version, open to everyone), while the build runs: the report at the end
// is then one round trip instead of a TCP and TLS handshake more (~10 ms
// on the way to the build's end). A failure is for the report to find.
func (r *APIReporter) Connect(ctx context.Context) {
	_ = r.Client.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Error()
}

// ReportDetails PUTs the findings to the details subresource. The server
// merges only the builder's fields into the stored Build, so the PUT
// carries no resourceVersion and needs no GET first: one round trip.
func (r *APIReporter) ReportDetails(ctx context.Context, apply func(*buildv1.Build)) error {
	details := &buildv1.Build{ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: r.Namespace}}
	apply(details)
	_, err := r.Client.BuildV1().Builds(r.Namespace).UpdateDetails(ctx, r.Name, details, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("updating builds/%s/details in %s: %w", r.Name, r.Namespace, err)
	}
	return nil
}
