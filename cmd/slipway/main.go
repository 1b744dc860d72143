// Command slipway is OpenShift's application pipeline on one machine:
// `slipway server` runs it, the other verbs are an oc-style client for it.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/slipway-dev/slipway/internal/builder"
	"github.com/slipway-dev/slipway/internal/cli"
	_ "github.com/slipway-dev/slipway/internal/cli/translations"
	"github.com/slipway-dev/slipway/internal/deployer"
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

// run runs one slipway command line and returns its exit code.
func run(args []string) int {
	root := cli.NewRootCommand(genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	root.AddCommand(server.NewCommand(), builder.NewCommand(), deployer.NewCommand())
	root.SetArgs(args)
	return cli.Run(root)
}
