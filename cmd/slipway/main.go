// Command slipway is OpenShift's application pipeline on one machine:
// `slipway server` runs it, the other verbs are an oc-style client for it.
package main

import (
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/slipway-dev/slipway/internal/builder"
	"github.com/slipway-dev/slipway/internal/cli"
	_ "github.com/slipway-dev/slipway/internal/cli/translations"
	"github.com/slipway-dev/slipway/internal/deployer"
	"github.com/slipway-dev/slipway/internal/gcpause"
	_ "github.com/slipway-dev/slipway/internal/hugeheap" // huge pages for the heap from the start (see the package)
	"github.com/slipway-dev/slipway/internal/server"
	"github.com/slipway-dev/slipway/internal/standby"
)

func main() {
	if standby.Requested() {
		// Started ahead of need by the node agent: wait for the command.
		os.Exit(standby.Serve(run))
	}
	os.Exit(run(os.Args[1:]))
}

// podCommands are the verbs that build and deployment pods run. They take
// everything from their environment, so they run without the client's
// command tree (~10 ms to build, on the path of every build and rollout).
var podCommands = map[string]func() *cobra.Command{
	"builder":  builder.NewCommand,
	"deployer": deployer.NewCommand,
}

// gcWindow is how long a command other than the server runs before its
// garbage collector starts: most verbs, and a warm build's builder, end
// within it and never collect (internal/gcpause).
const gcWindow = time.Second

// run runs one slipway command line and returns its exit code.
func run(args []string) int {
	if len(args) > 0 && args[0] == "server" {
		gcpause.Resume() // long-running: collect from the start
	} else {
		gcpause.ResumeAfter(gcWindow)
	}
	if len(args) > 0 {
		if newCommand, ok := podCommands[args[0]]; ok {
			cmd := newCommand()
			cmd.SetArgs(args[1:])
			return cli.Run(cmd)
		}
	}
	root := cli.NewRootCommand(genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	for _, newCommand := range podCommands {
		root.AddCommand(newCommand())
	}
	root.AddCommand(server.NewCommand())
	root.SetArgs(args)
	return cli.Run(root)
}
