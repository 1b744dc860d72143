package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	"github.com/spf13/cobra"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/util/retry"
	"k8s.io/kubectl/pkg/describe"
	"k8s.io/kubectl/pkg/util/templates"
)

// imageClient returns the image client and the namespace to work in (-n,
// else the context's namespace).
func imageClient(env *commandEnv) (imageclient.Interface, string, error) {
	_, images, namespace, err := buildClients(env)
	return images, namespace, err
}

// ---------------------------------------------------------------- tag

// tagOptions are the flags of tag.
type tagOptions struct {
	Source          string
	Alias           bool
	Scheduled       bool
	Insecure        bool
	Reference       bool
	ReferencePolicy string
	ImportMode      string
	Delete          bool
}

func newCmdTag(env *commandEnv) *cobra.Command {
	o := &tagOptions{}
	cmd := &cobra.Command{
		Use:   "tag [--source=SOURCETYPE] SOURCE DEST [DEST ...]",
		Short: "Tag existing images into image streams",
		Long: templates.LongDesc(`
			Tag existing images into image streams.

			The tag command allows you to take an existing tag or image from an image
			stream, or a container image pull spec, and set it as the most recent image
			for a tag in 1 or more other image streams. It is similar to the 'docker tag'
			command, but it operates on image streams instead.

			Pass the --insecure flag if your external registry does not have a valid HTTPS
			certificate, or is only served over HTTP. Pass --scheduled to have the server
			regularly check the tag for updates and import the latest version. Pass
			--reference to have the server record the pull spec without importing it.

			An image stream tag source without --alias is resolved now: the destination
			gets the image it points to (a snapshot). With --alias the destination
			tracks the source tag.

			Use -d to remove tags from an image stream.`),
		Example: templates.Examples(`
			# Tag the current image of the image stream 'openshift/ruby' tag '2.0' into 'yourproject/ruby' tag 'tip'
			slipway tag openshift/ruby:2.0 yourproject/ruby:tip

			# Tag a specific image
			slipway tag openshift/ruby@sha256:6b646fa6bf5e5e4c7fa41056c27910e679c03ebe7f93e361e6515a9da7e258cc yourproject/ruby:tip

			# Tag an external container image and check it for updates regularly
			slipway tag quay.io/me/app:latest app:latest --scheduled

			# Make 'stable' follow 'latest'
			slipway tag --alias app:latest app:stable

			# Remove the specified spec tag from an image stream
			slipway tag app:stable -d`),
		RunE: func(cmd *cobra.Command, args []string) error {
			images, namespace, err := imageClient(env)
			if err != nil {
				return err
			}
			if o.Delete {
				return runTagDelete(cmd.Context(), images, namespace, args, env.streams.Out)
			}
			return runTag(cmd.Context(), images, namespace, o, args, env.streams.Out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Source, "source", "", "Optional hint for the source type; valid values are 'imagestreamtag', 'istag', 'imagestreamimage', 'isimage', and 'docker'.")
	f.BoolVarP(&o.Delete, "delete", "d", false, "Delete the provided spec tags.")
	f.BoolVar(&o.Alias, "alias", false, "Should the destination tag be updated whenever the source tag changes. Applies only to a single image stream.")
	f.BoolVar(&o.Scheduled, "scheduled", false, "Set a container image to be periodically imported from a remote repository.")
	f.BoolVar(&o.Insecure, "insecure", false, "Set to true if importing the specified container image requires HTTP or has a self-signed certificate.")
	f.BoolVar(&o.Reference, "reference", false, "Should the destination tag continue to pull from the source namespace. Applies only to image stream tags.")
	f.StringVar(&o.ReferencePolicy, "reference-policy", "source", "Allow to request pullthrough for external image when set to 'local'.")
	f.StringVar(&o.ImportMode, "import-mode", "", "Imports the full manifest list of a tag when set to 'PreserveOriginal'. Setting to 'Legacy' (the default) imports one image of a manifest list.")
	return cmd
}

// tagSource is a parsed SOURCE argument of tag.
type tagSource struct {
	Kind      string // DockerImage, ImageStreamTag or ImageStreamImage
	Namespace string // for image stream sources; "" means the current one
	Name      string // pull spec, "<stream>:<tag>" or "<stream>@<digest>"
}

// String is the source as the tag messages name it.
func (s tagSource) String() string {
	if s.Namespace != "" {
		return s.Namespace + "/" + s.Name
	}
	return s.Name
}

// hasRegistry reports whether the first path component of ref is a
// registry host, by docker's rule: it holds a "." or ":" or is localhost.
func hasRegistry(ref string) bool {
	first, _, found := strings.Cut(ref, "/")
	return found && (strings.ContainsAny(first, ".:") || first == "localhost")
}

// parseTagSource parses SOURCE with the --source hint (oc's detection
// otherwise: a registry host means a container image, "@" an image stream
// image, ":" an image stream tag, anything else a container image).
func parseTagSource(arg, hint string) (tagSource, error) {
	kind := ""
	switch strings.ToLower(hint) {
	case "":
		switch {
		case hasRegistry(arg):
			kind = "DockerImage"
		case strings.Contains(arg, "@"):
			kind = "ImageStreamImage"
		case strings.Contains(arg, ":"):
			kind = "ImageStreamTag"
		default:
			kind = "DockerImage"
		}
	case "docker", "dockerimage":
		kind = "DockerImage"
	case "istag", "imagestreamtag":
		kind = "ImageStreamTag"
	case "isimage", "imagestreamimage":
		kind = "ImageStreamImage"
	default:
		return tagSource{}, fmt.Errorf("invalid source %q; valid values are 'imagestreamtag', 'istag', 'imagestreamimage', 'isimage', and 'docker'", hint)
	}
	if kind == "DockerImage" {
		if arg == "" || strings.ContainsAny(arg, " \t") {
			return tagSource{}, fmt.Errorf("invalid container image reference %q", arg)
		}
		return tagSource{Kind: kind, Name: arg}, nil
	}
	namespace, name := "", arg
	if ns, rest, found := strings.Cut(arg, "/"); found {
		namespace, name = ns, rest
	}
	sep := ":"
	if kind == "ImageStreamImage" {
		sep = "@"
	}
	stream, ref, found := strings.Cut(name, sep)
	if stream == "" || strings.Contains(stream, "/") || (found && ref == "") {
		return tagSource{}, fmt.Errorf("invalid %s %q: expected [NAMESPACE/]STREAM%sREF", kind, arg, sep)
	}
	if !found {
		if kind == "ImageStreamImage" {
			return tagSource{}, fmt.Errorf("invalid ImageStreamImage %q: expected [NAMESPACE/]STREAM@DIGEST", arg)
		}
		name = stream + ":latest"
	}
	return tagSource{Kind: kind, Namespace: namespace, Name: name}, nil
}

// parseTagDest parses a DEST argument, [NAMESPACE/]STREAM[:TAG], the tag
// defaulting to latest.
func parseTagDest(arg, namespace string) (ns, stream, tag string, err error) {
	ns, rest := namespace, arg
	if before, after, found := strings.Cut(arg, "/"); found {
		ns, rest = before, after
	}
	stream, tag, found := strings.Cut(rest, ":")
	if stream == "" || strings.ContainsAny(stream, "/@") || strings.Contains(tag, ":") || (found && tag == "") {
		return "", "", "", fmt.Errorf("invalid destination %q: expected [NAMESPACE/]STREAM:TAG", arg)
	}
	if !found {
		tag = "latest"
	}
	return ns, stream, tag, nil
}

// tagReference builds the spec tag that tag writes for src, with the
// import and reference policies of o.
func tagReference(o *tagOptions, src tagSource, tag string) (*imagev1.TagReference, error) {
	if o.Alias && src.Kind != "ImageStreamTag" {
		return nil, errors.New("cannot set alias for anything other than an image stream tag")
	}
	if o.Scheduled && src.Kind != "DockerImage" {
		return nil, errors.New("only container images (--source=docker) can have scheduled import enabled")
	}
	ref := &imagev1.TagReference{
		Name:         tag,
		Reference:    o.Reference,
		From:         &corev1.ObjectReference{Kind: src.Kind, Name: src.Name, Namespace: src.Namespace},
		ImportPolicy: imagev1.TagImportPolicy{Insecure: o.Insecure, Scheduled: o.Scheduled},
	}
	switch strings.ToLower(o.ReferencePolicy) {
	case "", "source":
		ref.ReferencePolicy.Type = imagev1.SourceTagReferencePolicy
	case "local":
		ref.ReferencePolicy.Type = imagev1.LocalTagReferencePolicy
	default:
		return nil, fmt.Errorf("valid values for --reference-policy are: source, local")
	}
	switch o.ImportMode {
	case "":
	case string(imagev1.ImportModeLegacy), string(imagev1.ImportModePreserveOriginal):
		ref.ImportPolicy.ImportMode = imagev1.ImportModeType(o.ImportMode)
	default:
		return nil, fmt.Errorf("valid values for --import-mode are: %s, %s", imagev1.ImportModeLegacy, imagev1.ImportModePreserveOriginal)
	}
	if src.Kind == "DockerImage" {
		// Generation 0 asks the server to import the image (again).
		zero := int64(0)
		ref.Generation = &zero
	}
	return ref, nil
}

func runTag(ctx context.Context, images imageclient.Interface, namespace string, o *tagOptions, args []string, out io.Writer) error {
	if len(args) < 2 {
		return errors.New("you must specify a source and at least one destination")
	}
	src, err := parseTagSource(args[0], o.Source)
	if err != nil {
		return err
	}
	// Without --alias an image stream tag is a snapshot of the image it
	// points to now.
	if src.Kind == "ImageStreamTag" && !o.Alias {
		srcNS := src.Namespace
		if srcNS == "" {
			srcNS = namespace
		}
		istag, err := images.ImageV1().ImageStreamTags(srcNS).Get(ctx, src.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("resolving image stream tag %s: %w", src, err)
		}
		if istag.Image.Name == "" {
			return fmt.Errorf("image stream tag %s has no image yet", src)
		}
		stream, _, _ := strings.Cut(src.Name, ":")
		src = tagSource{Kind: "ImageStreamImage", Namespace: src.Namespace, Name: stream + "@" + istag.Image.Name}
	}
	for _, arg := range args[1:] {
		destNS, stream, tag, err := parseTagDest(arg, namespace)
		if err != nil {
			return err
		}
		from := src
		if from.Kind != "DockerImage" && from.Namespace == "" && destNS != namespace {
			from.Namespace = namespace // the source lives in the current project
		}
		ref, err := tagReference(o, from, tag)
		if err != nil {
			return err
		}
		istag := &imagev1.ImageStreamTag{ObjectMeta: metav1.ObjectMeta{Name: stream + ":" + tag, Namespace: destNS}, Tag: ref}
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			_, err := images.ImageV1().ImageStreamTags(destNS).Update(ctx, istag, metav1.UpdateOptions{})
			if apierrors.IsNotFound(err) {
				_, err = images.ImageV1().ImageStreamTags(destNS).Create(ctx, istag, metav1.CreateOptions{})
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("tagging %s into %s: %w", src, arg, err)
		}
		dest := istag.Name
		if destNS != namespace {
			dest = destNS + "/" + dest
		}
		switch {
		case o.Alias:
			fmt.Fprintf(out, "Tag %s set up to track %s.\n", dest, src)
		case o.Scheduled:
			fmt.Fprintf(out, "Tag %s set to import %s periodically.\n", dest, src)
		default:
			fmt.Fprintf(out, "Tag %s set to %s.\n", dest, src)
		}
	}
	return nil
}

func runTagDelete(ctx context.Context, images imageclient.Interface, namespace string, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("you must specify at least one image stream tag to delete")
	}
	for _, arg := range args {
		ns, stream, tag, err := parseTagDest(arg, namespace)
		if err != nil {
			return err
		}
		name := stream + ":" + tag
		if err := images.ImageV1().ImageStreamTags(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			return fmt.Errorf("deleting tag %s: %w", arg, err)
		}
		if ns != namespace {
			name = ns + "/" + name
		}
		fmt.Fprintf(out, "Deleted tag %s.\n", name)
	}
	return nil
}

// ---------------------------------------------------------------- import-image

// importImageOptions are the flags and argument of import-image.
type importImageOptions struct {
	Name, Tag       string
	From            string
	Confirm         bool
	All             bool
	Scheduled       bool
	Insecure        bool
	ReferencePolicy string
	ImportMode      string
	DryRun          bool
	// changed reports whether a flag was given, so an existing tag keeps
	// its policies unless told otherwise.
	changed func(flag string) bool
}

func newCmdImportImage(env *commandEnv) *cobra.Command {
	o := &importImageOptions{}
	cmd := &cobra.Command{
		Use:   "import-image IMAGESTREAM[:TAG]",
		Short: "Import images from a container image registry",
		Long: templates.LongDesc(`
			Import the latest image information from a tag in a container image registry.

			Image streams allow you to control which images are rolled out to your builds
			and applications. This command fetches the latest version of an image from a
			remote repository and updates the image stream tag if it does not match the
			previous value. Running the command multiple times will not create duplicate
			entries. When importing an image, only the image metadata is copied, not the
			image contents.

			If you wish to change the image stream tag or provide more advanced options,
			see the 'tag' command.`),
		Example: templates.Examples(`
			# Import tag latest into a new image stream
			slipway import-image mystream --from=registry.io/repo/image:latest --confirm

			# Update imported data for tag latest in an already existing image stream
			slipway import-image mystream

			# Update imported data for tag stable in an already existing image stream
			slipway import-image mystream:stable

			# Import all tags into a new image stream
			slipway import-image mystream --from=registry.io/repo/image --all --confirm`),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return errors.New("you must specify the name of an image stream")
			}
			name, tag, _ := strings.Cut(args[0], ":")
			o.Name, o.Tag = name, tag
			o.changed = cmd.Flags().Changed
			images, namespace, err := imageClient(env)
			if err != nil {
				return err
			}
			return runImportImage(cmd.Context(), images, namespace, o, env.streams.Out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.From, "from", "", "A container image repository to import images from.")
	f.BoolVar(&o.Confirm, "confirm", false, "If true, allow the image stream import location to be set or changed.")
	f.BoolVar(&o.All, "all", false, "If true, import all tags from the provided source on creation or if --from is specified.")
	f.BoolVar(&o.Scheduled, "scheduled", false, "Set each imported container image to be periodically imported from a remote repository.")
	f.BoolVar(&o.Insecure, "insecure", false, "If true, allow importing from registries that have invalid HTTPS certificates or are hosted via HTTP.")
	f.StringVar(&o.ReferencePolicy, "reference-policy", "source", "Allow to request pullthrough for external image when set to 'local'.")
	f.StringVar(&o.ImportMode, "import-mode", "", "Imports the full manifest list of a tag when set to 'PreserveOriginal'. Setting to 'Legacy' (the default) imports one image of a manifest list.")
	f.BoolVar(&o.DryRun, "dry-run", false, "Fetch information about images without creating or updating an image stream.")
	return cmd
}

// policies returns the import and reference policies of o, each flag that
// was not given keeping existing's value (when there is one).
func (o *importImageOptions) policies(existing *imagev1.TagReference) (imagev1.TagImportPolicy, imagev1.TagReferencePolicy, error) {
	var importPolicy imagev1.TagImportPolicy
	var refPolicy imagev1.TagReferencePolicy
	if existing != nil {
		importPolicy, refPolicy = existing.ImportPolicy, existing.ReferencePolicy
	}
	changed := func(flag string) bool { return existing == nil || (o.changed != nil && o.changed(flag)) }
	if changed("insecure") {
		importPolicy.Insecure = o.Insecure
	}
	if changed("scheduled") {
		importPolicy.Scheduled = o.Scheduled
	}
	if changed("import-mode") {
		switch o.ImportMode {
		case "", string(imagev1.ImportModeLegacy), string(imagev1.ImportModePreserveOriginal):
			importPolicy.ImportMode = imagev1.ImportModeType(o.ImportMode)
		default:
			return importPolicy, refPolicy, fmt.Errorf("valid values for --import-mode are: %s, %s", imagev1.ImportModeLegacy, imagev1.ImportModePreserveOriginal)
		}
	}
	if changed("reference-policy") {
		switch strings.ToLower(o.ReferencePolicy) {
		case "", "source":
			refPolicy.Type = imagev1.SourceTagReferencePolicy
		case "local":
			refPolicy.Type = imagev1.LocalTagReferencePolicy
		default:
			return importPolicy, refPolicy, errors.New("valid values for --reference-policy are: source, local")
		}
	}
	return importPolicy, refPolicy, nil
}

// newImageImport builds the ImageStreamImport import-image posts for
// stream (nil when it does not exist yet), applying oc's rules: a new
// stream or a changed source needs --confirm, --all imports a repository,
// and without --from an existing tag that follows a container image is
// imported again.
func newImageImport(o *importImageOptions, namespace string, stream *imagev1.ImageStream) (*imagev1.ImageStreamImport, error) {
	if o.Name == "" {
		return nil, errors.New("you must specify the name of an image stream")
	}
	if o.All && o.Tag != "" {
		return nil, fmt.Errorf("cannot specify a tag %q as well as --all", o.Tag)
	}
	isi := &imagev1.ImageStreamImport{
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: namespace},
		Spec:       imagev1.ImageStreamImportSpec{Import: !o.DryRun},
	}
	if stream == nil && !o.Confirm {
		return nil, fmt.Errorf("no image stream named %q exists, pass --confirm to create and import", o.Name)
	}
	if stream != nil {
		// The server refuses the import when the stream changed meanwhile.
		isi.ResourceVersion, isi.UID = stream.ResourceVersion, stream.UID
	}

	if o.All {
		from := o.From
		if stream != nil {
			switch {
			case from == "" && stream.Spec.DockerImageRepository == "":
				return nil, fmt.Errorf("only image streams with spec.dockerImageRepository set may have --all without --from")
			case from == "":
				from = stream.Spec.DockerImageRepository
			case from != stream.Spec.DockerImageRepository && stream.Spec.DockerImageRepository != "" && !o.Confirm:
				return nil, fmt.Errorf("the image stream already imports from %q, pass --confirm to import from %q instead", stream.Spec.DockerImageRepository, from)
			}
		}
		if from == "" {
			from = o.Name
		}
		importPolicy, refPolicy, err := o.policies(nil)
		if err != nil {
			return nil, err
		}
		isi.Spec.Repository = &imagev1.RepositoryImportSpec{
			From:            corev1.ObjectReference{Kind: "DockerImage", Name: from},
			ImportPolicy:    importPolicy,
			ReferencePolicy: refPolicy,
		}
		return isi, nil
	}

	tag := o.Tag
	if tag == "" {
		tag = "latest"
	}
	from := o.From
	var existing *imagev1.TagReference
	if stream != nil {
		for i := range stream.Spec.Tags {
			if stream.Spec.Tags[i].Name == tag {
				existing = &stream.Spec.Tags[i]
			}
		}
	}
	switch {
	case existing == nil && stream != nil && from == "" && tag == "latest" && stream.Spec.DockerImageRepository != "":
		from = stream.Spec.DockerImageRepository
	case existing == nil && stream != nil && from == "":
		return nil, fmt.Errorf("the tag %q does not exist on the image stream - choose an existing tag to import or use the 'tag' command to create a new tag", tag)
	case existing == nil && from == "":
		// A new stream without --from imports the image of its name.
		from = o.Name
		if o.Tag != "" {
			from += ":" + o.Tag
		}
	case existing != nil && existing.From == nil:
		return nil, fmt.Errorf("tag %q already exists - you must use the 'tag' command if you want to change the source to %q", tag, from)
	case existing != nil && existing.From.Kind != "DockerImage":
		return nil, fmt.Errorf("tag %q points to existing %s %q, it cannot be re-imported", tag, existing.From.Kind, existing.From.Name)
	case existing != nil && from == "":
		from = existing.From.Name
	case existing != nil && from != existing.From.Name && !o.Confirm:
		return nil, fmt.Errorf("the tag %q points to %q - pass --confirm to change the source to %q, or use the 'tag' command", tag, existing.From.Name, from)
	}
	importPolicy, refPolicy, err := o.policies(existing)
	if err != nil {
		return nil, err
	}
	isi.Spec.Images = []imagev1.ImageImportSpec{{
		From:            corev1.ObjectReference{Kind: "DockerImage", Name: from},
		To:              &corev1.LocalObjectReference{Name: tag},
		ImportPolicy:    importPolicy,
		ReferencePolicy: refPolicy,
	}}
	return isi, nil
}

func runImportImage(ctx context.Context, images imageclient.Interface, namespace string, o *importImageOptions, out io.Writer) error {
	stream, err := images.ImageV1().ImageStreams(namespace).Get(ctx, o.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		stream, err = nil, nil
	}
	if err != nil {
		return fmt.Errorf("reading image stream %s: %w", o.Name, err)
	}
	isi, err := newImageImport(o, namespace, stream)
	if err != nil {
		return err
	}
	result, err := images.ImageV1().ImageStreamImports(namespace).Create(ctx, isi, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("importing into image stream %s: %w", o.Name, err)
	}
	failures := importFailures(result)
	suffix := ""
	if o.DryRun {
		suffix = " (dry run)"
	}
	if len(failures) > 0 {
		fmt.Fprintf(out, "imagestream.image.openshift.io/%s imported with errors%s\n", o.Name, suffix)
	} else {
		fmt.Fprintf(out, "imagestream.image.openshift.io/%s imported%s\n", o.Name, suffix)
	}
	// A dry run may answer without the stream it would write.
	if result.Status.Import != nil {
		fmt.Fprint(out, "\n"+describeImageStream(result.Status.Import, time.Now()))
	}
	if len(failures) > 0 {
		return errors.New(strings.Join(failures, "\n"))
	}
	return nil
}

// importFailures lists the failed tags of an import as oc words them.
func importFailures(isi *imagev1.ImageStreamImport) []string {
	var out []string
	for i, image := range isi.Status.Images {
		if image.Status.Status != metav1.StatusFailure {
			continue
		}
		tag := image.Tag
		if tag == "" && i < len(isi.Spec.Images) && isi.Spec.Images[i].To != nil {
			tag = isi.Spec.Images[i].To.Name
		}
		out = append(out, fmt.Sprintf("tag %s failed: %s", tag, image.Status.Message))
	}
	if repo := isi.Status.Repository; repo != nil {
		if repo.Status.Status == metav1.StatusFailure {
			out = append(out, fmt.Sprintf("repository import failed: %s", repo.Status.Message))
		}
		for _, image := range repo.Images {
			if image.Status.Status == metav1.StatusFailure {
				out = append(out, fmt.Sprintf("tag %s failed: %s", image.Tag, image.Status.Message))
			}
		}
	}
	return out
}

// ---------------------------------------------------------------- describe is

var hookDescribersOnce sync.Once

// hookImageDescribers makes kubectl's describe verb use oc's layout for
// image streams; every other kind keeps kubectl's describers.
func hookImageDescribers() {
	hookDescribersOnce.Do(func() {
		next := describe.DescriberFn
		describe.DescriberFn = func(getter genericclioptions.RESTClientGetter, mapping *meta.RESTMapping) (describe.ResourceDescriber, error) {
			if mapping.GroupVersionKind.GroupKind() == imagev1.SchemeGroupVersion.WithKind("ImageStream").GroupKind() {
				return &imageStreamDescriber{getter: getter}, nil
			}
			return next(getter, mapping)
		}
	})
}

// imageStreamDescriber describes image streams as oc does.
type imageStreamDescriber struct {
	getter genericclioptions.RESTClientGetter
}

// Describe reads image stream namespace/name and renders it.
func (d *imageStreamDescriber) Describe(namespace, name string, _ describe.DescriberSettings) (string, error) {
	config, err := d.getter.ToRESTConfig()
	if err != nil {
		return "", err
	}
	images, err := imageclient.NewForConfig(config)
	if err != nil {
		return "", err
	}
	stream, err := images.ImageV1().ImageStreams(namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	return describeImageStream(stream, time.Now()), nil
}

// describeImageStream renders stream in oc's describe layout, with times
// relative to now.
func describeImageStream(stream *imagev1.ImageStream, now time.Time) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintf(w, "Name:\t%s\n", stream.Name)
	fmt.Fprintf(w, "Namespace:\t%s\n", stream.Namespace)
	fmt.Fprintf(w, "Created:\t%s ago\n", humanDuration(now.Sub(stream.CreationTimestamp.Time)))
	fmt.Fprintf(w, "Labels:\t%s\n", formatMap(stream.Labels))
	fmt.Fprintf(w, "Annotations:\t%s\n", formatMap(stream.Annotations))
	repo := stream.Status.PublicDockerImageRepository
	if repo == "" {
		repo = stream.Status.DockerImageRepository
	}
	fmt.Fprintf(w, "Image Repository:\t%s\n", repo)
	fmt.Fprintf(w, "Image Lookup:\tlocal=%t\n", stream.Spec.LookupPolicy.Local)
	tags := streamTagNames(stream)
	if len(tags) == 0 {
		fmt.Fprintf(w, "Tags:\t<none>\n")
		_ = w.Flush()
		return b.String()
	}
	unique := map[string]bool{}
	for _, t := range stream.Status.Tags {
		for _, item := range t.Items {
			unique[item.Image] = true
		}
	}
	fmt.Fprintf(w, "Unique Images:\t%d\n", len(unique))
	fmt.Fprintf(w, "Tags:\t%d\n", len(tags))
	_ = w.Flush()
	for _, tag := range tags {
		b.WriteString("\n")
		describeTag(&b, stream, tag, now)
	}
	return b.String()
}

// describeTag renders one tag: its source, its policies, its failed
// import conditions and its history, newest first.
func describeTag(b *strings.Builder, stream *imagev1.ImageStream, tag string, now time.Time) {
	var spec *imagev1.TagReference
	for i := range stream.Spec.Tags {
		if stream.Spec.Tags[i].Name == tag {
			spec = &stream.Spec.Tags[i]
		}
	}
	var status *imagev1.NamedTagEventList
	for i := range stream.Status.Tags {
		if stream.Status.Tags[i].Tag == tag {
			status = &stream.Status.Tags[i]
		}
	}
	fmt.Fprintf(b, "%s\n", tag)
	switch {
	case spec == nil:
		b.WriteString("  no spec tag\n")
	case spec.From == nil:
		b.WriteString("  tag without source image\n")
	default:
		name := spec.From.Name
		if spec.From.Namespace != "" && spec.From.Namespace != stream.Namespace {
			name = spec.From.Namespace + "/" + name
		}
		switch {
		case spec.From.Kind == "DockerImage" && spec.Reference:
			fmt.Fprintf(b, "  reference to registry %s\n", name)
		case spec.From.Kind == "DockerImage" && spec.ImportPolicy.Scheduled:
			fmt.Fprintf(b, "  updates automatically from registry %s\n", name)
		case spec.From.Kind == "ImageStreamImage" && spec.Reference:
			fmt.Fprintf(b, "  reference to image %s\n", name)
		case spec.Reference:
			fmt.Fprintf(b, "  reference to %s\n", name)
		default:
			fmt.Fprintf(b, "  tagged from %s\n", name)
		}
		if spec.ImportPolicy.Insecure {
			b.WriteString("    will use insecure HTTPS or HTTP connections\n")
		}
		if spec.ReferencePolicy.Type == imagev1.LocalTagReferencePolicy {
			b.WriteString("    prefer registry pullthrough when referencing this tag\n")
		}
	}
	b.WriteString("\n")
	if spec != nil && importing(stream, spec, status) {
		b.WriteString("  ~ importing latest image ...\n")
	}
	if status == nil {
		return
	}
	for _, c := range status.Conditions {
		if c.Type == imagev1.ImportSuccess && c.Status == corev1.ConditionFalse {
			fmt.Fprintf(b, "  ! error: Import failed (%s): %s\n      %s ago\n", c.Reason, c.Message, humanDuration(now.Sub(c.LastTransitionTime.Time)))
		}
	}
	for i, item := range status.Items {
		mark := " "
		if i == 0 {
			mark = "*"
		}
		fmt.Fprintf(b, "  %s %s\n", mark, item.DockerImageReference)
		fmt.Fprintf(b, "      %s ago\n", humanDuration(now.Sub(item.Created.Time)))
	}
}

// importing reports whether the tag waits for an import: it follows a
// container image and its spec generation is newer than what was
// observed (the newest event's or a failed import's generation).
func importing(stream *imagev1.ImageStream, spec *imagev1.TagReference, status *imagev1.NamedTagEventList) bool {
	if spec.From == nil || spec.From.Kind != "DockerImage" || spec.Reference || spec.Generation == nil {
		return false
	}
	var observed int64
	if status != nil {
		if len(status.Items) > 0 {
			observed = status.Items[0].Generation
		}
		for _, c := range status.Conditions {
			observed = max(observed, c.Generation)
		}
	}
	return *spec.Generation > observed
}

// streamTagNames lists the spec and status tags of stream once each,
// latest first and the rest sorted.
func streamTagNames(stream *imagev1.ImageStream) []string {
	var names []string
	for _, t := range stream.Spec.Tags {
		names = append(names, t.Name)
	}
	for _, t := range stream.Status.Tags {
		names = append(names, t.Tag)
	}
	sort.Slice(names, func(i, j int) bool {
		if (names[i] == "latest") != (names[j] == "latest") {
			return names[i] == "latest"
		}
		return names[i] < names[j]
	})
	return slices.Compact(names)
}

// formatMap renders labels or annotations as describe does: k=v, one per
// line, "<none>" when empty.
func formatMap(m map[string]string) string {
	if len(m) == 0 {
		return "<none>"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = k + "=" + m[k]
	}
	return strings.Join(lines, "\n\t")
}

// humanDuration words d as oc's describe does ("2 seconds", "About a
// minute", "3 hours").
func humanDuration(d time.Duration) string {
	switch s := int(d.Seconds()); {
	case s < 1:
		return "Less than a second"
	case s == 1:
		return "1 second"
	case s < 60:
		return fmt.Sprintf("%d seconds", s)
	}
	switch m := int(d.Minutes()); {
	case m == 1:
		return "About a minute"
	case m < 60:
		return fmt.Sprintf("%d minutes", m)
	}
	switch h := int(d.Round(time.Hour).Hours()); {
	case h == 1:
		return "About an hour"
	case h < 48:
		return fmt.Sprintf("%d hours", h)
	case h < 24*7*2:
		return fmt.Sprintf("%d days", h/24)
	case h < 24*30*2:
		return fmt.Sprintf("%d weeks", h/24/7)
	case h < 24*365*2:
		return fmt.Sprintf("%d months", h/24/30)
	default:
		return fmt.Sprintf("%d years", int(d.Hours())/24/365)
	}
}
