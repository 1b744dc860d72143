package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	buildclient "github.com/openshift/client-go/build/clientset/versioned"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	"github.com/spf13/cobra"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/retry"
	"k8s.io/kubectl/pkg/util/templates"
)

// buildClients returns the build and image clients and the namespace to
// work in (-n, else the context's namespace).
func buildClients(env *commandEnv) (buildclient.Interface, imageclient.Interface, string, error) {
	namespace, _, err := env.factory.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, nil, "", err
	}
	config, err := env.factory.ToRESTConfig()
	if err != nil {
		return nil, nil, "", err
	}
	builds, err := buildclient.NewForConfig(config)
	if err != nil {
		return nil, nil, "", err
	}
	images, err := imageclient.NewForConfig(config)
	if err != nil {
		return nil, nil, "", err
	}
	return builds, images, namespace, nil
}

// ---------------------------------------------------------------- new-build

// newBuildOptions are the flags and argument of new-build.
type newBuildOptions struct {
	SourceURL    string
	ContextDir   string
	Name         string
	To           string
	ToDocker     bool
	PushSecret   string
	SourceSecret string
	Strategy     string
	Dockerfile   string
	BuildSecrets []string
}

func newCmdNewBuild(env *commandEnv) *cobra.Command {
	o := &newBuildOptions{}
	cmd := &cobra.Command{
		Use:   "new-build (GIT_URL | -D DOCKERFILE) [--context-dir=DIR] [--name=NAME] [--to=IS:TAG | --to-docker --to=REF]",
		Short: "Create a new build configuration",
		Long: templates.LongDesc(`
			Create a new build configuration.

			This command creates a build configuration from a git repository with a
			Dockerfile: an image stream for the Dockerfile's base image (the last
			FROM), an image stream for the output, and a BuildConfig with GitHub,
			generic, config change and image change triggers, so that the first
			build starts at once.`),
		Example: templates.Examples(`
			# Create a build config from a git repository whose Dockerfile is in busybox/
			slipway new-build https://github.com/VeerMuchandi/time --context-dir=busybox

			# Push the result to an external registry with a push secret
			slipway new-build https://example.com/app.git --to-docker --to=quay.io/me/app:latest --push-secret=quay

			# A build from an inline Dockerfile
			slipway new-build -D $'FROM busybox\nRUN touch /x'`),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return fmt.Errorf("new-build takes one source repository, got %d arguments", len(args))
			}
			if len(args) == 1 {
				o.SourceURL = args[0]
			}
			return runNewBuild(cmd.Context(), env, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.ContextDir, "context-dir", "", "Context directory to be used for the build.")
	f.StringVar(&o.Name, "name", "", "Set name to use for generated build artifacts.")
	f.StringVar(&o.To, "to", "", "Push built images to this image stream tag (or container image repository if --to-docker is set).")
	f.BoolVar(&o.ToDocker, "to-docker", false, "If true, have the build output push to a container image repository.")
	f.StringVar(&o.PushSecret, "push-secret", "", "The name of an existing secret that should be used for pushing the output image.")
	f.StringVar(&o.SourceSecret, "source-secret", "", "The name of an existing secret that should be used for cloning a private git repository.")
	f.StringVar(&o.Strategy, "strategy", "", "Specify the build strategy to use if you don't want to detect (docker).")
	f.StringVarP(&o.Dockerfile, "dockerfile", "D", "", "Specify the contents of a Dockerfile to build directly, implies --strategy=docker.")
	f.StringArrayVar(&o.BuildSecrets, "build-secret", nil, "Secret and destination to use as an input for the build (SECRET[:DESTINATION_DIR]).")
	return cmd
}

func runNewBuild(ctx context.Context, env *commandEnv, o *newBuildOptions) error {
	if o.SourceURL == "" && o.Dockerfile == "" {
		return errors.New("you must specify a git repository URL or a Dockerfile with -D")
	}
	if o.Strategy != "" && o.Strategy != "docker" {
		return fmt.Errorf("--strategy=%s is not supported: only docker builds are", o.Strategy)
	}
	dockerfile := o.Dockerfile
	if dockerfile == "" {
		found, err := fetchDockerfile(ctx, o.SourceURL, o.ContextDir)
		if err != nil {
			return err
		}
		dockerfile = found
	}
	builds, images, namespace, err := buildClients(env)
	if err != nil {
		return err
	}
	gen, err := generateNewBuild(o, dockerfile, randomSecret)
	if err != nil {
		return err
	}
	out := env.streams.Out
	fmt.Fprintln(out, "--> Found a Dockerfile"+dockerfileFrom(o))
	fmt.Fprintln(out)
	if gen.BaseStream != nil {
		fmt.Fprintf(out, "    * An image stream tag will be created as %q that will track the source image\n", gen.BaseTag)
	}
	fmt.Fprintf(out, "    * A Docker build using %s will be created\n", describeSource(o))
	if o.ToDocker {
		fmt.Fprintf(out, "      * The resulting image will be pushed to %q\n", gen.Config.Spec.Output.To.Name)
	} else {
		fmt.Fprintf(out, "      * The resulting image will be pushed to image stream tag %q\n", gen.Config.Spec.Output.To.Name)
	}
	if gen.BaseTag != "" {
		fmt.Fprintf(out, "      * Every time %q changes a new build will be triggered\n", gen.BaseTag)
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "--> Creating resources with label build=%s ...\n", gen.Config.Name)
	for _, is := range []*imagev1.ImageStream{gen.BaseStream, gen.OutputStream} {
		if is == nil {
			continue
		}
		if err := createImageStream(ctx, images, namespace, is, out); err != nil {
			return err
		}
	}
	if _, err := builds.BuildV1().BuildConfigs(namespace).Create(ctx, gen.Config, metav1.CreateOptions{}); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("buildconfig %q already exists", gen.Config.Name)
		}
		return err
	}
	fmt.Fprintf(out, "    buildconfig.build.openshift.io %q created\n", gen.Config.Name)
	fmt.Fprintln(out, "--> Success")
	fmt.Fprintf(out, "    Build configuration %q created and build triggered.\n", gen.Config.Name)
	fmt.Fprintf(out, "    Run '%s logs -f bc/%s' to stream the build progress.\n", CommandName, gen.Config.Name)
	return nil
}

func dockerfileFrom(o *newBuildOptions) string {
	if o.Dockerfile != "" {
		return " (inline)"
	}
	return " in " + o.SourceURL
}

func describeSource(o *newBuildOptions) string {
	switch {
	case o.SourceURL != "" && o.Dockerfile != "":
		return "source code from " + o.SourceURL + " and a predefined Dockerfile"
	case o.SourceURL != "":
		return "source code from " + o.SourceURL
	default:
		return "a predefined Dockerfile"
	}
}

// createImageStream creates is; an existing stream gets the missing tag
// through imagestreamtags instead, and is otherwise left as it is.
func createImageStream(ctx context.Context, images imageclient.Interface, namespace string, is *imagev1.ImageStream, out io.Writer) error {
	_, err := images.ImageV1().ImageStreams(namespace).Create(ctx, is, metav1.CreateOptions{})
	if err == nil {
		fmt.Fprintf(out, "    imagestream.image.openshift.io %q created\n", is.Name)
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	if len(is.Spec.Tags) == 0 {
		fmt.Fprintf(out, "    imagestream.image.openshift.io %q already exists\n", is.Name)
		return nil
	}
	tag := is.Spec.Tags[0]
	istag := &imagev1.ImageStreamTag{
		ObjectMeta: metav1.ObjectMeta{Name: is.Name + ":" + tag.Name, Labels: is.Labels, Annotations: is.Annotations},
		Tag:        &tag,
	}
	_, err = images.ImageV1().ImageStreamTags(namespace).Create(ctx, istag, metav1.CreateOptions{})
	switch {
	case err == nil:
		fmt.Fprintf(out, "    imagestreamtag.image.openshift.io %q created\n", istag.Name)
	case apierrors.IsAlreadyExists(err):
		fmt.Fprintf(out, "    imagestreamtag.image.openshift.io %q already exists\n", istag.Name)
	default:
		return err
	}
	return nil
}

// fetchDockerfile clones the repository shallowly into a temporary
// directory and returns the Dockerfile of contextDir.
func fetchDockerfile(ctx context.Context, sourceURL, contextDir string) (string, error) {
	uri, ref := splitGitURL(sourceURL)
	dir, err := os.MkdirTemp("", "slipway-new-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	args := []string{"clone", "--depth=1", "--quiet"}
	if ref != "" {
		args = append(args, "--branch", ref)
	}
	args = append(args, "--", uri, dir)
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("cloning %s to detect its build strategy: %v: %s", uri, err, strings.TrimSpace(string(out)))
	}
	clean := filepath.Clean("/" + contextDir)
	data, err := os.ReadFile(filepath.Join(dir, clean, "Dockerfile"))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("no Dockerfile in %s (context dir %q): only Docker builds are supported, use -D to give one", uri, contextDir)
	}
	return string(data), err
}

// splitGitURL separates a "#ref" fragment from a git URL.
func splitGitURL(s string) (uri, ref string) {
	if i := strings.LastIndex(s, "#"); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// newBuildObjects are what new-build creates.
type newBuildObjects struct {
	// BaseStream tracks the Dockerfile's base image; nil for FROM scratch
	// or an explicit DockerImage base.
	BaseStream *imagev1.ImageStream
	// BaseTag is "<stream>:<tag>" of BaseStream.
	BaseTag string
	// OutputStream receives the build; nil with --to-docker.
	OutputStream *imagev1.ImageStream
	Config       *buildv1.BuildConfig
}

const generatedByNewBuild = "OpenShiftNewBuild"

// generateNewBuild builds new-build's objects from the options and the
// Dockerfile, as oc does. secret makes the webhook secrets.
func generateNewBuild(o *newBuildOptions, dockerfile string, secret func() string) (*newBuildObjects, error) {
	uri, ref := splitGitURL(o.SourceURL)
	name := o.Name
	if name == "" && o.To != "" && !o.ToDocker {
		name, _, _ = strings.Cut(o.To, ":")
	}
	if name == "" && uri != "" {
		name = strings.TrimSuffix(path.Base(strings.TrimSuffix(uri, "/")), ".git")
	}
	if name == "" {
		return nil, errors.New("use --name to name the build: it cannot be derived from an inline Dockerfile")
	}
	name = strings.ToLower(name)
	labels := map[string]string{"build": name}
	annotations := map[string]string{"openshift.io/generated-by": generatedByNewBuild}
	meta := func(n string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: n, Labels: labels, Annotations: annotations}
	}
	gen := &newBuildObjects{}

	strategy := &buildv1.DockerBuildStrategy{}
	base := lastFrom(dockerfile)
	triggers := []buildv1.BuildTriggerPolicy{
		{Type: buildv1.GitHubWebHookBuildTriggerType, GitHubWebHook: &buildv1.WebHookTrigger{Secret: secret()}},
		{Type: buildv1.GenericWebHookBuildTriggerType, GenericWebHook: &buildv1.WebHookTrigger{Secret: secret()}},
		{Type: buildv1.ConfigChangeBuildTriggerType},
	}
	if base != "" && base != "scratch" {
		stream, tag := imageStreamNameAndTag(base)
		gen.BaseTag = stream + ":" + tag
		gen.BaseStream = &imagev1.ImageStream{
			ObjectMeta: meta(stream),
			Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{
				Name:            tag,
				Annotations:     map[string]string{"openshift.io/imported-from": base},
				From:            &corev1.ObjectReference{Kind: "DockerImage", Name: base},
				ImportPolicy:    imagev1.TagImportPolicy{ImportMode: imagev1.ImportModeLegacy},
				ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy},
			}}},
		}
		strategy.From = &corev1.ObjectReference{Kind: "ImageStreamTag", Name: gen.BaseTag}
		triggers = append(triggers, buildv1.BuildTriggerPolicy{Type: buildv1.ImageChangeBuildTriggerType, ImageChange: &buildv1.ImageChangeTrigger{}})
	}

	output := buildv1.BuildOutput{}
	switch {
	case o.ToDocker:
		if o.To == "" {
			return nil, errors.New("--to-docker needs --to=REGISTRY/REPOSITORY[:TAG]")
		}
		output.To = &corev1.ObjectReference{Kind: "DockerImage", Name: o.To}
	default:
		to := o.To
		if to == "" {
			to = name
		}
		stream, tag, ok := strings.Cut(to, ":")
		if !ok || tag == "" {
			tag = "latest"
		}
		output.To = &corev1.ObjectReference{Kind: "ImageStreamTag", Name: stream + ":" + tag}
		gen.OutputStream = &imagev1.ImageStream{ObjectMeta: meta(stream)}
	}
	if o.PushSecret != "" {
		output.PushSecret = &corev1.LocalObjectReference{Name: o.PushSecret}
	}

	source := buildv1.BuildSource{ContextDir: o.ContextDir}
	if uri != "" {
		source.Type = buildv1.BuildSourceGit
		source.Git = &buildv1.GitBuildSource{URI: uri, Ref: ref}
	} else {
		source.Type = buildv1.BuildSourceDockerfile
	}
	if o.Dockerfile != "" {
		df := o.Dockerfile
		source.Dockerfile = &df
	}
	if o.SourceSecret != "" {
		source.SourceSecret = &corev1.LocalObjectReference{Name: o.SourceSecret}
	}
	for _, s := range o.BuildSecrets {
		secretName, dest, _ := strings.Cut(s, ":")
		if secretName == "" {
			return nil, fmt.Errorf("--build-secret %q: the secret name is empty", s)
		}
		if filepath.IsAbs(dest) {
			return nil, fmt.Errorf("--build-secret %q: the destination must be a relative path", s)
		}
		source.Secrets = append(source.Secrets, buildv1.SecretBuildSource{Secret: corev1.LocalObjectReference{Name: secretName}, DestinationDir: dest})
	}

	gen.Config = &buildv1.BuildConfig{
		ObjectMeta: meta(name),
		Spec: buildv1.BuildConfigSpec{
			Triggers:  triggers,
			RunPolicy: buildv1.BuildRunPolicySerial,
			CommonSpec: buildv1.CommonSpec{
				Source:   source,
				Strategy: buildv1.BuildStrategy{Type: buildv1.DockerBuildStrategyType, DockerStrategy: strategy},
				Output:   output,
			},
		},
	}
	return gen, nil
}

// lastFrom returns the image of a Dockerfile's last FROM ("" if none), the
// base image a Docker build's strategy.from replaces. A FROM naming an
// earlier stage stands for that stage's image.
func lastFrom(dockerfile string) string {
	stages := map[string]string{}
	last := ""
	// Join continuation lines first.
	text := strings.ReplaceAll(dockerfile, "\\\r\n", " ")
	text = strings.ReplaceAll(text, "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 || !strings.EqualFold(fields[0], "FROM") {
			continue
		}
		args := fields[1:]
		for len(args) > 0 && strings.HasPrefix(args[0], "--") {
			args = args[1:]
		}
		if len(args) == 0 {
			continue
		}
		image := args[0]
		if stage, ok := stages[strings.ToLower(image)]; ok {
			image = stage
		}
		if len(args) >= 3 && strings.EqualFold(args[1], "AS") {
			stages[strings.ToLower(args[2])] = image
		}
		last = image
	}
	return last
}

// imageStreamNameAndTag names the image stream and tag new-build makes for
// an image reference: the repository's last path component and the tag
// (latest by default; the digest's hex prefix for a digest reference).
func imageStreamNameAndTag(ref string) (string, string) {
	repo, tag := ref, "latest"
	if i := strings.Index(repo, "@"); i >= 0 {
		digest := repo[i+1:]
		repo = repo[:i]
		if _, hex, ok := strings.Cut(digest, ":"); ok && len(hex) >= 7 {
			tag = hex[:7]
		}
	} else if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo, tag = repo[:i], repo[i+1:]
	}
	return strings.ToLower(path.Base(repo)), tag
}

// randomSecret is a URL-safe random webhook secret, as oc makes.
func randomSecret() string {
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// ---------------------------------------------------------------- start-build

type startBuildOptions struct {
	BuildConfig   string
	FromBuild     string
	Env           []string
	BuildArgs     []string
	Commit        string
	NoCache       bool
	NoCacheSet    bool
	BuildLogLevel string
	Follow        bool
	Wait          bool
	// Binary input (instantiatebinary): one of these.
	FromDir, FromFile, FromArchive, FromRepo string
	Exclude                                  string
}

func newCmdStartBuild(env *commandEnv) *cobra.Command {
	o := &startBuildOptions{}
	cmd := &cobra.Command{
		Use:   "start-build (BUILDCONFIG | --from-build=BUILD)",
		Short: "Start a new build",
		Long: templates.LongDesc(`
			Start a build.

			This command starts a new build for the provided build config or copies an
			existing build using --from-build=<name>. Pass --follow to see the build's
			logs in your terminal, --wait to wait for it to end.`),
		Example: templates.Examples(`
			# Start a build from the build config "time"
			slipway start-build time

			# Start a build and follow its logs
			slipway start-build time --follow

			# Rebuild build "time-1"
			slipway start-build --from-build=time-1

			# Start a build with environment variables and build arguments
			slipway start-build time -e HTTP_PROXY=http://proxy:3128 --build-arg VERSION=2`),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case o.FromBuild != "" && len(args) > 0:
				return errors.New("a build config name may not be given with --from-build")
			case o.FromBuild == "" && len(args) != 1 && o.isBinary():
				return errors.New("a build config name is required for a binary build")
			case o.FromBuild == "" && len(args) != 1:
				return errors.New("a build config name is required")
			}
			if len(args) == 1 {
				o.BuildConfig = args[0]
			}
			o.NoCacheSet = cmd.Flags().Changed("no-cache")
			return runStartBuild(cmd.Context(), env, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.FromBuild, "from-build", "", "Specify the name of a build which should be re-run")
	f.StringArrayVarP(&o.Env, "env", "e", nil, "Specify a key-value pair for an environment variable to set for the build container.")
	f.StringArrayVar(&o.BuildArgs, "build-arg", nil, "Specify a key-value pair to pass to Docker during the build.")
	f.StringVar(&o.Commit, "commit", "", "Specify the source code commit identifier the build should use")
	f.BoolVar(&o.NoCache, "no-cache", false, "If true, the build runs without the layer cache")
	f.StringVar(&o.BuildLogLevel, "build-loglevel", "", "Specify the log level for the build log output")
	f.BoolVarP(&o.Follow, "follow", "F", false, "Start a build and watch its logs until it completes or fails")
	f.BoolVarP(&o.Wait, "wait", "w", false, "Wait for a build to complete and exit with a non-zero return code if the build fails")
	f.StringVar(&o.FromDir, "from-dir", "", "A directory to archive and use as the binary input for a build.")
	f.StringVar(&o.FromFile, "from-file", "", "A file (or URL) to use as the binary input for the build; e.g. a Dockerfile.")
	f.StringVar(&o.FromArchive, "from-archive", "", "An archive (tar, tar.gz) to use as the binary input for a build.")
	f.StringVar(&o.FromRepo, "from-repo", "", "The path to a local source code repository to use as the binary input for a build (--commit selects the commit).")
	f.StringVar(&o.Exclude, "exclude", defaultBinaryExclude, "A regular expression of the paths --from-dir leaves out.")
	return cmd
}

// manualTriggerMessage is the cause oc records for start-build.
const manualTriggerMessage = "Manually triggered"

// buildRequest is the BuildRequest start-build sends.
func buildRequest(o *startBuildOptions) (*buildv1.BuildRequest, error) {
	name := o.BuildConfig
	if o.FromBuild != "" {
		name = o.FromBuild
	}
	req := &buildv1.BuildRequest{
		ObjectMeta:  metav1.ObjectMeta{Name: name},
		TriggeredBy: []buildv1.BuildTriggerCause{{Message: manualTriggerMessage}},
	}
	envVars, err := parseKeyValues("--env", o.Env)
	if err != nil {
		return nil, err
	}
	if o.BuildLogLevel != "" {
		envVars = append(envVars, corev1.EnvVar{Name: "BUILD_LOGLEVEL", Value: o.BuildLogLevel})
	}
	req.Env = envVars
	args, err := parseKeyValues("--build-arg", o.BuildArgs)
	if err != nil {
		return nil, err
	}
	if len(args) > 0 || o.NoCacheSet {
		req.DockerStrategyOptions = &buildv1.DockerStrategyOptions{BuildArgs: args}
		if o.NoCacheSet {
			noCache := o.NoCache
			req.DockerStrategyOptions.NoCache = &noCache
		}
	}
	if o.Commit != "" {
		req.Revision = &buildv1.SourceRevision{Type: buildv1.BuildSourceGit, Git: &buildv1.GitSourceRevision{Commit: o.Commit}}
	}
	return req, nil
}

func parseKeyValues(flag string, values []string) ([]corev1.EnvVar, error) {
	var out []corev1.EnvVar
	for _, kv := range values {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: must be KEY=VALUE", flag, kv)
		}
		out = append(out, corev1.EnvVar{Name: k, Value: v})
	}
	return out, nil
}

func runStartBuild(ctx context.Context, env *commandEnv, o *startBuildOptions) error {
	if o.isBinary() {
		return runStartBinaryBuild(ctx, env, o)
	}
	req, err := buildRequest(o)
	if err != nil {
		return err
	}
	builds, _, namespace, err := buildClients(env)
	if err != nil {
		return err
	}
	var b *buildv1.Build
	if o.FromBuild != "" {
		b, err = builds.BuildV1().Builds(namespace).Clone(ctx, o.FromBuild, req, metav1.CreateOptions{})
	} else {
		b, err = builds.BuildV1().BuildConfigs(namespace).Instantiate(ctx, o.BuildConfig, req, metav1.CreateOptions{})
	}
	if err != nil {
		return err
	}
	return followStartedBuild(ctx, env, o, builds, namespace, b)
}

// runStartBinaryBuild starts a build with --from-dir/-file/-archive/-repo
// as its binary input.
func runStartBinaryBuild(ctx context.Context, env *commandEnv, o *startBuildOptions) error {
	if len(o.Env) > 0 || len(o.BuildArgs) > 0 {
		fmt.Fprintln(env.streams.ErrOut, "WARNING: Specifying environment variables or build arguments with binary builds is not supported.")
	}
	builds, _, namespace, err := buildClients(env)
	if err != nil {
		return err
	}
	in, err := o.binaryInput(ctx)
	if err != nil {
		return err
	}
	defer in.body.Close()
	b, err := instantiateBinary(ctx, builds, namespace, o.BuildConfig, in)
	if err != nil {
		return err
	}
	return followStartedBuild(ctx, env, o, builds, namespace, b)
}

// followStartedBuild prints that b started and follows or waits for it as
// --follow and --wait ask.
func followStartedBuild(ctx context.Context, env *commandEnv, o *startBuildOptions, builds buildclient.Interface, namespace string, b *buildv1.Build) error {
	fmt.Fprintf(env.streams.Out, "build.build.openshift.io/%s started\n", b.Name)
	if o.Follow {
		if err := streamBuildLog(ctx, builds, namespace, b.Name, &buildv1.BuildLogOptions{Follow: true}, env.streams.Out); err != nil {
			return err
		}
	}
	if o.Wait || o.Follow {
		return waitForBuild(ctx, builds, namespace, b.Name, o.Wait)
	}
	return nil
}

// waitForBuild watches the build until it ends. With strict, a build that
// did not complete is an error; otherwise only its phase is reported.
func waitForBuild(ctx context.Context, builds buildclient.Interface, namespace, name string, strict bool) error {
	client := builds.BuildV1().Builds(namespace)
	for {
		b, err := client.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if done, err := buildEnded(b, strict); done {
			return err
		}
		w, err := client.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), ResourceVersion: b.ResourceVersion})
		if err != nil {
			return err
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Deleted {
				w.Stop()
				return fmt.Errorf("build %s was deleted", name)
			}
			if b, ok := ev.Object.(*buildv1.Build); ok {
				if done, err := buildEnded(b, strict); done {
					w.Stop()
					return err
				}
			}
		}
		w.Stop()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

func buildEnded(b *buildv1.Build, strict bool) (bool, error) {
	switch b.Status.Phase {
	case buildv1.BuildPhaseComplete:
		return true, nil
	case buildv1.BuildPhaseFailed, buildv1.BuildPhaseError, buildv1.BuildPhaseCancelled:
		if !strict {
			return true, nil
		}
		return true, fmt.Errorf("the build %s/%s status is %q", b.Namespace, b.Name, b.Status.Phase)
	}
	return false, nil
}

// ---------------------------------------------------------------- cancel-build

func newCmdCancelBuild(env *commandEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cancel-build (BUILD | BUILDCONFIG)...",
		Short: "Cancel running, pending, or new builds",
		Long: templates.LongDesc(`
			Cancel running, pending, or new builds.

			This command requests a graceful shutdown of the build: the build's pod is
			stopped and the build ends Cancelled.`),
		Example: templates.Examples(`
			# Cancel the build with the given name
			slipway cancel-build time-2`),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("you must specify the name of at least one build to cancel")
			}
			return runCancelBuild(cmd.Context(), env, args)
		},
	}
	return cmd
}

func runCancelBuild(ctx context.Context, env *commandEnv, names []string) error {
	builds, _, namespace, err := buildClients(env)
	if err != nil {
		return err
	}
	client := builds.BuildV1().Builds(namespace)
	var errs []error
	for _, arg := range names {
		name := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(arg, "build/"), "builds/"), "build.build.openshift.io/")
		var phase buildv1.BuildPhase
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			b, err := client.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			phase = b.Status.Phase
			if isBuildTerminal(phase) || b.Status.Cancelled {
				return nil
			}
			b.Status.Cancelled = true
			_, err = client.Update(ctx, b, metav1.UpdateOptions{})
			return err
		})
		switch {
		case err != nil:
			errs = append(errs, err)
		case isBuildTerminal(phase):
			fmt.Fprintf(env.streams.ErrOut, "A cancellation event was not triggered: build %s is already %s\n", name, strings.ToLower(string(phase)))
		default:
			fmt.Fprintf(env.streams.Out, "build.build.openshift.io/%s cancelled\n", name)
		}
	}
	return errors.Join(errs...)
}

func isBuildTerminal(phase buildv1.BuildPhase) bool {
	switch phase {
	case buildv1.BuildPhaseComplete, buildv1.BuildPhaseFailed, buildv1.BuildPhaseError, buildv1.BuildPhaseCancelled:
		return true
	}
	return false
}

// ---------------------------------------------------------------- set build-secret

// newCmdSet is `set`, oc's group of commands that change one aspect of
// existing objects; this file adds build-secret.
func newCmdSet(env *commandEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "set COMMAND",
		Short: "Commands that help set specific features on objects",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCmdSetBuildSecret(env))
	return cmd
}

type buildSecretOptions struct {
	Push, Pull, Source, Remove bool
}

func newCmdSetBuildSecret(env *commandEnv) *cobra.Command {
	o := &buildSecretOptions{}
	cmd := &cobra.Command{
		Use:   "build-secret (--push | --pull | --source) bc/NAME [SECRET]",
		Short: "Update a build secret on a build config",
		Long: templates.LongDesc(`
			Set or remove a build secret on a build config.

			A build config can reference a secret to push its output (--push), to pull
			its base image (--pull) or to clone its source (--source).`),
		Example: templates.Examples(`
			# Push the output of build config "time" with the credentials of secret "dockerhub"
			slipway set build-secret --push bc/time dockerhub

			# Remove the pull secret
			slipway set build-secret --pull --remove bc/time`),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, secret, err := buildSecretArgs(o, args)
			if err != nil {
				return err
			}
			return runSetBuildSecret(cmd.Context(), env, o, name, secret)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.Push, "push", false, "If true, set the push secret on a build config")
	f.BoolVar(&o.Pull, "pull", false, "If true, set the pull secret on a build config")
	f.BoolVar(&o.Source, "source", false, "If true, set the source secret on a build config")
	f.BoolVar(&o.Remove, "remove", false, "If true, remove the build secret")
	return cmd
}

func buildSecretArgs(o *buildSecretOptions, args []string) (name, secret string, err error) {
	count := 0
	for _, b := range []bool{o.Push, o.Pull, o.Source} {
		if b {
			count++
		}
	}
	if count != 1 {
		return "", "", errors.New("specify exactly one of --push, --pull or --source")
	}
	want := 2
	if o.Remove {
		want = 1
	}
	if len(args) != want {
		if o.Remove {
			return "", "", errors.New("with --remove, give only the build config: bc/NAME")
		}
		return "", "", errors.New("give the build config and the secret: bc/NAME SECRET")
	}
	kind, name, ok := strings.Cut(args[0], "/")
	if !ok {
		kind, name = "bc", args[0]
	}
	switch kind {
	case "bc", "buildconfig", "buildconfigs", "buildconfig.build.openshift.io":
	default:
		return "", "", fmt.Errorf("%q is not a build config: use bc/NAME", args[0])
	}
	if !o.Remove {
		secret = strings.TrimPrefix(strings.TrimPrefix(args[1], "secret/"), "secrets/")
	}
	return name, secret, nil
}

// applyBuildSecret sets (or with secret "" clears) the chosen secret.
func applyBuildSecret(bc *buildv1.BuildConfig, o *buildSecretOptions, secret string) error {
	var ref *corev1.LocalObjectReference
	if secret != "" {
		ref = &corev1.LocalObjectReference{Name: secret}
	}
	switch {
	case o.Push:
		bc.Spec.Output.PushSecret = ref
	case o.Source:
		bc.Spec.Source.SourceSecret = ref
	case o.Pull:
		s := &bc.Spec.Strategy
		switch {
		case s.DockerStrategy != nil:
			s.DockerStrategy.PullSecret = ref
		case s.SourceStrategy != nil:
			s.SourceStrategy.PullSecret = ref
		case s.CustomStrategy != nil:
			s.CustomStrategy.PullSecret = ref
		default:
			return fmt.Errorf("build config %s has no strategy that pulls an image", bc.Name)
		}
	}
	return nil
}

func runSetBuildSecret(ctx context.Context, env *commandEnv, o *buildSecretOptions, name, secret string) error {
	builds, _, namespace, err := buildClients(env)
	if err != nil {
		return err
	}
	client := builds.BuildV1().BuildConfigs(namespace)
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		bc, err := client.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if err := applyBuildSecret(bc, o, secret); err != nil {
			return err
		}
		_, err = client.Update(ctx, bc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.streams.Out, "buildconfig.build.openshift.io/%s updated\n", name)
	return nil
}
