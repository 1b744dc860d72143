package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	appsv1 "github.com/openshift/api/apps/v1"
	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	appsclient "github.com/openshift/client-go/apps/clientset/versioned"
	appsv1client "github.com/openshift/client-go/apps/clientset/versioned/typed/apps/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	"github.com/spf13/cobra"

	kappsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/kubectl/pkg/cmd/rollout"
	"k8s.io/kubectl/pkg/cmd/scale"
	"k8s.io/kubectl/pkg/util/templates"
	"k8s.io/utils/ptr"

	"github.com/slipway-dev/slipway/internal/buildgenerator"
	"github.com/slipway-dev/slipway/internal/deployutil"
	"github.com/slipway-dev/slipway/internal/triggerannotation"
)

// appsClients are the clients the apps verbs use and the namespace they
// work in (-n, else the context's namespace).
type appsClients struct {
	kube      kubernetes.Interface
	apps      appsclient.Interface
	images    imageclient.Interface
	namespace string
}

func newAppsClients(env *commandEnv) (*appsClients, error) {
	namespace, _, err := env.factory.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, err
	}
	config, err := env.factory.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	c := &appsClients{namespace: namespace}
	if c.kube, err = kubernetes.NewForConfig(config); err != nil {
		return nil, err
	}
	if c.apps, err = appsclient.NewForConfig(config); err != nil {
		return nil, err
	}
	if c.images, err = imageclient.NewForConfig(config); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *appsClients) dcs() appsv1client.DeploymentConfigInterface {
	return c.apps.AppsV1().DeploymentConfigs(c.namespace)
}

// deploymentConfigName returns NAME from "dc/NAME" (or deploymentconfig/,
// deploymentconfigs.apps.openshift.io/, ...); a bare NAME is accepted too.
func deploymentConfigName(arg string) (string, error) {
	kind, name, ok := strings.Cut(arg, "/")
	if !ok {
		return arg, nil
	}
	if !isDeploymentConfigKind(kind) {
		return "", fmt.Errorf("%q is not a deployment config: only dc/NAME is supported", arg)
	}
	if name == "" {
		return "", fmt.Errorf("%q: the name is empty", arg)
	}
	return name, nil
}

// isDeploymentConfigKind reports whether a TYPE of TYPE/NAME names
// deployment configs.
func isDeploymentConfigKind(kind string) bool {
	switch strings.ToLower(kind) {
	case "dc", "deploymentconfig", "deploymentconfigs", "deploymentconfig.apps.openshift.io", "deploymentconfigs.apps.openshift.io":
		return true
	}
	return false
}

// dcRef is how oc names a deployment config in its messages.
func dcRef(name string) string { return "deploymentconfig.apps.openshift.io/" + name }

// ---------------------------------------------------------------- new-app

const generatedByNewApp = "OpenShiftNewApp"

// newAppOptions are the flags and argument of new-app.
type newAppOptions struct {
	Source                      string
	Name                        string
	Env                         []string
	Labels                      []string
	ContextDir                  string
	Strategy                    string
	AsDeploymentConfig          bool
	AllowMissingImageStreamTags bool
	InsecureRegistry            bool
}

func newCmdNewApp(env *commandEnv) *cobra.Command {
	o := &newAppOptions{}
	cmd := &cobra.Command{
		Use:   "new-app (IMAGE | IMAGESTREAM:TAG | GIT_URL) [--name=NAME] [-e KEY=VALUE] [-l KEY=VALUE]",
		Short: "Create a new application",
		Long: templates.LongDesc(`
			Create a new application from an image stream tag of the project, a
			container image or a git repository with a Dockerfile.

			It creates a Deployment whose image.openshift.io/triggers annotation
			follows the image stream tag (the Deployment rolls out when its pod
			template or the tag changes), and a Service for the ports the image
			exposes; --as-deployment-config creates a DeploymentConfig instead. An
			image from a registry gets an image stream that imports it; a git
			repository gets the build configuration new-build makes, and the
			application runs its output.`),
		Example: templates.Examples(`
			# Run the image stream tag mytime:latest of the current project
			slipway new-app mytime:latest --name mytime

			# The same as a DeploymentConfig
			slipway new-app mytime:latest --name mytime --as-deployment-config

			# Run an image from a registry, with an environment variable
			slipway new-app quay.io/me/app:1.0 -e MODE=prod

			# Build a git repository's Dockerfile and run the result
			slipway new-app https://github.com/VeerMuchandi/time --context-dir=busybox`),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return errors.New("new-app needs exactly one image, image stream tag or git repository")
			}
			o.Source = args[0]
			return runNewApp(cmd.Context(), env, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Name, "name", "", "Set name to use for generated application artifacts")
	f.StringArrayVarP(&o.Env, "env", "e", nil, "Specify a key-value pair for an environment variable to set into each container.")
	f.StringArrayVarP(&o.Labels, "labels", "l", nil, "Label to set in all resources for this application.")
	f.StringVar(&o.ContextDir, "context-dir", "", "Context directory to be used for the build.")
	f.StringVar(&o.Strategy, "strategy", "", "Specify the build strategy to use if you don't want to detect (docker).")
	f.BoolVar(&o.AsDeploymentConfig, "as-deployment-config", false, "If true create this application as a deployment config, which allows for hooks and custom strategies.")
	f.BoolVar(&o.AllowMissingImageStreamTags, "allow-missing-imagestream-tags", false, "If true, indicates that image stream tags that don't exist should still be used.")
	f.BoolVar(&o.InsecureRegistry, "insecure-registry", false, "If true, indicates that the referenced container images are on insecure registries and should bypass certificate checking")
	return cmd
}

// isGitURL tells a git repository from an image reference: image
// references have no scheme and no scp-like "user@host:" prefix.
func isGitURL(s string) bool {
	return strings.Contains(s, "://") || strings.HasPrefix(s, "git@")
}

// appImage is what new-app found for the image the application runs.
type appImage struct {
	// Stream and Tag are the image stream tag the application's trigger
	// follows.
	Stream, Tag string
	// PullSpec is the tag's current pull spec ("" until it resolves), as
	// the image trigger resolves it.
	PullSpec string
	// Found says where the image was found, oc's "--> Found ..." line.
	Found string
	// Ports are the ports the image exposes ("8080/tcp").
	Ports []string
	// NewStream is the image stream to create (an image from a registry, or
	// a git build's output); nil when it exists.
	NewStream *imagev1.ImageStream
}

func runNewApp(ctx context.Context, env *commandEnv, o *newAppOptions) error {
	if o.Strategy != "" && o.Strategy != "docker" {
		return fmt.Errorf("--strategy=%s is not supported: only docker builds are", o.Strategy)
	}
	extraLabels, err := parseLabels(o.Labels)
	if err != nil {
		return err
	}
	vars, err := parseKeyValues("env", o.Env)
	if err != nil {
		return err
	}
	c, err := newAppsClients(env)
	if err != nil {
		return err
	}
	out := env.streams.Out

	var image *appImage
	var build *newBuildObjects
	switch {
	case isGitURL(o.Source):
		nb := &newBuildOptions{SourceURL: o.Source, Name: o.Name, ContextDir: o.ContextDir, Strategy: o.Strategy}
		dockerfile, err := fetchDockerfile(ctx, o.Source, o.ContextDir)
		if err != nil {
			return err
		}
		if build, err = generateNewBuild(nb, dockerfile, randomSecret); err != nil {
			return err
		}
		stream, tag, _ := strings.Cut(build.Config.Spec.Output.To.Name, ":")
		image = &appImage{Stream: stream, Tag: tag, Ports: exposedPorts(dockerfile), NewStream: build.OutputStream}
		build.OutputStream = nil // created with the application's labels below
		fmt.Fprintf(out, "--> Found a Dockerfile in %s\n\n", o.Source)
		fmt.Fprintf(out, "    * A Docker build using source code from %s will be created\n", o.Source)
		fmt.Fprintf(out, "      * The resulting image will be pushed to image stream tag %q\n", build.Config.Spec.Output.To.Name)
	case !hasRegistry(o.Source):
		image, err = findImageStreamTag(ctx, c, o)
		if err != nil {
			return err
		}
		if image != nil {
			break
		}
		fallthrough
	default:
		if image, err = findRegistryImage(ctx, c, o); err != nil {
			return err
		}
	}
	name := o.Name
	if name == "" {
		name = image.Stream
	}
	name = strings.ToLower(name)
	if image.Found != "" {
		fmt.Fprintf(out, "%s\n\n", image.Found)
	}
	if o.AsDeploymentConfig {
		// oc describes only deployment configs this way.
		fmt.Fprintf(out, "    * This image will be deployed in deployment config %q\n", name)
		for _, p := range image.Ports {
			fmt.Fprintf(out, "    * Port %s will be load balanced by service %q\n", p, name)
		}
		fmt.Fprintln(out)
	}

	objects := generateNewApp(name, image, vars, extraLabels, o.AsDeploymentConfig)
	fmt.Fprintln(out, "--> Creating resources ...")
	if build != nil {
		build.Config.Labels = withLabels(build.Config.Labels, objects.Labels)
		if build.BaseStream != nil {
			build.BaseStream.Labels = withLabels(build.BaseStream.Labels, objects.Labels)
			if err := createImageStream(ctx, c.images, c.namespace, build.BaseStream, out); err != nil {
				return err
			}
		}
	}
	if objects.Stream != nil {
		if err := createImageStream(ctx, c.images, c.namespace, objects.Stream, out); err != nil {
			return err
		}
	}
	if build != nil {
		builds, _, _, err := buildClients(env)
		if err != nil {
			return err
		}
		if _, err := builds.BuildV1().BuildConfigs(c.namespace).Create(ctx, build.Config, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating buildconfig %q: %w", build.Config.Name, err)
		}
		fmt.Fprintf(out, "    buildconfig.build.openshift.io %q created\n", build.Config.Name)
	}
	if objects.Config != nil {
		if _, err := c.dcs().Create(ctx, objects.Config, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating deploymentconfig %q: %w", name, err)
		}
		fmt.Fprintf(out, "    deploymentconfig.apps.openshift.io %q created\n", name)
	} else {
		if _, err := c.kube.AppsV1().Deployments(c.namespace).Create(ctx, objects.Deployment, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating deployment %q: %w", name, err)
		}
		fmt.Fprintf(out, "    deployment.apps %q created\n", name)
	}
	if objects.Service != nil {
		if _, err := c.kube.CoreV1().Services(c.namespace).Create(ctx, objects.Service, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating service %q: %w", name, err)
		}
		fmt.Fprintf(out, "    service %q created\n", name)
	}
	fmt.Fprintln(out, "--> Success")
	if build != nil {
		fmt.Fprintf(out, "    Build scheduled, use '%s logs -f bc/%s' to track its progress.\n", CommandName, build.Config.Name)
	}
	kind := "deployment"
	if objects.Config != nil {
		kind = "dc"
	}
	if objects.Service != nil {
		fmt.Fprintln(out, "    Application is not exposed. You can expose it on a port of this host by executing the command below:")
		if objects.Config != nil {
			fmt.Fprintf(out, "     '%s expose dc/%s --port=%d --host-port=HOST_PORT'\n", CommandName, name, objects.Service.Spec.Ports[0].Port)
		} else {
			fmt.Fprintf(out, "     '%s expose svc/%s --host-port=HOST_PORT'\n", CommandName, name)
		}
	}
	fmt.Fprintf(out, "    Run '%s rollout status %s/%s' to follow the rollout.\n", CommandName, kind, name)
	return nil
}

// shortDigest is the first 7 hex digits of an image digest, as oc shows
// image IDs.
func shortDigest(digest string) string {
	_, hex, _ := strings.Cut(digest, ":")
	if len(hex) > 7 {
		hex = hex[:7]
	}
	return hex
}

// parseLabels reads -l KEY=VALUE flags.
func parseLabels(values []string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range values {
		for _, kv := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("invalid label %q: use KEY=VALUE", kv)
			}
			out[k] = val
		}
	}
	return out, nil
}

func withLabels(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, b)
	return out
}

// findImageStreamTag resolves STREAM[:TAG] in the project; nil when the
// project has no such image stream (new-app then looks for an image of
// that name in a registry).
func findImageStreamTag(ctx context.Context, c *appsClients, o *newAppOptions) (*appImage, error) {
	stream, tag := o.Source, "latest"
	if i := strings.LastIndex(stream, ":"); i >= 0 {
		stream, tag = stream[:i], stream[i+1:]
	}
	if strings.Contains(stream, "@") || strings.Contains(stream, "/") {
		return nil, nil
	}
	is, err := c.images.ImageV1().ImageStreams(c.namespace).Get(ctx, stream, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking up image stream %q: %w", stream, err)
	}
	image := &appImage{Stream: stream, Tag: tag}
	istag, err := c.images.ImageV1().ImageStreamTags(c.namespace).Get(ctx, stream+":"+tag, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) && o.AllowMissingImageStreamTags:
		// Deployed once the tag exists: the image trigger fills the image in.
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("image stream %q has no tag %q yet: use --allow-missing-imagestream-tags to deploy it once it has one", is.Namespace+"/"+stream, tag)
	case err != nil:
		return nil, fmt.Errorf("looking up image stream tag %s:%s: %w", stream, tag, err)
	default:
		// What the image trigger writes (the tag's newest event, as its
		// reference policy says), so that the first rollout is the only
		// one.
		image.PullSpec = buildgenerator.LatestTaggedImage(is, tag)
		if image.PullSpec == "" {
			image.PullSpec = istag.Image.DockerImageReference
		}
		image.Found = fmt.Sprintf("--> Found image %s in image stream %q under tag %q for %q", shortDigest(istag.Image.Name), c.namespace+"/"+stream, tag, o.Source)
		if image.Ports, err = imagePorts(&istag.Image); err != nil {
			return nil, err
		}
	}
	return image, nil
}

// findRegistryImage asks the server to look up the image in its registry
// (a dry-run import), for its exposed ports, and plans the image stream
// that will import it.
func findRegistryImage(ctx context.Context, c *appsClients, o *newAppOptions) (*appImage, error) {
	stream, tag := imageStreamNameAndTag(o.Source)
	name := stream
	if o.Name != "" {
		name = strings.ToLower(o.Name)
	}
	policy := imagev1.TagImportPolicy{Insecure: o.InsecureRegistry, ImportMode: imagev1.ImportModeLegacy}
	isi, err := c.images.ImageV1().ImageStreamImports(c.namespace).Create(ctx, &imagev1.ImageStreamImport{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: imagev1.ImageStreamImportSpec{
			Import: false,
			Images: []imagev1.ImageImportSpec{{
				From:         corev1.ObjectReference{Kind: "DockerImage", Name: o.Source},
				To:           &corev1.LocalObjectReference{Name: tag},
				ImportPolicy: policy,
			}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("looking up image %s: %w", o.Source, err)
	}
	if len(isi.Status.Images) != 1 {
		return nil, fmt.Errorf("looking up image %s: the server returned %d results", o.Source, len(isi.Status.Images))
	}
	result := isi.Status.Images[0]
	if result.Status.Status != metav1.StatusSuccess || result.Image == nil {
		return nil, fmt.Errorf("unable to locate any images in image streams or registries with name %q: %s", o.Source, result.Status.Message)
	}
	ports, err := imagePorts(result.Image)
	if err != nil {
		return nil, err
	}
	return &appImage{
		Stream: name, Tag: tag, Ports: ports,
		Found: fmt.Sprintf("--> Found container image %s for %q", shortDigest(result.Image.Name), o.Source),
		NewStream: &imagev1.ImageStream{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{
				Name:            tag,
				Annotations:     map[string]string{"openshift.io/imported-from": o.Source},
				From:            &corev1.ObjectReference{Kind: "DockerImage", Name: o.Source},
				ImportPolicy:    policy,
				ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy},
			}}},
		},
	}, nil
}

// imagePorts are the ports an Image's config exposes, sorted ("8080/tcp").
func imagePorts(image *imagev1.Image) ([]string, error) {
	if len(image.DockerImageMetadata.Raw) == 0 {
		return nil, nil
	}
	var meta docker10.DockerImage
	if err := json.Unmarshal(image.DockerImageMetadata.Raw, &meta); err != nil {
		return nil, fmt.Errorf("reading the metadata of image %s: %w", image.Name, err)
	}
	var ports []string
	if meta.Config != nil {
		for p := range meta.Config.ExposedPorts {
			ports = append(ports, p)
		}
	}
	slices.Sort(ports)
	return ports, nil
}

// exposedPorts are the ports a Dockerfile's EXPOSE lines name ("8080/tcp").
func exposedPorts(dockerfile string) []string {
	var ports []string
	for _, line := range strings.Split(strings.ReplaceAll(dockerfile, "\\\n", " "), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 || !strings.EqualFold(fields[0], "EXPOSE") {
			continue
		}
		for _, p := range fields[1:] {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			ports = append(ports, strings.ToLower(p))
		}
	}
	slices.Sort(ports)
	return slices.Compact(ports)
}

// newAppObjects are what new-app creates for the image: a Deployment or,
// with --as-deployment-config, a DeploymentConfig.
type newAppObjects struct {
	Labels     map[string]string
	Stream     *imagev1.ImageStream
	Deployment *kappsv1.Deployment
	Config     *appsv1.DeploymentConfig
	Service    *corev1.Service
}

// deploymentLabel is the label oc's new-app selects a Deployment's pods by.
const deploymentLabel = "deployment"

// generateNewApp makes new-app's Deployment (or DeploymentConfig) and
// Service (and image stream) named name for image, as oc does.
func generateNewApp(name string, image *appImage, vars []corev1.EnvVar, extraLabels map[string]string, asDeploymentConfig bool) *newAppObjects {
	objLabels := withLabels(map[string]string{
		"app":                         name,
		"app.kubernetes.io/instance":  name,
		"app.kubernetes.io/component": name,
	}, extraLabels)
	generatedBy := func() map[string]string { return map[string]string{"openshift.io/generated-by": generatedByNewApp} }
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Labels: maps.Clone(objLabels), Annotations: generatedBy()}
	}
	gen := &newAppObjects{Labels: objLabels}
	if image.NewStream != nil {
		gen.Stream = image.NewStream.DeepCopy()
		gen.Stream.Labels = withLabels(gen.Stream.Labels, objLabels)
		gen.Stream.Annotations = withLabels(gen.Stream.Annotations, generatedBy())
	}

	var containerPorts []corev1.ContainerPort
	var servicePorts []corev1.ServicePort
	for _, p := range image.Ports {
		number, proto, _ := strings.Cut(p, "/")
		n, err := strconv.ParseInt(number, 10, 32)
		if err != nil || n <= 0 || n > 65535 {
			continue // a port range or a typo in the image: oc skips those too
		}
		protocol := corev1.Protocol(strings.ToUpper(proto))
		if protocol == "" {
			protocol = corev1.ProtocolTCP
		}
		containerPorts = append(containerPorts, corev1.ContainerPort{ContainerPort: int32(n), Protocol: protocol})
		servicePorts = append(servicePorts, corev1.ServicePort{
			Name: fmt.Sprintf("%d-%s", n, strings.ToLower(string(protocol))), Port: int32(n), Protocol: protocol,
			TargetPort: intstr.FromInt32(int32(n)),
		})
	}

	selector := map[string]string{deploymentLabel: name}
	if asDeploymentConfig {
		selector = map[string]string{deployutil.DeploymentConfigLabel: name}
	}
	pullSpec := image.PullSpec
	if pullSpec == "" {
		pullSpec = " " // filled in by the image trigger
	}
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: maps.Clone(selector), Annotations: generatedBy()},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: name, Image: pullSpec, Ports: containerPorts, Env: vars,
		}}},
	}
	istag := image.Stream + ":" + image.Tag
	if asDeploymentConfig {
		gen.Config = &appsv1.DeploymentConfig{
			ObjectMeta: meta(),
			Spec: appsv1.DeploymentConfigSpec{
				Replicas: 1,
				Selector: selector,
				Strategy: appsv1.DeploymentStrategy{Type: appsv1.DeploymentStrategyTypeRolling},
				Template: &template,
				Triggers: appsv1.DeploymentTriggerPolicies{
					{Type: appsv1.DeploymentTriggerOnConfigChange},
					{Type: appsv1.DeploymentTriggerOnImageChange, ImageChangeParams: &appsv1.DeploymentTriggerImageChangeParams{
						Automatic:      true,
						ContainerNames: []string{name},
						From:           corev1.ObjectReference{Kind: "ImageStreamTag", Name: istag},
					}},
				},
			},
		}
	} else {
		// oc leaves the image blank (" ") and lets the trigger fill it
		// in; with the tag's image written already, Kubernetes makes one
		// ReplicaSet instead of a first one whose pods cannot start.
		gen.Deployment = &kappsv1.Deployment{
			ObjectMeta: meta(),
			Spec: kappsv1.DeploymentSpec{
				Replicas: ptr.To[int32](1),
				Selector: &metav1.LabelSelector{MatchLabels: selector},
				Template: template,
			},
		}
		gen.Deployment.Annotations[triggerannotation.Key] = triggerannotation.Format([]triggerannotation.Trigger{{
			From:      triggerannotation.Reference{Kind: "ImageStreamTag", Name: istag},
			FieldPath: triggerannotation.ImageFieldPath("spec.template.spec", name, false),
		}})
	}
	if len(servicePorts) > 0 {
		gen.Service = &corev1.Service{
			ObjectMeta: meta(),
			Spec:       corev1.ServiceSpec{Selector: maps.Clone(selector), Ports: servicePorts},
		}
	}
	return gen
}

// ---------------------------------------------------------------- rollout

// newCmdRollout is oc's rollout: kubectl's history, pause, resume, undo,
// status and restart for deployments, daemon sets and stateful sets, the
// same verbs (and latest, cancel, retry) for deployment configs.
func newCmdRollout(env *commandEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout SUBCOMMAND",
		Short: "Manage the rollout of a resource",
		Long: templates.LongDesc(`
			Manage the rollout of one or more resources: follow it, view its
			history, pause and resume it, roll back to an earlier revision or
			restart it. Deployment configs can also be rolled out again from the
			latest state of their triggers, and have a rollout cancelled or a
			failed one retried.

			Valid resource types include:

			   * deployments
			   * daemonsets
			   * statefulsets
			   * deploymentconfigs (dc; a bare NAME names one)`),
		Run: func(cmd *cobra.Command, _ []string) { _ = cmd.Help() },
	}
	out, errOut := env.streams.Out, env.streams.ErrOut
	clients := func() (*appsClients, error) { return newAppsClients(env) }

	// dcOnly is a verb only deployment configs have (as in oc).
	dcOnly := func(use, short string, run func(ctx context.Context, c *appsClients, name string) error) *cobra.Command {
		return &cobra.Command{
			Use:   use + " dc/NAME",
			Short: short,
			RunE: func(cmd *cobra.Command, args []string) error {
				name, ok, err := rolloutDeploymentConfig(args)
				if err != nil {
					return err
				}
				if !ok {
					return notADeploymentConfig(use, args)
				}
				c, err := clients()
				if err != nil {
					return err
				}
				return run(cmd.Context(), c, name)
			},
		}
	}
	// withDeploymentConfigs makes kubectl's verb kubectlCmd take deployment
	// configs to run instead.
	withDeploymentConfigs := func(kubectlCmd *cobra.Command, run func(cmd *cobra.Command, c *appsClients, name string) error) *cobra.Command {
		kubectlRun := kubectlCmd.Run
		kubectlCmd.Run = nil
		kubectlCmd.RunE = func(cmd *cobra.Command, args []string) error {
			name, ok, err := rolloutDeploymentConfig(args)
			if err != nil {
				return err
			}
			if !ok {
				kubectlRun(cmd, args)
				return nil
			}
			c, err := clients()
			if err != nil {
				return err
			}
			return run(cmd, c, name)
		}
		return kubectlCmd
	}
	int64Flag := func(cmd *cobra.Command, name string) int64 {
		v, _ := cmd.Flags().GetInt64(name)
		return v
	}
	f, streams := env.factory, env.streams

	cmd.AddCommand(dcOnly("latest", "Start a new rollout for a deployment config with the latest state from its triggers",
		func(ctx context.Context, c *appsClients, name string) error { return rolloutLatest(ctx, c, name, out) }))
	cmd.AddCommand(dcOnly("cancel", "Cancel the in-progress rollout of a deployment config",
		func(ctx context.Context, c *appsClients, name string) error { return rolloutCancel(ctx, c, name, out) }))
	cmd.AddCommand(dcOnly("retry", "Retry the latest failed rollout of a deployment config",
		func(ctx context.Context, c *appsClients, name string) error { return rolloutRetry(ctx, c, name, out) }))
	cmd.AddCommand(withDeploymentConfigs(rollout.NewCmdRolloutPause(f, streams),
		func(cmd *cobra.Command, c *appsClients, name string) error {
			return rolloutPause(cmd.Context(), c, name, true, out)
		}))
	cmd.AddCommand(withDeploymentConfigs(rollout.NewCmdRolloutResume(f, streams),
		func(cmd *cobra.Command, c *appsClients, name string) error {
			return rolloutPause(cmd.Context(), c, name, false, out)
		}))
	cmd.AddCommand(withDeploymentConfigs(rollout.NewCmdRolloutHistory(f, streams),
		func(cmd *cobra.Command, c *appsClients, name string) error {
			return rolloutHistory(cmd.Context(), c, name, int64Flag(cmd, "revision"), out)
		}))
	cmd.AddCommand(withDeploymentConfigs(rollout.NewCmdRolloutUndo(CommandName, f, streams),
		func(cmd *cobra.Command, c *appsClients, name string) error {
			return rolloutUndo(cmd.Context(), c, name, int64Flag(cmd, "to-revision"), out, errOut)
		}))
	cmd.AddCommand(withDeploymentConfigs(rollout.NewCmdRolloutStatus(f, streams),
		func(cmd *cobra.Command, c *appsClients, name string) error {
			follow, _ := cmd.Flags().GetBool("watch")
			return rolloutStatus(cmd.Context(), c, name, follow, out)
		}))
	cmd.AddCommand(rollout.NewCmdRolloutRestart(f, streams))
	return cmd
}

// rolloutDeploymentConfig returns the NAME of "dc/NAME", "dc NAME" or a
// bare "NAME" (a deployment config, as Slipway has always read it); false
// for another kind, which kubectl's rollout handles.
func rolloutDeploymentConfig(args []string) (string, bool, error) {
	switch len(args) {
	case 1:
		kind, name, ok := strings.Cut(args[0], "/")
		if !ok {
			return args[0], true, nil
		}
		if !isDeploymentConfigKind(kind) {
			return "", false, nil
		}
		if name == "" {
			return "", false, fmt.Errorf("%q: the name is empty", args[0])
		}
		return name, true, nil
	case 2:
		if isDeploymentConfigKind(args[0]) {
			return args[1], true, nil
		}
	}
	return "", false, nil
}

// notADeploymentConfig is oc's answer to a deployment-config-only verb
// on another kind, with the verb that does it for a Deployment.
func notADeploymentConfig(verb string, args []string) error {
	target := strings.Join(args, "/")
	_, name, _ := strings.Cut(target, "/")
	if name == "" {
		return fmt.Errorf("rollout %s needs exactly one dc/NAME", verb)
	}
	err := fmt.Errorf("%s is not a deployment config", name)
	if verb == "latest" {
		err = fmt.Errorf("%w: use '%s rollout restart %s' to roll it out again", err, CommandName, target)
	}
	return err
}

func rolloutLatest(ctx context.Context, c *appsClients, name string, out io.Writer) error {
	dc, err := c.dcs().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if dc.Spec.Paused {
		return errors.New("cannot deploy a paused deployment config")
	}
	_, err = c.dcs().Instantiate(ctx, name,
		&appsv1.DeploymentRequest{Name: name, Latest: true, Force: true}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("rolling out %s: %w", name, err)
	}
	fmt.Fprintf(out, "%s rolled out\n", dcRef(name))
	return nil
}

// deployments returns the deployments (RCs) of DeploymentConfig name,
// oldest version first.
func (c *appsClients) deployments(ctx context.Context, name string) ([]*corev1.ReplicationController, error) {
	list, err := c.kube.CoreV1().ReplicationControllers(c.namespace).List(ctx, metav1.ListOptions{
		LabelSelector: deployutil.ConfigSelector(name).String(),
	})
	if err != nil {
		return nil, fmt.Errorf("listing the deployments of %s: %w", name, err)
	}
	rcs := make([]*corev1.ReplicationController, len(list.Items))
	for i := range list.Items {
		rcs[i] = &list.Items[i]
	}
	deployutil.SortByVersion(rcs)
	return rcs, nil
}

func rolloutCancel(ctx context.Context, c *appsClients, name string, out io.Writer) error {
	dc, err := c.dcs().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	rcs, err := c.deployments(ctx, name)
	if err != nil {
		return err
	}
	cancelled := 0
	for _, rc := range rcs {
		if deployutil.IsTerminated(rc) || deployutil.IsCancelled(rc) {
			continue
		}
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			current, err := c.kube.CoreV1().ReplicationControllers(c.namespace).Get(ctx, rc.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if deployutil.IsTerminated(current) {
				return nil
			}
			deployutil.SetCancelledByUser(current)
			_, err = c.kube.CoreV1().ReplicationControllers(c.namespace).Update(ctx, current, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			return fmt.Errorf("cancelling deployment %s: %w", rc.Name, err)
		}
		cancelled++
	}
	if cancelled == 0 {
		latest := dc.Status.LatestVersion
		phase := "not started"
		if len(rcs) > 0 {
			phase = strings.ToLower(string(deployutil.PhaseFor(rcs[len(rcs)-1])))
		}
		fmt.Fprintf(out, "No rollout is in progress (latest rollout #%d %s)\n", latest, phase)
		return nil
	}
	fmt.Fprintf(out, "%s cancelling\n", dcRef(name))
	return nil
}

func rolloutRetry(ctx context.Context, c *appsClients, name string, out io.Writer) error {
	dc, err := c.dcs().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if dc.Status.LatestVersion == 0 {
		return fmt.Errorf("no rollouts found for %q", name)
	}
	rcName := deployutil.DeploymentName(name, dc.Status.LatestVersion)
	rcs := c.kube.CoreV1().ReplicationControllers(c.namespace)
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		rc, err := rcs.Get(ctx, rcName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !deployutil.IsFailed(rc) {
			return fmt.Errorf("rollout #%d is %s; only failed deployments can be retried", dc.Status.LatestVersion, strings.ToLower(string(deployutil.PhaseFor(rc))))
		}
		// The deployer and hook pods of the failed attempt go first, or
		// the new deployer pod's name would be taken.
		if err := c.kube.CoreV1().Pods(c.namespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{
			LabelSelector: deployutil.DeployerPodSelector(rcName).String(),
		}); err != nil {
			return fmt.Errorf("deleting the deployer pods of %s: %w", rcName, err)
		}
		rc.Annotations[appsv1.DeploymentStatusAnnotation] = string(appsv1.DeploymentStatusNew)
		deployutil.ClearCancellation(rc)
		_, err = rcs.Update(ctx, rc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s retried rollout #%d\n", dcRef(name), dc.Status.LatestVersion)
	return nil
}

func rolloutPause(ctx context.Context, c *appsClients, name string, pause bool, out io.Writer) error {
	dc, err := c.dcs().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	verb := map[bool]string{true: "paused", false: "resumed"}[pause]
	if dc.Spec.Paused == pause {
		if pause {
			return fmt.Errorf("%s is already paused", dcRef(name))
		}
		return fmt.Errorf("%s is not paused", dcRef(name))
	}
	patch := fmt.Sprintf(`{"spec":{"paused":%t}}`, pause)
	if _, err := c.dcs().Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s %s\n", dcRef(name), verb)
	return nil
}

func rolloutHistory(ctx context.Context, c *appsClients, name string, revision int64, out io.Writer) error {
	if _, err := c.dcs().Get(ctx, name, metav1.GetOptions{}); err != nil {
		return err
	}
	rcs, err := c.deployments(ctx, name)
	if err != nil {
		return err
	}
	if len(rcs) == 0 {
		return fmt.Errorf("no rollout history found for %s", dcRef(name))
	}
	if revision > 0 {
		for _, rc := range rcs {
			if deployutil.VersionFor(rc) == revision {
				fmt.Fprintf(out, "deploymentconfigs %q with revision #%d\n", name, revision)
				describePodTemplate(out, rc.Spec.Template)
				return nil
			}
		}
		return fmt.Errorf("unable to find the specified revision")
	}
	w := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	fmt.Fprintf(w, "deploymentconfigs %q\n", name)
	fmt.Fprintln(w, "REVISION\tSTATUS\tCAUSE")
	for _, rc := range rcs {
		cause := deployutil.StatusReasonFor(rc)
		if cause == "" {
			cause = "<unknown>"
		}
		fmt.Fprintf(w, "%d\t%s\t%s\n", deployutil.VersionFor(rc), deployutil.PhaseFor(rc), cause)
	}
	return w.Flush()
}

// describePodTemplate prints a revision's pod template the way describe
// lays it out.
func describePodTemplate(out io.Writer, template *corev1.PodTemplateSpec) {
	if template == nil {
		return
	}
	fmt.Fprintf(out, "Pod Template:\n  Labels:\t%s\n", formatMap(template.Labels))
	fmt.Fprintln(out, "  Containers:")
	for _, ctr := range template.Spec.Containers {
		fmt.Fprintf(out, "   %s:\n    Image:\t%s\n", ctr.Name, ctr.Image)
		var ports []string
		for _, p := range ctr.Ports {
			ports = append(ports, fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol))
		}
		if len(ports) == 0 {
			ports = []string{"<none>"}
		}
		fmt.Fprintf(out, "    Port:\t%s\n", strings.Join(ports, ", "))
		if len(ctr.Env) == 0 {
			fmt.Fprintln(out, "    Environment:\t<none>")
		} else {
			fmt.Fprintln(out, "    Environment:")
			for _, e := range ctr.Env {
				fmt.Fprintf(out, "      %s:\t%s\n", e.Name, e.Value)
			}
		}
	}
}

func rolloutUndo(ctx context.Context, c *appsClients, name string, toRevision int64, out, errOut io.Writer) error {
	dcs := c.dcs()
	rolled, err := dcs.Rollback(ctx, name, &appsv1.DeploymentConfigRollback{
		Name: name,
		Spec: appsv1.DeploymentConfigRollbackSpec{
			// spec.from would name the deployment (RC); oc names the revision.
			Revision:        toRevision,
			IncludeTemplate: true,
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("rolling back %s: %w", name, err)
	}
	if _, err := dcs.Update(ctx, rolled, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating %s with the rolled back template: %w", name, err)
	}
	target := toRevision
	if target == 0 {
		target = rolled.Status.LatestVersion - 2 // the server counted the rollback in
	}
	fmt.Fprintf(out, "%s deployment #%d rolled back to %s\n", dcRef(name), rolled.Status.LatestVersion, deployutil.DeploymentName(name, target))
	var disabled []string
	for _, t := range rolled.Spec.Triggers {
		if t.Type == appsv1.DeploymentTriggerOnImageChange && t.ImageChangeParams != nil && !t.ImageChangeParams.Automatic {
			disabled = append(disabled, t.ImageChangeParams.From.Name)
		}
	}
	if len(disabled) > 0 {
		fmt.Fprintf(errOut, "Warning: the following images triggers were disabled: %s\n", strings.Join(disabled, ", "))
		fmt.Fprintf(errOut, "  You can re-enable them with: %s set triggers dc/%s --auto\n", CommandName, name)
	}
	return nil
}

// rolloutStatus prints how the latest rollout progresses, once or until
// it ends (a failed or cancelled rollout is an error), following the
// DeploymentConfig and its deployments through watches.
func rolloutStatus(ctx context.Context, c *appsClients, name string, follow bool, out io.Writer) error {
	last := ""
	for {
		dcWatch, err := c.dcs().Watch(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(),
		})
		if err != nil {
			return err
		}
		rcWatch, err := c.kube.CoreV1().ReplicationControllers(c.namespace).Watch(ctx, metav1.ListOptions{
			LabelSelector: deployutil.ConfigSelector(name).String(),
		})
		if err != nil {
			dcWatch.Stop()
			return err
		}
		done, err := func() (bool, error) {
			defer dcWatch.Stop()
			defer rcWatch.Stop()
			for {
				msg, done, err := c.rolloutStatusOnce(ctx, name)
				if err != nil || done {
					if msg != "" {
						fmt.Fprint(out, msg)
					}
					return true, err
				}
				if msg != last {
					fmt.Fprint(out, msg)
					last = msg
				}
				if !follow {
					return true, nil
				}
				var ok bool
				select {
				case _, ok = <-dcWatch.ResultChan():
				case _, ok = <-rcWatch.ResultChan():
				case <-ctx.Done():
					return true, ctx.Err()
				}
				if !ok {
					return false, nil // a watch ended: start new ones
				}
			}
		}()
		if done {
			return err
		}
	}
}

// rolloutStatusOnce is one look at the latest rollout: the line to print,
// whether it ended, and an error when it ended badly.
func (c *appsClients) rolloutStatusOnce(ctx context.Context, name string) (string, bool, error) {
	dc, err := c.dcs().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", true, err
	}
	if dc.Spec.Paused {
		return "", true, fmt.Errorf("deployment config %q is paused: resume it to continue watching the status of the rollout", name)
	}
	if dc.Status.LatestVersion == 0 {
		return "Waiting for rollout to start...\n", false, nil
	}
	rcName := deployutil.DeploymentName(name, dc.Status.LatestVersion)
	rc, err := c.kube.CoreV1().ReplicationControllers(c.namespace).Get(ctx, rcName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Sprintf("Waiting for rollout #%d to start...\n", dc.Status.LatestVersion), false, nil
	}
	if err != nil {
		return "", true, err
	}
	switch {
	case deployutil.IsComplete(rc):
		return fmt.Sprintf("replication controller %q successfully rolled out\n", rcName), true, nil
	case deployutil.IsFailed(rc) && deployutil.IsCancelled(rc):
		return "", true, fmt.Errorf("rollout of %q was cancelled: %s", rcName, deployutil.StatusReasonFor(rc))
	case deployutil.IsFailed(rc):
		reason := deployutil.StatusReasonFor(rc)
		if cond := deployutil.Condition(&dc.Status, appsv1.DeploymentProgressing); cond != nil && cond.Status == corev1.ConditionFalse && cond.Message != "" {
			reason = cond.Message
		}
		return "", true, fmt.Errorf("replication controller %q has failed progressing: %s", rcName, reason)
	}
	desired := dc.Spec.Replicas
	switch {
	case dc.Status.UpdatedReplicas < desired:
		return fmt.Sprintf("Waiting for rollout to finish: %d out of %d new replicas have been updated...\n", dc.Status.UpdatedReplicas, desired), false, nil
	case dc.Status.Replicas > dc.Status.UpdatedReplicas:
		return fmt.Sprintf("Waiting for rollout to finish: %d old replicas are pending termination...\n", dc.Status.Replicas-dc.Status.UpdatedReplicas), false, nil
	default:
		return fmt.Sprintf("Waiting for rollout to finish: %d of %d updated replicas are available...\n", dc.Status.AvailableReplicas, dc.Status.UpdatedReplicas), false, nil
	}
}

// ---------------------------------------------------------------- expose

// exposeOptions are expose's flags.
type exposeOptions struct {
	Port       int32
	TargetPort string
	Name       string
	HostPort   int32
	// HostIP is the host address the host port listens on, the Service's
	// externalIPs; "" keeps the server's --host-port-address.
	HostIP   string
	Protocol string
}

func newCmdExpose(env *commandEnv) *cobra.Command {
	o := &exposeOptions{}
	cmd := &cobra.Command{
		Use:   "expose (dc/NAME | dc NAME | svc/NAME) [--port=PORT] [--target-port=PORT] [--name=NAME] [--host-port=PORT [--host-ip=IP]]",
		Short: "Expose a deployment config as a service, optionally on a port of this host",
		Long: templates.LongDesc(`
			Expose a deployment config's pods as a service, or a service on a
			port of this host.

			For dc/NAME a service selecting the deployment config's pods is created
			(or, when the service exists, given the port). With --host-port the
			service is of type NodePort and the server forwards that port of this
			host to the ready pods, on the server's host port address (127.0.0.1
			unless the server was started with another --host-port-address) or,
			with --host-ip, on that address of this host: the service's
			externalIPs. Routes are not supported: expose svc/NAME only with
			--host-port.`),
		Example: templates.Examples(`
			# Expose port 8080 of deployment config mytime on port 18080 of this host
			slipway expose dc/mytime --port=8080 --host-port=18080

			# Expose an existing service on a host port
			slipway expose svc/mytime --host-port=18080

			# Expose it on port 80 of the host's address 192.168.1.20
			slipway expose svc/mytime --host-port=80 --host-ip=192.168.1.20`),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, name, err := exposeTarget(args)
			if err != nil {
				return err
			}
			if err := o.validateHostIP(); err != nil {
				return err
			}
			c, err := newAppsClients(env)
			if err != nil {
				return err
			}
			if kind == "service" {
				return runExposeService(cmd.Context(), c, name, o, env.streams.Out)
			}
			return runExposeDC(cmd.Context(), c, name, o, env.streams.Out)
		},
	}
	f := cmd.Flags()
	f.Int32Var(&o.Port, "port", 0, "The port that the service should serve on. Copied from the deployment config's container ports if unspecified.")
	f.StringVar(&o.TargetPort, "target-port", "", "Name or number for the port on the container that the service should direct traffic to. Defaults to --port.")
	f.StringVar(&o.Name, "name", "", "The name for the newly created service.")
	f.Int32Var(&o.HostPort, "host-port", 0, "A port of this host that forwards to the service's pods (a NodePort service).")
	f.StringVar(&o.HostIP, "host-ip", "", "The address of this host the host port listens on (the service's externalIPs), instead of the server's --host-port-address.")
	f.StringVar(&o.Protocol, "protocol", "TCP", "The network protocol for the service to be created.")
	return cmd
}

// validateHostIP checks --host-ip: an IP address, given with --host-port.
func (o *exposeOptions) validateHostIP() error {
	switch {
	case o.HostIP == "":
		return nil
	case o.HostPort == 0:
		return errors.New("--host-ip needs --host-port: it is the address the host port listens on")
	case net.ParseIP(o.HostIP) == nil:
		return fmt.Errorf("--host-ip %q is not an IP address", o.HostIP)
	}
	return nil
}

// hostAddress is where the host port listens, as expose reports it.
func (o *exposeOptions) hostAddress() string {
	if o.HostIP != "" {
		return fmt.Sprintf("Port %d on %s", o.HostPort, o.HostIP)
	}
	return fmt.Sprintf("Port %d of this host", o.HostPort)
}

// exposeTarget reads "dc/NAME", "dc NAME", "svc/NAME" or "svc NAME".
func exposeTarget(args []string) (kind, name string, err error) {
	var resource string
	switch len(args) {
	case 1:
		var ok bool
		resource, name, ok = strings.Cut(args[0], "/")
		if !ok {
			return "", "", fmt.Errorf("expose needs TYPE/NAME or TYPE NAME, got %q", args[0])
		}
	case 2:
		resource, name = args[0], args[1]
	default:
		return "", "", errors.New("expose needs one resource: dc/NAME or svc/NAME")
	}
	if name == "" {
		return "", "", errors.New("expose: the name is empty")
	}
	switch {
	case isDeploymentConfigKind(resource):
		return "deploymentconfig", name, nil
	case strings.EqualFold(resource, "svc"), strings.EqualFold(resource, "service"), strings.EqualFold(resource, "services"):
		return "service", name, nil
	}
	return "", "", fmt.Errorf("cannot expose a %s: only deployment configs (dc) and services (svc) are supported", resource)
}

func runExposeDC(ctx context.Context, c *appsClients, name string, o *exposeOptions, out io.Writer) error {
	dc, err := c.dcs().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	port, err := exposePort(dc, o)
	if err != nil {
		return err
	}
	svcName := o.Name
	if svcName == "" {
		svcName = name
	}
	selector := dc.Spec.Selector
	if len(selector) == 0 {
		selector = map[string]string{deployutil.DeploymentConfigLabel: name}
	}
	services := c.kube.CoreV1().Services(c.namespace)
	existing, err := services.Get(ctx, svcName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: svcName, Labels: maps.Clone(dc.Labels)},
			Spec:       corev1.ServiceSpec{Selector: maps.Clone(selector), Ports: []corev1.ServicePort{port}},
		}
		if o.HostPort > 0 {
			svc.Spec.Type = corev1.ServiceTypeNodePort
		}
		if o.HostIP != "" {
			svc.Spec.ExternalIPs = []string{o.HostIP}
		}
		if _, err := services.Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating service %q: %w", svcName, err)
		}
	case err != nil:
		return err
	default:
		// new-app made the service already: give it the port (and host port).
		if !labels.Equals(existing.Spec.Selector, selector) {
			return fmt.Errorf("service %q already exists and does not select the pods of %s", svcName, dcRef(name))
		}
		if err := updateServicePort(ctx, c, svcName, port, o.HostIP); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "service/%s exposed\n", svcName)
	if o.HostPort > 0 {
		fmt.Fprintf(out, "%s forwards to port %s of the pods of %s\n", o.hostAddress(), port.TargetPort.String(), dcRef(name))
	}
	return nil
}

// exposePort is the service port expose makes: --port (else the first
// container port), --target-port (else the port), --host-port.
func exposePort(dc *appsv1.DeploymentConfig, o *exposeOptions) (corev1.ServicePort, error) {
	protocol := corev1.Protocol(strings.ToUpper(o.Protocol))
	number := o.Port
	if number == 0 && dc.Spec.Template != nil {
		for _, ctr := range dc.Spec.Template.Spec.Containers {
			if len(ctr.Ports) > 0 {
				number = ctr.Ports[0].ContainerPort
				break
			}
		}
	}
	if number == 0 {
		return corev1.ServicePort{}, fmt.Errorf("couldn't find port via --port flag or the containers of %s", dcRef(dc.Name))
	}
	target := intstr.FromInt32(number)
	if o.TargetPort != "" {
		target = intstr.Parse(o.TargetPort)
	}
	return corev1.ServicePort{
		Name:       fmt.Sprintf("%d-%s", number, strings.ToLower(string(protocol))),
		Port:       number,
		Protocol:   protocol,
		TargetPort: target,
		NodePort:   o.HostPort,
	}, nil
}

// updateServicePort sets port on Service name (replacing the port with
// its number) and makes the Service a NodePort one when port has a host
// port; a hostIP makes it the Service's only externalIP (externalIPs hold
// for every port of a Service, so its host ports share one address).
func updateServicePort(ctx context.Context, c *appsClients, name string, port corev1.ServicePort, hostIP string) error {
	services := c.kube.CoreV1().Services(c.namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		svc, err := services.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		i := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == port.Port && p.Protocol == port.Protocol })
		if i < 0 {
			svc.Spec.Ports = append(svc.Spec.Ports, port)
		} else {
			if port.Name == "" || (svc.Spec.Ports[i].Name != "" && port.Name != svc.Spec.Ports[i].Name) {
				port.Name = svc.Spec.Ports[i].Name
			}
			svc.Spec.Ports[i] = port
		}
		if port.NodePort > 0 {
			svc.Spec.Type = corev1.ServiceTypeNodePort
		}
		if hostIP != "" {
			svc.Spec.ExternalIPs = []string{hostIP}
		}
		_, err = services.Update(ctx, svc, metav1.UpdateOptions{})
		return err
	})
}

func runExposeService(ctx context.Context, c *appsClients, name string, o *exposeOptions, out io.Writer) error {
	if o.HostPort == 0 {
		return fmt.Errorf("routes are not supported by Slipway: use '%s expose svc/%s --host-port=PORT' to reach the service from this host", CommandName, name)
	}
	svc, err := c.kube.CoreV1().Services(c.namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if len(svc.Spec.Ports) == 0 {
		return fmt.Errorf("service %q has no ports to expose", name)
	}
	port := svc.Spec.Ports[0]
	if o.Port != 0 {
		i := slices.IndexFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == o.Port })
		if i < 0 {
			return fmt.Errorf("service %q has no port %d", name, o.Port)
		}
		port = svc.Spec.Ports[i]
	}
	port.NodePort = o.HostPort
	if err := updateServicePort(ctx, c, name, port, o.HostIP); err != nil {
		return err
	}
	fmt.Fprintf(out, "service/%s exposed\n", name)
	fmt.Fprintf(out, "%s forwards to port %d of service %s\n", o.hostAddress(), port.Port, name)
	return nil
}

// ---------------------------------------------------------------- scale

// newCmdScale is kubectl's scale, with deployment configs scaled through
// the apps client: kubectl's generic scale client cannot decode the
// apps.openshift.io/v1 Scale the server's discovery announces for
// deploymentconfigs/scale.
func newCmdScale(env *commandEnv) *cobra.Command {
	cmd := scale.NewCmdScale(env.factory, env.streams)
	kubectlRun := cmd.Run
	cmd.Run = nil
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		name, ok := scaleTarget(args)
		if !ok {
			kubectlRun(cmd, args)
			return nil
		}
		replicas, err := cmd.Flags().GetInt("replicas")
		if err != nil {
			return err
		}
		current, err := cmd.Flags().GetInt("current-replicas")
		if err != nil {
			return err
		}
		if replicas < 0 {
			return errors.New("the --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
		}
		c, err := newAppsClients(env)
		if err != nil {
			return err
		}
		return scaleDeploymentConfig(cmd.Context(), c, name, int32(replicas), int32(current), env.streams.Out)
	}
	return cmd
}

// scaleTarget returns the deployment config NAME of "dc/NAME" or "dc
// NAME"; false for anything else (kubectl's scale handles it).
func scaleTarget(args []string) (string, bool) {
	var kind, name string
	switch len(args) {
	case 1:
		var ok bool
		if kind, name, ok = strings.Cut(args[0], "/"); !ok {
			return "", false
		}
	case 2:
		kind, name = args[0], args[1]
	default:
		return "", false
	}
	return name, name != "" && isDeploymentConfigKind(kind)
}

// scaleDeploymentConfig sets dc NAME's replicas through its scale
// subresource, as oc scale does; current >= 0 is a precondition on the
// replicas it has now.
func scaleDeploymentConfig(ctx context.Context, c *appsClients, name string, replicas, current int32, out io.Writer) error {
	dcs := c.dcs()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		s, err := dcs.GetScale(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if current >= 0 && s.Spec.Replicas != current {
			return fmt.Errorf("expected replicas to be %d, was %d", current, s.Spec.Replicas)
		}
		s.Spec.Replicas = replicas
		_, err = dcs.UpdateScale(ctx, name, s, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("scaling %s: %w", name, err)
	}
	fmt.Fprintf(out, "%s scaled\n", dcRef(name))
	return nil
}
