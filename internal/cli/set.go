package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	"github.com/spf13/cobra"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/kubectl/pkg/cmd/set"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/slipway-dev/slipway/internal/buildgenerator"
)

// newSetSubcommands are the set verbs of this file, added by the root
// command to `set` (whose build-secret lives in build.go).
func newSetSubcommands(env *commandEnv) []*cobra.Command {
	return []*cobra.Command{newCmdSetTriggers(env), newCmdSetImage(env)}
}

// ---------------------------------------------------------------- set triggers

// setTriggersOptions are set triggers' flags, as oc has them.
type setTriggersOptions struct {
	Auto, Manual, Remove, RemoveAll bool
	FromConfig                      bool
	FromImage                       string
	Containers                      string
	FromGitHub, FromWebhook         bool
	FromWebhookAllowEnv             bool
	FromGitLab, FromBitbucket       bool

	// Derived by complete: list the triggers (no flag given), or set every
	// trigger automatic (Auto) or manual (!Auto) with no --from-* flag.
	print, reset bool
	// fromImage is --from-image parsed, namespace "" for the object's own.
	fromImage tagSource
}

func newCmdSetTriggers(env *commandEnv) *cobra.Command {
	o := &setTriggersOptions{}
	cmd := &cobra.Command{
		Use:   "triggers (deployment/NAME | dc/NAME | bc/NAME | statefulset/NAME | daemonset/NAME | cronjob/NAME) [--from-config|--from-image|--from-github|--from-webhook] [--auto|--manual]",
		Short: "Update the triggers on one or more objects",
		Long: templates.LongDesc(`
			Set or remove triggers.

			Deployment configs roll out on config changes (any change to the pod
			template) and on image changes (an image stream tag the named
			containers follow). Automatic image triggers write the tag's image into
			the containers; manual ones (as 'rollout undo' leaves them) do not.
			--manual also removes the config change trigger, --auto adds it back.

			Deployments, stateful sets, daemon sets and cron jobs follow image
			stream tags through their image.openshift.io/triggers annotation;
			a deployment's config change trigger is its being not paused.

			Build configs build on config changes (the first build only), image
			changes and webhooks. Without flags the triggers are listed.`),
		Example: templates.Examples(`
			# List the triggers of deployment config mytime
			slipway set triggers dc/mytime

			# Stop rolling out on changes, and start again
			slipway set triggers dc/mytime --manual
			slipway set triggers dc/mytime --auto

			# Roll out container mytime whenever image stream tag mytime:latest changes
			slipway set triggers dc/mytime --from-image=mytime:latest -c mytime
			slipway set triggers deployment/mytime --from-image=mytime:latest -c mytime

			# Stop triggering on config changes
			slipway set triggers dc/mytime --from-config --remove

			# Add a GitHub webhook with a generated secret to build config time
			slipway set triggers bc/time --from-github

			# Remove every trigger
			slipway set triggers bc/time --remove-all`),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, name, err := setTriggersTarget(args)
			if err != nil {
				return err
			}
			if err := o.complete(); err != nil {
				return err
			}
			return runSetTriggers(cmd.Context(), env, o, kind, name)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.Remove, "remove", false, "If true, remove the specified trigger(s).")
	f.BoolVar(&o.RemoveAll, "remove-all", false, "If true, remove all triggers.")
	f.BoolVar(&o.Auto, "auto", false, "If true, enable all triggers, or just the specified trigger")
	f.BoolVar(&o.Manual, "manual", false, "If true, set all triggers to manual, or just the specified trigger")
	f.BoolVar(&o.FromConfig, "from-config", false, "If set, configuration changes will result in a change")
	f.StringVarP(&o.Containers, "containers", "c", "", "Comma delimited list of container names this trigger applies to on deployments; defaults to the name of the only container")
	f.StringVar(&o.FromImage, "from-image", "", "An image stream tag to trigger off of")
	f.BoolVar(&o.FromGitHub, "from-github", false, "If true, a GitHub webhook - a secret value will be generated automatically")
	f.BoolVar(&o.FromWebhook, "from-webhook", false, "If true, a generic webhook - a secret value will be generated automatically")
	f.BoolVar(&o.FromWebhookAllowEnv, "from-webhook-allow-env", false, "If true, a generic webhook which can provide environment variables - a secret value will be generated automatically")
	f.BoolVar(&o.FromGitLab, "from-gitlab", false, "If true, a GitLab webhook - a secret value will be generated automatically")
	f.BoolVar(&o.FromBitbucket, "from-bitbucket", false, "If true, a Bitbucket webhook - a secret value will be generated automatically")
	return cmd
}

// setTriggersTarget reads "dc/NAME", "bc/NAME", "dc NAME", "bc NAME" or
// the same of an annotated workload kind; kind is "dc", "bc" or the
// workload's resource ("deployments").
func setTriggersTarget(args []string) (kind, name string, err error) {
	var resource string
	switch len(args) {
	case 1:
		var ok bool
		if resource, name, ok = strings.Cut(args[0], "/"); !ok {
			return "", "", fmt.Errorf("set triggers needs TYPE/NAME, got %q", args[0])
		}
	case 2:
		resource, name = args[0], args[1]
	default:
		return "", "", errors.New("set triggers needs one resource: dc/NAME or bc/NAME")
	}
	switch {
	case name == "":
		return "", "", errors.New("set triggers: the name is empty")
	case isDeploymentConfigKind(resource):
		return "dc", name, nil
	case isBuildConfigKind(resource):
		return "bc", name, nil
	}
	if w, ok := workloadKindOf(resource); ok {
		return w.resource, name, nil
	}
	return "", "", fmt.Errorf("%s/%s does not support triggers", resource, name)
}

// isBuildConfigKind reports whether a TYPE of TYPE/NAME names build configs.
func isBuildConfigKind(kind string) bool {
	switch strings.ToLower(kind) {
	case "bc", "buildconfig", "buildconfigs", "buildconfig.build.openshift.io", "buildconfigs.build.openshift.io":
		return true
	}
	return false
}

// webhooks counts the --from-<webhook> flags given.
func (o *setTriggersOptions) webhooks() int {
	n := 0
	for _, b := range []bool{o.FromGitHub, o.FromWebhook, o.FromWebhookAllowEnv, o.FromGitLab, o.FromBitbucket} {
		if b {
			n++
		}
	}
	return n
}

// complete checks the flag combination as oc does and derives what to do.
func (o *setTriggersOptions) complete() error {
	count := o.webhooks()
	if o.FromConfig {
		count++
	}
	if o.FromImage != "" {
		count++
		src, err := parseTagSource(o.FromImage, "istag")
		if err != nil {
			return fmt.Errorf("the value of --from-image must point to an image stream tag on this server: %w", err)
		}
		if !strings.Contains(o.FromImage, ":") || strings.Contains(o.FromImage, "@") {
			return errors.New("the value of --from-image must include the tag you wish to pull from")
		}
		o.fromImage = src
	}
	switch {
	case o.Auto && o.Manual:
		return errors.New("you must specify at most one of --auto or --manual")
	case o.Remove && o.RemoveAll:
		return errors.New("you must specify either --remove or --remove-all")
	case o.RemoveAll && (count != 0 || o.Auto || o.Manual):
		return errors.New("--remove-all may not be used with any other flag")
	case o.Remove && count < 1:
		return errors.New("--remove requires a flag defining a trigger type to be specified")
	case count > 1:
		return errors.New("you may only set one trigger type at a time")
	case o.Containers != "" && o.FromImage == "":
		return errors.New("--containers applies to --from-image only")
	}
	o.print = count == 0 && !o.Remove && !o.RemoveAll && !o.Auto && !o.Manual
	o.reset = count == 0 && (o.Auto || o.Manual)
	return nil
}

// containerNames is --containers as a list.
func (o *setTriggersOptions) containerNames() []string {
	if o.Containers == "" {
		return nil
	}
	return strings.Split(o.Containers, ",")
}

func runSetTriggers(ctx context.Context, env *commandEnv, o *setTriggersOptions, kind, name string) error {
	if kind == "dc" {
		c, err := newAppsClients(env)
		if err != nil {
			return err
		}
		return setDeploymentConfigTriggers(ctx, c, o, name, env.streams.Out)
	}
	if w, ok := workloadKindOf(kind); ok {
		c, err := newAppsClients(env)
		if err != nil {
			return err
		}
		return setWorkloadTriggers(ctx, c, w, o, name, env.streams.Out)
	}
	builds, _, namespace, err := buildClients(env)
	if err != nil {
		return err
	}
	client := builds.BuildV1().BuildConfigs(namespace)
	if o.print {
		bc, err := client.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		return printTriggers(env.streams.Out, "buildconfigs/"+name, buildConfigTriggerRows(bc))
	}
	changed := false
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		bc, err := client.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		before := bc.DeepCopy()
		if err := updateBuildConfigTriggers(bc, o, randomSecret); err != nil {
			return err
		}
		if changed = !apiequality.Semantic.DeepEqual(before.Spec.Triggers, bc.Spec.Triggers); !changed {
			return nil
		}
		_, err = client.Update(ctx, bc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("updating the triggers of build config %s: %w", name, err)
	}
	printTriggersUpdated(env.streams.Out, "buildconfig.build.openshift.io/"+name, changed)
	return nil
}

func setDeploymentConfigTriggers(ctx context.Context, c *appsClients, o *setTriggersOptions, name string, out io.Writer) error {
	if o.print {
		dc, err := c.dcs().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		return printTriggers(out, "deploymentconfigs/"+name, deploymentConfigTriggerRows(dc))
	}
	changed := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		dc, err := c.dcs().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		before := dc.DeepCopy()
		if err := updateDeploymentConfigTriggers(dc, o); err != nil {
			return err
		}
		if changed = !apiequality.Semantic.DeepEqual(before.Spec.Triggers, dc.Spec.Triggers); !changed {
			return nil
		}
		_, err = c.dcs().Update(ctx, dc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("updating the triggers of %s: %w", dcRef(name), err)
	}
	printTriggersUpdated(out, dcRef(name), changed)
	return nil
}

func printTriggersUpdated(out io.Writer, ref string, changed bool) {
	if changed {
		fmt.Fprintf(out, "%s triggers updated\n", ref)
	} else {
		fmt.Fprintf(out, "%s triggers unchanged\n", ref)
	}
}

// triggerRow is one line of the triggers table.
type triggerRow struct {
	Type, Value, Auto string
}

// printTriggers writes oc's table: NAME TYPE VALUE AUTO.
func printTriggers(out io.Writer, ref string, rows []triggerRow) error {
	w := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
	fmt.Fprintf(w, "NAME\tTYPE\tVALUE\tAUTO\n")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", ref, r.Type, r.Value, r.Auto)
	}
	return w.Flush()
}

// imageTriggerValue is an image trigger as the table shows it: the tag,
// with its namespace when that is not the object's, and the containers.
func imageTriggerValue(from corev1.ObjectReference, namespace string, containers []string) string {
	value := from.Name
	if from.Namespace != "" && from.Namespace != namespace {
		value = from.Namespace + "/" + value
	}
	if len(containers) > 0 {
		value += " (" + strings.Join(containers, ", ") + ")"
	}
	return value
}

func deploymentConfigTriggerRows(dc *appsv1.DeploymentConfig) []triggerRow {
	config := false
	var images []triggerRow
	for _, t := range dc.Spec.Triggers {
		switch {
		case t.Type == appsv1.DeploymentTriggerOnConfigChange:
			config = true
		case t.Type == appsv1.DeploymentTriggerOnImageChange && t.ImageChangeParams != nil:
			p := t.ImageChangeParams
			images = append(images, triggerRow{"image", imageTriggerValue(p.From, dc.Namespace, p.ContainerNames), fmt.Sprint(p.Automatic)})
		}
	}
	return append([]triggerRow{{"config", "", fmt.Sprint(config)}}, images...)
}

// sameImageStreamTag reports whether two image stream tag references name
// the same tag, an empty namespace meaning namespace.
func sameImageStreamTag(a, b corev1.ObjectReference, namespace string) bool {
	nsA, nsB := a.Namespace, b.Namespace
	if nsA == "" {
		nsA = namespace
	}
	if nsB == "" {
		nsB = namespace
	}
	return a.Name == b.Name && nsA == nsB
}

// fromImageRef is --from-image as the reference a trigger holds.
func (o *setTriggersOptions) fromImageRef() corev1.ObjectReference {
	return corev1.ObjectReference{Kind: "ImageStreamTag", Name: o.fromImage.Name, Namespace: o.fromImage.Namespace}
}

// updateDeploymentConfigTriggers applies o to dc's triggers. The triggers
// are never left nil: the server reads nil as [ConfigChange].
func updateDeploymentConfigTriggers(dc *appsv1.DeploymentConfig, o *setTriggersOptions) error {
	if o.webhooks() > 0 {
		return errors.New("deployment configs do not support web hooks")
	}
	triggers := slices.Clone(dc.Spec.Triggers)
	if triggers == nil {
		triggers = appsv1.DeploymentTriggerPolicies{}
	}
	isConfig := func(t appsv1.DeploymentTriggerPolicy) bool { return t.Type == appsv1.DeploymentTriggerOnConfigChange }
	isFromImage := func(t appsv1.DeploymentTriggerPolicy) bool {
		return t.Type == appsv1.DeploymentTriggerOnImageChange && t.ImageChangeParams != nil &&
			sameImageStreamTag(t.ImageChangeParams.From, o.fromImageRef(), dc.Namespace)
	}
	addConfig := func() {
		if !slices.ContainsFunc(triggers, isConfig) {
			triggers = append(appsv1.DeploymentTriggerPolicies{{Type: appsv1.DeploymentTriggerOnConfigChange}}, triggers...)
		}
	}
	switch {
	case o.RemoveAll:
		triggers = appsv1.DeploymentTriggerPolicies{}
	case o.Remove && o.FromConfig:
		triggers = slices.DeleteFunc(triggers, isConfig)
	case o.Remove:
		triggers = slices.DeleteFunc(triggers, isFromImage)
	case o.reset:
		// --manual stops every rollout trigger, --auto starts them all.
		if o.Auto {
			addConfig()
		} else {
			triggers = slices.DeleteFunc(triggers, isConfig)
		}
		for i := range triggers {
			if p := triggers[i].ImageChangeParams; p != nil {
				p = p.DeepCopy()
				p.Automatic = o.Auto
				triggers[i].ImageChangeParams = p
			}
		}
	case o.FromConfig:
		addConfig()
	default: // --from-image
		var spec *corev1.PodSpec
		if dc.Spec.Template != nil {
			spec = &dc.Spec.Template.Spec
		}
		names, err := triggerContainers(spec, o.containerNames())
		if err != nil {
			return err
		}
		if i := slices.IndexFunc(triggers, isFromImage); i >= 0 {
			p := triggers[i].ImageChangeParams.DeepCopy()
			p.Automatic, p.ContainerNames = !o.Manual, names
			triggers[i].ImageChangeParams = p
		} else {
			triggers = append(triggers, appsv1.DeploymentTriggerPolicy{
				Type: appsv1.DeploymentTriggerOnImageChange,
				ImageChangeParams: &appsv1.DeploymentTriggerImageChangeParams{
					Automatic:      !o.Manual,
					ContainerNames: names,
					From:           o.fromImageRef(),
				},
			})
		}
	}
	dc.Spec.Triggers = triggers
	return nil
}

// triggerContainers checks the --containers of an image trigger against
// the containers and init containers of spec (nil for none); none given
// means the only one.
func triggerContainers(spec *corev1.PodSpec, names []string) ([]string, error) {
	var all []string
	if spec != nil {
		for _, c := range spec.InitContainers {
			all = append(all, c.Name)
		}
		for _, c := range spec.Containers {
			all = append(all, c.Name)
		}
	}
	if len(names) == 0 {
		if len(all) != 1 {
			return nil, errors.New("you must specify --containers when setting --from-image")
		}
		return all, nil
	}
	var missing []string
	for _, n := range names {
		if !slices.Contains(all, n) {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("not all container names exist: %s (accepts: %s)", strings.Join(missing, ", "), strings.Join(all, ", "))
	}
	return names, nil
}

// strategyImageStreamTag is the image stream tag bc's strategy builds
// from (a trigger without from follows it), or nil.
func strategyImageStreamTag(bc *buildv1.BuildConfig) *corev1.ObjectReference {
	from := buildgenerator.StrategyFrom(&bc.Spec.Strategy)
	if from == nil || from.Kind != "ImageStreamTag" || from.Name == "" {
		return nil
	}
	return from
}

func buildConfigTriggerRows(bc *buildv1.BuildConfig) []triggerRow {
	config, strategyTriggered := false, false
	strategy := strategyImageStreamTag(bc)
	var images, hooks []triggerRow
	for i, t := range bc.Spec.Triggers {
		switch t.Type {
		case buildv1.ConfigChangeBuildTriggerType:
			config = true
		case buildv1.ImageChangeBuildTriggerType:
			from := buildgenerator.ImageChangeTriggerFrom(bc, &bc.Spec.Triggers[i])
			if from == nil {
				continue
			}
			if strategy != nil && sameImageStreamTag(*from, *strategy, bc.Namespace) {
				strategyTriggered = true
			}
			images = append(images, triggerRow{"image", imageTriggerValue(*from, bc.Namespace, nil), "true"})
		case buildv1.GenericWebHookBuildTriggerType:
			value := "<secret>"
			if t.GenericWebHook != nil && t.GenericWebHook.AllowEnv {
				value += ", allowenv"
			}
			hooks = append(hooks, triggerRow{"webhook", value, ""})
		case buildv1.GitHubWebHookBuildTriggerType:
			hooks = append(hooks, triggerRow{"github", "<secret>", ""})
		case buildv1.GitLabWebHookBuildTriggerType:
			hooks = append(hooks, triggerRow{"gitlab", "<secret>", ""})
		case buildv1.BitbucketWebHookBuildTriggerType:
			hooks = append(hooks, triggerRow{"bitbucket", "<secret>", ""})
		}
	}
	// The image the strategy builds from, untriggered, is a manual trigger.
	if strategy != nil && !strategyTriggered {
		images = append(images, triggerRow{"image", imageTriggerValue(*strategy, bc.Namespace, nil), "false"})
	}
	rows := append([]triggerRow{{"config", "", fmt.Sprint(config)}}, images...)
	return append(rows, hooks...)
}

// updateBuildConfigTriggers applies o to bc's triggers; secret makes the
// secrets of new webhooks. Build config image triggers are automatic or
// absent: making one manual removes it.
func updateBuildConfigTriggers(bc *buildv1.BuildConfig, o *setTriggersOptions, secret func() string) error {
	triggers := slices.Clone(bc.Spec.Triggers)
	strategy := strategyImageStreamTag(bc)
	isConfig := func(t buildv1.BuildTriggerPolicy) bool { return t.Type == buildv1.ConfigChangeBuildTriggerType }
	isImage := func(t buildv1.BuildTriggerPolicy) bool { return t.Type == buildv1.ImageChangeBuildTriggerType }
	follows := func(ref corev1.ObjectReference) func(buildv1.BuildTriggerPolicy) bool {
		return func(t buildv1.BuildTriggerPolicy) bool {
			from := buildgenerator.ImageChangeTriggerFrom(bc, &t)
			return from != nil && sameImageStreamTag(*from, ref, bc.Namespace)
		}
	}
	addConfig := func() {
		if !slices.ContainsFunc(triggers, isConfig) {
			triggers = append(triggers, buildv1.BuildTriggerPolicy{Type: buildv1.ConfigChangeBuildTriggerType})
		}
	}
	// addImage adds a trigger on ref unless one follows it already; the
	// strategy's own tag gets oc's canonical trigger without from.
	addImage := func(ref corev1.ObjectReference) {
		if slices.ContainsFunc(triggers, follows(ref)) {
			return
		}
		change := &buildv1.ImageChangeTrigger{}
		if strategy == nil || !sameImageStreamTag(ref, *strategy, bc.Namespace) {
			change.From = &ref
		}
		triggers = append(triggers, buildv1.BuildTriggerPolicy{Type: buildv1.ImageChangeBuildTriggerType, ImageChange: change})
	}
	webhookTypes := map[buildv1.BuildTriggerType]bool{
		buildv1.GitHubWebHookBuildTriggerType:    o.FromGitHub,
		buildv1.GenericWebHookBuildTriggerType:   o.FromWebhook || o.FromWebhookAllowEnv,
		buildv1.GitLabWebHookBuildTriggerType:    o.FromGitLab,
		buildv1.BitbucketWebHookBuildTriggerType: o.FromBitbucket,
	}
	switch {
	case o.RemoveAll:
		triggers = nil
	case o.Remove && o.FromConfig:
		triggers = slices.DeleteFunc(triggers, isConfig)
	case o.Remove && o.FromImage != "":
		triggers = slices.DeleteFunc(triggers, follows(o.fromImageRef()))
	case o.Remove:
		triggers = slices.DeleteFunc(triggers, func(t buildv1.BuildTriggerPolicy) bool { return webhookTypes[t.Type] })
	case o.reset && o.Auto:
		addConfig()
		if strategy != nil {
			addImage(*strategy)
		}
	case o.reset:
		triggers = slices.DeleteFunc(triggers, func(t buildv1.BuildTriggerPolicy) bool { return isConfig(t) || isImage(t) })
	case o.FromConfig:
		addConfig()
	case o.FromImage != "" && o.Manual:
		triggers = slices.DeleteFunc(triggers, follows(o.fromImageRef()))
	case o.FromImage != "":
		addImage(o.fromImageRef())
	default: // a new webhook
		hook := &buildv1.WebHookTrigger{Secret: secret(), AllowEnv: o.FromWebhookAllowEnv}
		t := buildv1.BuildTriggerPolicy{}
		switch {
		case o.FromGitHub:
			t.Type, t.GitHubWebHook = buildv1.GitHubWebHookBuildTriggerType, hook
		case o.FromWebhook, o.FromWebhookAllowEnv:
			t.Type, t.GenericWebHook = buildv1.GenericWebHookBuildTriggerType, hook
		case o.FromGitLab:
			t.Type, t.GitLabWebHook = buildv1.GitLabWebHookBuildTriggerType, hook
		case o.FromBitbucket:
			t.Type, t.BitbucketWebHook = buildv1.BitbucketWebHookBuildTriggerType, hook
		}
		triggers = append(triggers, t)
	}
	bc.Spec.Triggers = triggers
	return nil
}

// ---------------------------------------------------------------- set image

// newCmdSetImage is kubectl's set image plus oc's --source, with
// deployment configs updated here: kubectl does not know their pod
// template. --source=istag|isimage resolves IMAGE through the image
// stream tag (or image) to its pull spec, for any kind of object.
func newCmdSetImage(env *commandEnv) *cobra.Command {
	cmd := set.NewCmdImage(env.factory, env.streams)
	cmd.Use = "image (-f FILENAME | TYPE NAME) CONTAINER_NAME_1=CONTAINER_IMAGE_1 ... CONTAINER_NAME_N=CONTAINER_IMAGE_N [--source=docker|istag|isimage]"
	cmd.Long = templates.LongDesc(`
		Update existing container image(s) of resources.

		Possible resources include (case insensitive): deploymentconfig (dc),
		pod (po), replicationcontroller (rc), deployment (deploy), daemonset
		(ds), statefulset (sts), cronjob (cj), replicaset (rs).

		A deployment config rolls the new image out through its config change
		trigger. With --source=istag (or isimage) each IMAGE names an image
		stream tag (or image) and the container gets its current pull spec.`)
	cmd.Example = templates.Examples(`
		# Set container mytime of deployment config mytime to an image
		slipway set image dc/mytime mytime=quay.io/example/mytime:v2

		# Set it to the image that image stream tag mytime:v1 points to now
		slipway set image dc/mytime mytime=mytime:v1 --source=istag

		# Set every container of a pod
		slipway set image pod/web *=nginx:1.27`)
	var source string
	cmd.Flags().StringVar(&source, "source", "docker", "The image source type; valid types are 'imagestreamtag', 'istag', 'imagestreamimage', 'isimage', and 'docker'")
	kubectlRun := cmd.Run
	cmd.Run = nil
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		name, images, isDC := setImageTarget(args)
		kind, err := imageSourceKind(source)
		if err != nil {
			return err
		}
		if !isDC && kind == "DockerImage" {
			kubectlRun(cmd, args)
			return nil
		}
		c, err := newAppsClients(env)
		if err != nil {
			return err
		}
		if !isDC {
			// kubectl's set image with the images resolved.
			resolved, err := resolveImageArgs(cmd.Context(), c, args, kind)
			if err != nil {
				return err
			}
			kubectlRun(cmd, resolved)
			return nil
		}
		if images, err = resolveImageArgs(cmd.Context(), c, images, kind); err != nil {
			return err
		}
		return setDeploymentConfigImages(cmd.Context(), c, name, images, env.streams)
	}
	return cmd
}

// imageSourceKind is the reference kind of --source.
func imageSourceKind(source string) (string, error) {
	switch strings.ToLower(source) {
	case "", "docker", "dockerimage":
		return "DockerImage", nil
	case "istag", "imagestreamtag":
		return "ImageStreamTag", nil
	case "isimage", "imagestreamimage":
		return "ImageStreamImage", nil
	}
	return "", fmt.Errorf("invalid source %q; valid values are 'imagestreamtag', 'istag', 'imagestreamimage', 'isimage', and 'docker'", source)
}

// setImageTarget finds a deployment config target in set image's
// arguments ("dc/NAME" or "dc NAME" first), returning its name and the
// CONTAINER=IMAGE arguments; false for anything else (kubectl's set image
// handles it).
func setImageTarget(args []string) (name string, images []string, ok bool) {
	if len(args) == 0 {
		return "", nil, false
	}
	kind, name, found := strings.Cut(args[0], "/")
	images = args[1:]
	if !found {
		if len(args) < 2 || strings.Contains(args[1], "=") {
			return "", nil, false
		}
		kind, name, images = args[0], args[1], args[2:]
	}
	return name, images, name != "" && isDeploymentConfigKind(kind)
}

// resolveImageArgs replaces the IMAGE of every CONTAINER=IMAGE in args by
// the pull spec of the image stream tag or image it names (kind
// ImageStreamTag or ImageStreamImage); other arguments stay as they are.
func resolveImageArgs(ctx context.Context, c *appsClients, args []string, kind string) ([]string, error) {
	if kind == "DockerImage" {
		return args, nil
	}
	out := make([]string, len(args))
	for i, arg := range args {
		container, image, ok := strings.Cut(arg, "=")
		if !ok {
			out[i] = arg
			continue
		}
		src, err := parseTagSource(image, kind)
		if err != nil {
			return nil, err
		}
		namespace := src.Namespace
		if namespace == "" {
			namespace = c.namespace
		}
		var pullSpec string
		if kind == "ImageStreamTag" {
			istag, err := c.images.ImageV1().ImageStreamTags(namespace).Get(ctx, src.Name, metav1.GetOptions{})
			if err != nil {
				return nil, fmt.Errorf("resolving image stream tag %s: %w", src, err)
			}
			pullSpec = istag.Image.DockerImageReference
		} else {
			isimage, err := c.images.ImageV1().ImageStreamImages(namespace).Get(ctx, src.Name, metav1.GetOptions{})
			if err != nil {
				return nil, fmt.Errorf("resolving image stream image %s: %w", src, err)
			}
			pullSpec = isimage.Image.DockerImageReference
		}
		if pullSpec == "" {
			return nil, fmt.Errorf("%s %s has no pull spec", kind, src)
		}
		out[i] = container + "=" + pullSpec
	}
	return out, nil
}

// parseContainerImages reads CONTAINER=IMAGE arguments ("*" is every
// container).
func parseContainerImages(args []string) (map[string]string, error) {
	if len(args) == 0 {
		return nil, errors.New("at least one image update is required: CONTAINER=IMAGE")
	}
	images := map[string]string{}
	for _, arg := range args {
		container, image, ok := strings.Cut(arg, "=")
		if !ok || container == "" || image == "" {
			return nil, fmt.Errorf("invalid image update %q: expected CONTAINER=IMAGE", arg)
		}
		images[container] = image
	}
	return images, nil
}

// setTemplateImages writes images into template's containers and init
// containers; it fails on a container name the template lacks.
func setTemplateImages(template *corev1.PodTemplateSpec, images map[string]string) error {
	found := map[string]bool{}
	apply := func(containers []corev1.Container) {
		for i := range containers {
			image, ok := images[containers[i].Name]
			if !ok {
				image, ok = images["*"]
			}
			if ok {
				containers[i].Image = image
				found[containers[i].Name] = true
			}
		}
	}
	apply(template.Spec.InitContainers)
	apply(template.Spec.Containers)
	for name := range images {
		if name != "*" && !found[name] {
			return fmt.Errorf("unable to find container named %q", name)
		}
	}
	return nil
}

// setDeploymentConfigImages sets the images of dc name's template, which
// its ConfigChange trigger rolls out; it warns about containers an
// automatic image trigger will set back to its tag's image.
func setDeploymentConfigImages(ctx context.Context, c *appsClients, name string, args []string, streams IOStreams) error {
	images, err := parseContainerImages(args)
	if err != nil {
		return err
	}
	var dc *appsv1.DeploymentConfig
	changed := false
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current, err := c.dcs().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if current.Spec.Template == nil {
			return fmt.Errorf("%s has no pod template", dcRef(name))
		}
		dc = current.DeepCopy()
		if err := setTemplateImages(dc.Spec.Template, images); err != nil {
			return err
		}
		if changed = !apiequality.Semantic.DeepEqual(current.Spec.Template, dc.Spec.Template); !changed {
			return nil
		}
		_, err = c.dcs().Update(ctx, dc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("setting the image of %s: %w", dcRef(name), err)
	}
	if !changed {
		fmt.Fprintf(streams.Out, "%s image unchanged\n", dcRef(name))
		return nil
	}
	fmt.Fprintf(streams.Out, "%s image updated\n", dcRef(name))
	for _, t := range dc.Spec.Triggers {
		p := t.ImageChangeParams
		if t.Type != appsv1.DeploymentTriggerOnImageChange || p == nil || !p.Automatic {
			continue
		}
		for _, container := range p.ContainerNames {
			if _, ok := images[container]; ok || images["*"] != "" {
				fmt.Fprintf(streams.ErrOut, "Warning: container %q follows image stream tag %s through an automatic trigger, which will set its image back: run '%s set triggers dc/%s --manual' first to keep this image\n",
					container, imageTriggerValue(p.From, dc.Namespace, nil), CommandName, name)
			}
		}
	}
	return nil
}
