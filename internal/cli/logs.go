package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	appsscheme "github.com/openshift/client-go/apps/clientset/versioned/scheme"
	buildclient "github.com/openshift/client-go/build/clientset/versioned"
	buildscheme "github.com/openshift/client-go/build/clientset/versioned/scheme"
	"github.com/spf13/cobra"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	restclient "k8s.io/client-go/rest"
	"k8s.io/kubectl/pkg/util/templates"
)

type logsOptions struct {
	Follow     bool
	Container  string
	Version    int64
	Tail       int64
	LimitBytes int64
}

// newCmdLogs is oc's logs: kubectl's for pods, plus build configs (their
// newest build, or --version N) and builds, read through builds/log.
func newCmdLogs(env *commandEnv) *cobra.Command {
	o := &logsOptions{Tail: -1}
	cmd := &cobra.Command{
		Use:   "logs [-f] [-c CONTAINER] (POD | TYPE/NAME)",
		Short: "Print the logs for a resource",
		Long: templates.LongDesc(`
			Print the logs for a resource.

			Supported resources are builds, build configs (bc), deployment configs
			(dc) and pods. For a build config the newest build's log is printed, or
			build <bc>-N's with --version=N. For a deployment config the latest
			rollout's deployer log while it runs, an application pod's log once it
			is complete; --version=N picks rollout N. -f follows the log until the
			build, rollout or pod ends.`),
		Example: templates.Examples(`
			# Follow the newest build of build config "time"
			slipway logs -f bc/time

			# The log of the second build of "time"
			slipway logs bc/time --version=2

			# The log of deployment config "mytime"'s latest rollout
			slipway logs dc/mytime

			# A pod's log
			slipway logs time-2-build`),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return errors.New("logs needs exactly one resource: POD or TYPE/NAME")
			}
			if !cmd.Flags().Changed("version") {
				o.Version = 0
			}
			return runLogs(cmd.Context(), env, o, args[0])
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.Follow, "follow", "f", false, "Specify if the logs should be streamed.")
	f.StringVarP(&o.Container, "container", "c", "", "Print the logs of this container")
	f.Int64Var(&o.Version, "version", 0, "View the logs of a particular build (of a build config) or rollout (of a deployment config)")
	f.Int64Var(&o.Tail, "tail", -1, "Lines of recent log file to display. Defaults to -1, showing all log lines.")
	f.Int64Var(&o.LimitBytes, "limit-bytes", 0, "Maximum bytes of logs to return. Defaults to no limit.")
	return cmd
}

// logTarget is what a logs argument names.
type logTarget struct {
	// Kind is "pod", "build", "buildconfig" or "deploymentconfig".
	Kind, Name string
}

func parseLogTarget(arg string) (logTarget, error) {
	kind, name, ok := strings.Cut(arg, "/")
	if !ok {
		return logTarget{Kind: "pod", Name: arg}, nil
	}
	if name == "" {
		return logTarget{}, fmt.Errorf("%q: the name is empty", arg)
	}
	if isDeploymentConfigKind(kind) {
		return logTarget{"deploymentconfig", name}, nil
	}
	switch strings.ToLower(kind) {
	case "po", "pod", "pods":
		return logTarget{"pod", name}, nil
	case "build", "builds", "build.build.openshift.io", "builds.build.openshift.io":
		return logTarget{"build", name}, nil
	case "bc", "buildconfig", "buildconfigs", "buildconfig.build.openshift.io", "buildconfigs.build.openshift.io":
		return logTarget{"buildconfig", name}, nil
	}
	return logTarget{}, fmt.Errorf("logs of %q are not supported: use a pod, build/NAME, bc/NAME or dc/NAME", kind)
}

func runLogs(ctx context.Context, env *commandEnv, o *logsOptions, arg string) error {
	target, err := parseLogTarget(arg)
	if err != nil {
		return err
	}
	var tail, limit *int64
	if o.Tail >= 0 {
		tail = &o.Tail
	}
	if o.LimitBytes > 0 {
		limit = &o.LimitBytes
	}
	out := env.streams.Out
	if target.Kind == "pod" {
		client, namespace, err := secretsClient(env)
		if err != nil {
			return err
		}
		stream, err := client.CoreV1().Pods(namespace).GetLogs(target.Name, &corev1.PodLogOptions{
			Container: o.Container, Follow: o.Follow, TailLines: tail, LimitBytes: limit,
		}).Stream(ctx)
		if err != nil {
			return err
		}
		defer stream.Close()
		_, err = io.Copy(out, stream)
		return err
	}
	if target.Kind == "deploymentconfig" {
		c, err := newAppsClients(env)
		if err != nil {
			return err
		}
		opts := &appsv1.DeploymentLogOptions{Follow: o.Follow, Container: o.Container, TailLines: tail, LimitBytes: limit}
		if o.Version > 0 {
			v := o.Version
			opts.Version = &v
		}
		return streamDeploymentLog(ctx, c, target.Name, opts, out)
	}

	builds, _, namespace, err := buildClients(env)
	if err != nil {
		return err
	}
	opts := &buildv1.BuildLogOptions{Follow: o.Follow, Container: o.Container, TailLines: tail, LimitBytes: limit}
	name := target.Name
	switch {
	case target.Kind == "buildconfig" && o.Version > 0:
		name = fmt.Sprintf("%s-%d", target.Name, o.Version)
	case target.Kind == "buildconfig":
		list, err := builds.BuildV1().Builds(namespace).List(ctx, metav1.ListOptions{
			LabelSelector: labels.SelectorFromSet(labels.Set{buildv1.BuildConfigLabel: target.Name}).String(),
		})
		if err != nil {
			return err
		}
		newest := newestBuild(list.Items)
		if newest == nil {
			return fmt.Errorf("no builds found for %q", target.Name)
		}
		name = newest.Name
	case o.Version > 0:
		v := o.Version
		opts.Version = &v
	}
	return streamBuildLog(ctx, builds, namespace, name, opts, out)
}

// newestBuild is the build with the highest build number, the newest
// created among equals.
func newestBuild(items []buildv1.Build) *buildv1.Build {
	if len(items) == 0 {
		return nil
	}
	number := func(b *buildv1.Build) int64 {
		n, _ := strconv.ParseInt(b.Annotations[buildv1.BuildNumberAnnotation], 10, 64)
		return n
	}
	sorted := append([]buildv1.Build(nil), items...)
	sort.SliceStable(sorted, func(i, j int) bool {
		ni, nj := number(&sorted[i]), number(&sorted[j])
		if ni != nj {
			return ni > nj
		}
		return sorted[j].CreationTimestamp.Before(&sorted[i].CreationTimestamp)
	})
	return &sorted[0]
}

// streamDeploymentLog copies deploymentconfigs/<name>/log to out.
func streamDeploymentLog(ctx context.Context, c *appsClients, name string, opts *appsv1.DeploymentLogOptions, out io.Writer) error {
	err := streamLog(ctx, c.apps.AppsV1().RESTClient(), c.namespace, "deploymentconfigs", name, opts, appsscheme.ParameterCodec, out)
	if err != nil {
		return fmt.Errorf("reading the log of %s: %w", dcRef(name), err)
	}
	return nil
}

// streamBuildLog copies builds/<name>/log to out.
func streamBuildLog(ctx context.Context, builds buildclient.Interface, namespace, name string, opts *buildv1.BuildLogOptions, out io.Writer) error {
	return streamLog(ctx, builds.BuildV1().RESTClient(), namespace, "builds", name, opts, buildscheme.ParameterCodec, out)
}

// streamLog copies the log subresource of resource/name, asked for with
// opts in codec's query parameters, to out.
func streamLog(ctx context.Context, client restclient.Interface, namespace, resource, name string, opts runtime.Object, codec runtime.ParameterCodec, out io.Writer) error {
	stream, err := client.Get().Namespace(namespace).Resource(resource).Name(name).SubResource("log").
		VersionedParams(opts, codec).Stream(ctx)
	if err != nil {
		return err
	}
	defer stream.Close()
	_, err = io.Copy(out, stream)
	return err
}
