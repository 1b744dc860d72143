// Package cli is Slipway's oc-style client: kubectl's command library for the
// generic verbs (get, create, apply, edit, ...) plus the OpenShift verbs oc adds
// (login, new-project, project, secrets, ...), one file per verb group.
package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd/annotate"
	"k8s.io/kubectl/pkg/cmd/apiresources"
	"k8s.io/kubectl/pkg/cmd/apply"
	"k8s.io/kubectl/pkg/cmd/completion"
	cmdconfig "k8s.io/kubectl/pkg/cmd/config"
	"k8s.io/kubectl/pkg/cmd/create"
	"k8s.io/kubectl/pkg/cmd/delete"
	"k8s.io/kubectl/pkg/cmd/describe"
	"k8s.io/kubectl/pkg/cmd/edit"
	"k8s.io/kubectl/pkg/cmd/explain"
	"k8s.io/kubectl/pkg/cmd/get"
	"k8s.io/kubectl/pkg/cmd/label"
	"k8s.io/kubectl/pkg/cmd/options"
	"k8s.io/kubectl/pkg/cmd/patch"
	"k8s.io/kubectl/pkg/cmd/replace"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/cmd/wait"
	"k8s.io/kubectl/pkg/util/templates"
)

// CommandName is the name the client's messages and hints use for itself
// ("slipway project <projectname>"), where oc says "oc".
const CommandName = "slipway"

// IOStreams is the standard in/out/err triple every command writes to; it is
// cli-runtime's type, aliased so that main can say cli.IOStreams{...}.
type IOStreams = genericiooptions.IOStreams

// commandEnv is what every Slipway-specific verb needs: the kubeconfig flags
// (for the file login and project write, and the -n/--server/--token
// overrides), the kubectl factory built on them, and the streams.
type commandEnv struct {
	flags   *genericclioptions.ConfigFlags
	factory cmdutil.Factory
	streams IOStreams
}

// pathOptions says which kubeconfig file(s) to read and write, honouring
// --kubeconfig first, then $KUBECONFIG, then ~/.kube/config, as oc does.
func (e *commandEnv) pathOptions() *clientcmd.PathOptions {
	opts := clientcmd.NewDefaultPathOptions()
	if e.flags.KubeConfig != nil {
		opts.LoadingRules.ExplicitPath = *e.flags.KubeConfig
	}
	return opts
}

// NewRootCommand returns the `slipway` command with every client verb and the
// global kubeconfig flags (--kubeconfig, --context, -n/--namespace, --server,
// --token, --insecure-skip-tls-verify, --certificate-authority, ...).
// Server-side commands (`slipway server`, `slipway builder`) are added by main.
func NewRootCommand(streams IOStreams) *cobra.Command {
	warnings := rest.NewWarningWriter(streams.ErrOut, rest.WarningWriterOptions{
		Deduplicate: true,
		Color:       printers.AllowsColorOutput(streams.ErrOut),
	})
	root := &cobra.Command{
		Use:   CommandName,
		Short: "Slipway: OpenShift's build, image and deployment workflow on one machine",
		Long: templates.LongDesc(`
			Slipway client: the oc-style command line for a Slipway server.

			It speaks the OpenShift APIs (projects, builds, image streams,
			deployment configs) and the Kubernetes core API, with oc's verbs and
			oc's output formats. Start with 'slipway login'.`),
		Run: func(cmd *cobra.Command, _ []string) { _ = cmd.Help() },
		PersistentPreRunE: func(*cobra.Command, []string) error {
			rest.SetDefaultWarningHandler(warnings)
			return nil
		},
	}

	configFlags := genericclioptions.NewConfigFlags(true).WithDiscoveryBurst(300).WithDiscoveryQPS(50.0).WithWarningPrinter(streams)
	flags := root.PersistentFlags()
	configFlags.AddFlags(flags)
	matchVersionFlags := cmdutil.NewMatchVersionFlags(configFlags)
	matchVersionFlags.AddFlags(flags)
	f := cmdutil.NewFactory(matchVersionFlags)
	env := &commandEnv{flags: configFlags, factory: f, streams: streams}

	hookImageDescribers() // describe is: oc's layout (image.go)
	groups := templates.CommandGroups{
		{
			Message: "Basic Commands:",
			Commands: []*cobra.Command{
				newCmdLogin(env),
				newCmdNewProject(env),
				newCmdNewApp(env),
				newCmdProject(env),
				newCmdProjects(env),
				explain.NewCmdExplain(CommandName, f, streams),
			},
		},
		// Build and Deploy Commands: tag, import-image and rollout join this
		// group, one file per verb group (images.go, rollout.go).
		{
			Message: "Build and Deploy Commands:",
			Commands: []*cobra.Command{
				newCmdNewBuild(env),
				newCmdStartBuild(env),
				newCmdCancelBuild(env),
				newCmdTag(env),
				newCmdImportImage(env),
				newCmdRollout(env),
			},
		},
		{
			Message: "Application Management Commands:",
			Commands: []*cobra.Command{
				create.NewCmdCreate(f, streams),
				apply.NewCmdApply(CommandName, f, streams),
				get.NewCmdGet(CommandName, f, streams),
				describe.NewCmdDescribe(CommandName, f, streams),
				edit.NewCmdEdit(f, streams),
				replace.NewCmdReplace(f, streams),
				patch.NewCmdPatch(f, streams),
				delete.NewCmdDelete(f, streams),
				label.NewCmdLabel(f, streams),
				annotate.NewCmdAnnotate(CommandName, f, streams),
				withSubcommands(newCmdSet(env), newSetSubcommands(env)...), // set build-secret (build.go), triggers and image (set.go)
				newCmdScale(env),
				newCmdExpose(env),
			},
		},
		// Troubleshooting and Debugging Commands: oc's logs (builds and build
		// configs, later deployment configs), not kubectl's.
		{
			Message: "Troubleshooting and Debugging Commands:",
			Commands: []*cobra.Command{
				newCmdLogs(env),
			},
		},
		{
			Message: "Advanced Commands:",
			Commands: []*cobra.Command{
				newCmdAdm(env),
				apiresources.NewCmdAPIResources(f, streams),
				apiresources.NewCmdAPIVersions(f, streams),
				newCmdSecrets(env),
				wait.NewCmdWait(f, streams),
			},
		},
		{
			Message: "Settings Commands:",
			Commands: []*cobra.Command{
				newCmdLogout(env),
				cmdconfig.NewCmdConfig(f, env.pathOptions(), streams),
				newCmdWhoAmI(env),
				newCmdVersion(env),
				completion.NewCmdCompletion(streams.Out, ""),
			},
		},
	}
	groups.Add(root)
	// "help" is listed by every command's usage line already; without the
	// filter it would leave an empty "Other Commands:" heading.
	templates.ActsAsRootCommand(root, []string{"options", "help"}, groups...)
	root.AddCommand(options.NewCmdOptions(streams.Out))

	renameExamples(root, "kubectl", CommandName)
	return root
}

// withSubcommands adds subs to cmd and returns it.
func withSubcommands(cmd *cobra.Command, subs ...*cobra.Command) *cobra.Command {
	cmd.AddCommand(subs...)
	return cmd
}

// renameExamples makes kubectl's examples read as this command's ("slipway
// get pods"), as oc does for the kubectl commands it embeds.
func renameExamples(cmd *cobra.Command, from, to string) {
	cmd.Example = strings.ReplaceAll(cmd.Example, from+" ", to+" ")
	for _, sub := range cmd.Commands() {
		renameExamples(sub, from, to)
	}
}

// Run executes the root command and returns the process exit code. Errors are
// printed kubectl-style ("error: ..."); kubectl's own commands may also exit
// the process themselves on error, as they do in kubectl and oc.
func Run(root *cobra.Command) int {
	if err := cli.RunNoErrOutput(root); err != nil {
		cmdutil.CheckErr(err) // prints and exits with the right code
		return 1
	}
	return 0
}
