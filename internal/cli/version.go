package cli

import (
	"encoding/json"
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"

	"k8s.io/apimachinery/pkg/version"
	"k8s.io/kubectl/pkg/util/templates"
	"sigs.k8s.io/yaml"
)

// Version is the client's version. Release builds set it with
// -ldflags "-X github.com/slipway-dev/slipway/internal/cli.Version=v1.2.3";
// otherwise it comes from the module and VCS information Go embeds.
var Version = ""

// clientVersion resolves Version, falling back to the build information:
// the module version, else "v0.0.0-dev" plus the VCS revision.
func clientVersion() string {
	if Version != "" {
		return Version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "v0.0.0-dev"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	v := "v0.0.0-dev"
	for _, setting := range info.Settings {
		if setting.Key == "vcs.revision" && len(setting.Value) >= 12 {
			v += "+" + setting.Value[:12]
		}
	}
	return v
}

// versionInfo is what `version -o json|yaml` prints.
type versionInfo struct {
	ClientVersion string        `json:"clientVersion"`
	ServerVersion *version.Info `json:"serverVersion,omitempty"`
}

func newCmdVersion(env *commandEnv) *cobra.Command {
	var clientOnly bool
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the client and server version information",
		Long: templates.LongDesc(`
			Print the client and server version information for the current context.

			The server version is what the server reports at /version.`),
		Example: templates.Examples(`
			# Print the client and server versions for the current context
			slipway version`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info := versionInfo{ClientVersion: clientVersion()}
			var serverErr error
			if !clientOnly {
				info.ServerVersion, serverErr = serverVersion(env)
			}
			out := env.streams.Out
			switch output {
			case "":
				fmt.Fprintf(out, "Client Version: %s\n", info.ClientVersion)
				if info.ServerVersion != nil {
					fmt.Fprintf(out, "Server Version: %s\n", info.ServerVersion.GitVersion)
				}
			case "json", "yaml":
				data, err := json.MarshalIndent(info, "", "  ")
				if err != nil {
					return fmt.Errorf("encoding version information: %w", err)
				}
				if output == "yaml" {
					if data, err = yaml.JSONToYAML(data); err != nil {
						return fmt.Errorf("encoding version information: %w", err)
					}
				}
				fmt.Fprintln(out, string(data))
			default:
				return fmt.Errorf("--output must be 'yaml' or 'json'")
			}
			return serverErr
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "If true, shows client version only (no server required).")
	cmd.Flags().StringVarP(&output, "output", "o", "", "One of 'yaml' or 'json'.")
	return cmd
}

// serverVersion asks the current context's server for its /version.
func serverVersion(env *commandEnv) (*version.Info, error) {
	discovery, err := env.factory.ToDiscoveryClient()
	if err != nil {
		return nil, err
	}
	info, err := discovery.ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("reading the server version: %w", err)
	}
	return info, nil
}
