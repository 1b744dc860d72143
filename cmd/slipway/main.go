// Command slipway is OpenShift's application pipeline on one machine:
// `slipway server` runs it, the other verbs are an oc-style client for it.
package main

import (
	"os"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/slipway-dev/slipway/internal/builder"
	"github.com/slipway-dev/slipway/internal/cli"
	_ "github.com/slipway-dev/slipway/internal/cli/translations"
	"github.com/slipway-dev/slipway/internal/server"
)

func main() {
	root := cli.NewRootCommand(genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	root.AddCommand(server.NewCommand(), builder.NewCommand())
	os.Exit(cli.Run(root))
}
