package buildspec

import (
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"

	buildv1 "github.com/openshift/api/build/v1"
	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/slipway-dev/slipway/internal/registry/image/imageref"
)

// maxDockerfileLength bounds an inline Dockerfile, as OpenShift does.
const maxDockerfileLength = 60 * 1000

var (
	strategyTypes = []string{
		string(buildv1.DockerBuildStrategyType), string(buildv1.SourceBuildStrategyType),
		string(buildv1.CustomBuildStrategyType), string(buildv1.JenkinsPipelineBuildStrategyType),
	}
	sourceTypes = []string{
		string(buildv1.BuildSourceGit), string(buildv1.BuildSourceDockerfile), string(buildv1.BuildSourceBinary),
		string(buildv1.BuildSourceImage), string(buildv1.BuildSourceNone),
	}
	imageOptimizationPolicies = []string{
		string(buildv1.ImageOptimizationNone), string(buildv1.ImageOptimizationSkipLayers),
		string(buildv1.ImageOptimizationSkipLayersAndWarn),
	}
	gitURLSchemes = map[string]bool{"http": true, "https": true, "git": true, "ssh": true, "git+ssh": true, "ssh+git": true, "file": true}
	// scpLikeGitRE matches git's scp-like syntax "[user@]host:path".
	scpLikeGitRE = regexp.MustCompile(`^(?:[\w.~-]+@)?[\w.-]+:[^\s]+$`)
)

// exactlyOneStrategy is the message for a strategy section that sets none or
// several of the four strategies.
const exactlyOneStrategy = "must provide a value for exactly one of sourceStrategy, customStrategy, dockerStrategy, or jenkinsPipelineStrategy"

// ValidateCommonSpec validates the spec BuildConfigs and Builds share; paths
// are rooted at fldPath (normally "spec").
func ValidateCommonSpec(spec *buildv1.CommonSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.ServiceAccount != "" {
		for _, msg := range apimachineryvalidation.ValidateServiceAccountName(spec.ServiceAccount, false) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("serviceAccount"), spec.ServiceAccount, msg))
		}
	}
	allErrs = append(allErrs, validateSource(&spec.Source, isCustomOrPipeline(spec.Strategy), fldPath.Child("source"))...)
	allErrs = append(allErrs, validateStrategy(&spec.Strategy, fldPath.Child("strategy"))...)
	allErrs = append(allErrs, validateOutput(&spec.Output, fldPath.Child("output"))...)
	if spec.PostCommit.Script != "" && len(spec.PostCommit.Command) > 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("postCommit"), spec.PostCommit, "cannot use command and script together"))
	}
	if d := spec.CompletionDeadlineSeconds; d != nil && *d <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("completionDeadlineSeconds"), *d, "must be greater than 0"))
	}
	allErrs = append(allErrs, metav1validation.ValidateLabels(spec.NodeSelector, fldPath.Child("nodeSelector"))...)
	return allErrs
}

func validateSource(src *buildv1.BuildSource, noInputNeeded bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if src.Type != "" && !slices.Contains(sourceTypes, string(src.Type)) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), src.Type, sourceTypes))
	}
	inputs := 0
	if src.Git != nil {
		inputs++
	}
	if src.Binary != nil {
		inputs++
	}
	if src.Dockerfile != nil {
		inputs++
	}
	if len(src.Images) > 0 {
		inputs++
	}
	if inputs == 0 && !noInputNeeded {
		allErrs = append(allErrs, field.Required(fldPath, "must provide a value for at least one source input (git, binary, dockerfile, images)"))
	}

	if src.Git != nil {
		if src.Binary != nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("git"), "", "may not be set when binary is also set"))
		}
		allErrs = append(allErrs, validateGitURI(src.Git.URI, fldPath.Child("git", "uri"))...)
	}
	if src.Binary != nil {
		if f := src.Binary.AsFile; f != "" && (strings.Contains(f, "/") || f == "." || f == "..") {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("binary", "asFile"), f, "must be a file name without slashes or relative path segments"))
		}
	}
	if src.Dockerfile != nil && len(*src.Dockerfile) > maxDockerfileLength {
		allErrs = append(allErrs, field.TooLong(fldPath.Child("dockerfile"), "", maxDockerfileLength))
	}
	allErrs = append(allErrs, validateRelativePath(src.ContextDir, fldPath.Child("contextDir"))...)

	for i, img := range src.Images {
		imgPath := fldPath.Child("images").Index(i)
		allErrs = append(allErrs, ValidateImageReference(&img.From, true, imgPath.Child("from"))...)
		if len(img.Paths) == 0 && len(img.As) == 0 {
			allErrs = append(allErrs, field.Required(imgPath.Child("paths"), "must provide at least one path to copy or an alias in as"))
		}
		for j, p := range img.Paths {
			pPath := imgPath.Child("paths").Index(j)
			if p.SourcePath == "" {
				allErrs = append(allErrs, field.Required(pPath.Child("sourcePath"), ""))
			} else if !path.IsAbs(p.SourcePath) {
				allErrs = append(allErrs, field.Invalid(pPath.Child("sourcePath"), p.SourcePath, "must be an absolute path"))
			}
			allErrs = append(allErrs, validateRelativePath(p.DestinationDir, pPath.Child("destinationDir"))...)
		}
		allErrs = append(allErrs, validatePullSecret(img.PullSecret, imgPath.Child("pullSecret"))...)
	}
	allErrs = append(allErrs, validatePullSecret(src.SourceSecret, fldPath.Child("sourceSecret"))...)
	for i, s := range src.Secrets {
		sPath := fldPath.Child("secrets").Index(i)
		allErrs = append(allErrs, validateSecretName(s.Secret.Name, sPath.Child("secret", "name"))...)
		allErrs = append(allErrs, validateRelativePath(s.DestinationDir, sPath.Child("destinationDir"))...)
	}
	for i, c := range src.ConfigMaps {
		cPath := fldPath.Child("configMaps").Index(i)
		if c.ConfigMap.Name == "" {
			allErrs = append(allErrs, field.Required(cPath.Child("configMap", "name"), ""))
		}
		allErrs = append(allErrs, validateRelativePath(c.DestinationDir, cPath.Child("destinationDir"))...)
	}
	return allErrs
}

// validateGitURI accepts URLs with a git transport scheme and git's
// scp-like "[user@]host:path" addresses.
func validateGitURI(uri string, fldPath *field.Path) field.ErrorList {
	if uri == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	if !IsGitURI(uri) {
		return field.ErrorList{field.Invalid(fldPath, uri, "must be a valid git URL (http, https, git, ssh or file) or an scp-like address user@host:path")}
	}
	return nil
}

// IsGitURI reports whether uri is something git can clone: a URL with a git
// transport scheme and a host (file URLs need a path), or an scp-like
// "[user@]host:path" address.
func IsGitURI(uri string) bool {
	if strings.ContainsAny(uri, " \t\n") {
		return false
	}
	if strings.Contains(uri, "://") {
		u, err := url.Parse(uri)
		if err != nil || !gitURLSchemes[strings.ToLower(u.Scheme)] {
			return false
		}
		if u.Scheme == "file" {
			return u.Path != ""
		}
		return u.Host != ""
	}
	return scpLikeGitRE.MatchString(uri)
}

// validateRelativePath rejects absolute paths and paths that climb out of
// their root with "..".
func validateRelativePath(p string, fldPath *field.Path) field.ErrorList {
	if p == "" {
		return nil
	}
	if path.IsAbs(p) {
		return field.ErrorList{field.Invalid(fldPath, p, "must be a relative path")}
	}
	for _, segment := range strings.Split(p, "/") {
		if segment == ".." {
			return field.ErrorList{field.Invalid(fldPath, p, "must not contain '..'")}
		}
	}
	return nil
}

func validateStrategy(s *buildv1.BuildStrategy, fldPath *field.Path) field.ErrorList {
	set := 0
	for _, present := range []bool{s.DockerStrategy != nil, s.SourceStrategy != nil, s.CustomStrategy != nil, s.JenkinsPipelineStrategy != nil} {
		if present {
			set++
		}
	}
	switch {
	case set == 0:
		return field.ErrorList{field.Required(fldPath, exactlyOneStrategy)}
	case set > 1:
		return field.ErrorList{field.Invalid(fldPath, "", exactlyOneStrategy)}
	}

	var allErrs field.ErrorList
	switch s.Type {
	case "":
		allErrs = append(allErrs, field.Required(fldPath.Child("type"), ""))
	case buildv1.DockerBuildStrategyType:
		if s.DockerStrategy == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("dockerStrategy"), "must be set for strategy type Docker"))
		}
	case buildv1.SourceBuildStrategyType:
		if s.SourceStrategy == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("sourceStrategy"), "must be set for strategy type Source"))
		}
	case buildv1.CustomBuildStrategyType:
		if s.CustomStrategy == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("customStrategy"), "must be set for strategy type Custom"))
		}
	case buildv1.JenkinsPipelineBuildStrategyType:
		if s.JenkinsPipelineStrategy == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("jenkinsPipelineStrategy"), "must be set for strategy type JenkinsPipeline"))
		}
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), s.Type, strategyTypes))
	}

	if d := s.DockerStrategy; d != nil {
		p := fldPath.Child("dockerStrategy")
		if d.From != nil {
			allErrs = append(allErrs, ValidateImageReference(d.From, true, p.Child("from"))...)
		}
		allErrs = append(allErrs, validatePullSecret(d.PullSecret, p.Child("pullSecret"))...)
		allErrs = append(allErrs, ValidateEnv(d.Env, p.Child("env"))...)
		allErrs = append(allErrs, ValidateEnv(d.BuildArgs, p.Child("buildArgs"))...)
		allErrs = append(allErrs, validateRelativePath(d.DockerfilePath, p.Child("dockerfilePath"))...)
		if pol := d.ImageOptimizationPolicy; pol != nil && !slices.Contains(imageOptimizationPolicies, string(*pol)) {
			allErrs = append(allErrs, field.NotSupported(p.Child("imageOptimizationPolicy"), *pol, imageOptimizationPolicies))
		}
	}
	if src := s.SourceStrategy; src != nil {
		p := fldPath.Child("sourceStrategy")
		allErrs = append(allErrs, validateRequiredImage(&src.From, p.Child("from"))...)
		allErrs = append(allErrs, validatePullSecret(src.PullSecret, p.Child("pullSecret"))...)
		allErrs = append(allErrs, ValidateEnv(src.Env, p.Child("env"))...)
	}
	if c := s.CustomStrategy; c != nil {
		p := fldPath.Child("customStrategy")
		allErrs = append(allErrs, validateRequiredImage(&c.From, p.Child("from"))...)
		allErrs = append(allErrs, validatePullSecret(c.PullSecret, p.Child("pullSecret"))...)
		allErrs = append(allErrs, ValidateEnv(c.Env, p.Child("env"))...)
	}
	if j := s.JenkinsPipelineStrategy; j != nil {
		p := fldPath.Child("jenkinsPipelineStrategy")
		if j.Jenkinsfile != "" && j.JenkinsfilePath != "" {
			allErrs = append(allErrs, field.Invalid(p, "", "must provide a value for at most one of jenkinsfilePath or jenkinsfile"))
		}
		allErrs = append(allErrs, validateRelativePath(j.JenkinsfilePath, p.Child("jenkinsfilePath"))...)
		allErrs = append(allErrs, ValidateEnv(j.Env, p.Child("env"))...)
	}
	return allErrs
}

// validateRequiredImage validates a strategy image that must be given: an
// absent one (nothing but a defaulted kind) is reported at fldPath itself.
func validateRequiredImage(ref *corev1.ObjectReference, fldPath *field.Path) field.ErrorList {
	if ref.Name == "" && ref.Namespace == "" && (ref.Kind == "" || ref.Kind == ImageStreamTagKind) {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return ValidateImageReference(ref, true, fldPath)
}

func validatePullSecret(ref *corev1.LocalObjectReference, fldPath *field.Path) field.ErrorList {
	if ref == nil {
		return nil
	}
	return validateSecretName(ref.Name, fldPath.Child("name"))
}

// validateSecretName checks a secret a build names: required, and a name
// a secret can have (a DNS subdomain), so the build fails here rather
// than when its pod cannot mount it.
func validateSecretName(name string, fldPath *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Subdomain(name) {
		errs = append(errs, field.Invalid(fldPath, name, msg))
	}
	return errs
}

// ValidateImageReference validates a reference to an image: kind
// ImageStreamTag ("name:tag"), DockerImage (a pullable reference, no
// namespace) or, when allowImage is true, ImageStreamImage ("name@id").
func ValidateImageReference(ref *corev1.ObjectReference, allowImage bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch ref.Kind {
	case ImageStreamTagKind:
		if ref.Name == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("name"), ""))
		} else if !IsImageStreamTagName(ref.Name) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("name"), ref.Name, "ImageStreamTag object references must be in the form <name>:<tag>"))
		}
		allErrs = append(allErrs, validateNamespace(ref.Namespace, fldPath.Child("namespace"))...)
	case ImageStreamImageKind:
		if !allowImage {
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("kind"), ref.Kind, []string{ImageStreamTagKind, DockerImageKind}))
			break
		}
		if ref.Name == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("name"), ""))
		} else if name, id, ok := strings.Cut(ref.Name, "@"); !ok || name == "" || id == "" {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("name"), ref.Name, "ImageStreamImage object references must be in the form <name>@<id>"))
		}
		allErrs = append(allErrs, validateNamespace(ref.Namespace, fldPath.Child("namespace"))...)
	case DockerImageKind:
		if ref.Namespace != "" {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("namespace"), ref.Namespace, "namespace is not valid when used with a 'DockerImage'"))
		}
		if ref.Name == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("name"), ""))
		} else if _, err := imageref.Parse(ref.Name); err != nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("name"), ref.Name, err.Error()))
		}
	default:
		kinds := []string{ImageStreamTagKind, DockerImageKind}
		if allowImage {
			kinds = []string{ImageStreamTagKind, ImageStreamImageKind, DockerImageKind}
		}
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("kind"), ref.Kind, kinds))
	}
	return allErrs
}

// IsImageStreamTagName reports whether name has the form "<stream>:<tag>".
func IsImageStreamTagName(name string) bool {
	stream, tag, ok := strings.Cut(name, ":")
	return ok && stream != "" && tag != "" && !strings.Contains(tag, ":")
}

func validateNamespace(ns string, fldPath *field.Path) field.ErrorList {
	if ns == "" {
		return nil
	}
	var allErrs field.ErrorList
	for _, msg := range validation.IsDNS1123Label(ns) {
		allErrs = append(allErrs, field.Invalid(fldPath, ns, msg))
	}
	return allErrs
}

func validateOutput(out *buildv1.BuildOutput, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if out.To != nil {
		allErrs = append(allErrs, ValidateImageReference(out.To, false, fldPath.Child("to"))...)
	}
	allErrs = append(allErrs, validatePullSecret(out.PushSecret, fldPath.Child("pushSecret"))...)
	for i, l := range out.ImageLabels {
		if l.Name == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("imageLabels").Index(i).Child("name"), ""))
		}
	}
	return allErrs
}

// ValidateEnv validates environment variable names (required, and a valid
// C-identifier-like name as Kubernetes defines it).
func ValidateEnv(env []corev1.EnvVar, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, e := range env {
		namePath := fldPath.Index(i).Child("name")
		if e.Name == "" {
			allErrs = append(allErrs, field.Required(namePath, ""))
			continue
		}
		for _, msg := range validation.IsEnvVarName(e.Name) {
			allErrs = append(allErrs, field.Invalid(namePath, e.Name, msg))
		}
	}
	return allErrs
}
