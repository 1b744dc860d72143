package buildconfig

import (
	"fmt"
	"slices"

	buildv1 "github.com/openshift/api/build/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/slipway-dev/slipway/internal/registry/build/buildspec"
)

var (
	runPolicies = []string{
		string(buildv1.BuildRunPolicySerial), string(buildv1.BuildRunPolicyParallel), string(buildv1.BuildRunPolicySerialLatestOnly),
	}
	triggerTypes = []string{
		string(buildv1.GitHubWebHookBuildTriggerType), string(buildv1.GenericWebHookBuildTriggerType),
		string(buildv1.GitLabWebHookBuildTriggerType), string(buildv1.BitbucketWebHookBuildTriggerType),
		string(buildv1.ImageChangeBuildTriggerType), string(buildv1.ConfigChangeBuildTriggerType),
	}
)

// Validate checks a BuildConfig as OpenShift's API server does: metadata,
// the common build spec, triggers, run policy and history limits.
func Validate(bc *buildv1.BuildConfig) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&bc.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, validateSpec(&bc.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateUpdate checks an updated BuildConfig: immutable metadata stays,
// and the new object must be valid as a whole.
func ValidateUpdate(bc, old *buildv1.BuildConfig) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&bc.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateSpec(&bc.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateStatusUpdate checks a write through buildconfigs/status.
func ValidateStatusUpdate(bc, old *buildv1.BuildConfig) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&bc.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	if bc.Status.LastVersion < 0 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("status", "lastVersion"), bc.Status.LastVersion, "must be greater than or equal to 0"))
	}
	return allErrs
}

func validateSpec(spec *buildv1.BuildConfigSpec, fldPath *field.Path) field.ErrorList {
	allErrs := buildspec.ValidateCommonSpec(&spec.CommonSpec, fldPath)
	allErrs = append(allErrs, validateTriggers(spec.Triggers, fldPath.Child("triggers"))...)
	if !slices.Contains(runPolicies, string(spec.RunPolicy)) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("runPolicy"), spec.RunPolicy, runPolicies))
	}
	if l := spec.SuccessfulBuildsHistoryLimit; l != nil && *l < 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("successfulBuildsHistoryLimit"), *l, "must be greater than or equal to 0"))
	}
	if l := spec.FailedBuildsHistoryLimit; l != nil && *l < 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("failedBuildsHistoryLimit"), *l, "must be greater than or equal to 0"))
	}
	return allErrs
}

// triggerSection is one of a trigger's type-specific sections, with the
// JSON name its path uses.
type triggerSection struct {
	name string
	set  bool
}

func validateTriggers(triggers []buildv1.BuildTriggerPolicy, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	withoutFrom := 0
	seenFrom := map[string]bool{}
	for i, t := range triggers {
		p := fldPath.Index(i)
		sections := map[buildv1.BuildTriggerType]triggerSection{
			buildv1.GitHubWebHookBuildTriggerType:    {"github", t.GitHubWebHook != nil},
			buildv1.GenericWebHookBuildTriggerType:   {"generic", t.GenericWebHook != nil},
			buildv1.GitLabWebHookBuildTriggerType:    {"gitlab", t.GitLabWebHook != nil},
			buildv1.BitbucketWebHookBuildTriggerType: {"bitbucket", t.BitbucketWebHook != nil},
			buildv1.ImageChangeBuildTriggerType:      {"imageChange", t.ImageChange != nil},
		}
		for _, typ := range triggerTypes {
			if s, ok := sections[buildv1.BuildTriggerType(typ)]; ok && s.set && buildv1.BuildTriggerType(typ) != t.Type {
				allErrs = append(allErrs, field.Invalid(p.Child(s.name), "", fmt.Sprintf("may not be set for a trigger of type %q", t.Type)))
			}
		}

		switch t.Type {
		case buildv1.GitHubWebHookBuildTriggerType:
			allErrs = append(allErrs, validateWebHook(t.GitHubWebHook, false, p.Child("github"))...)
		case buildv1.GenericWebHookBuildTriggerType:
			allErrs = append(allErrs, validateWebHook(t.GenericWebHook, true, p.Child("generic"))...)
		case buildv1.GitLabWebHookBuildTriggerType:
			allErrs = append(allErrs, validateWebHook(t.GitLabWebHook, false, p.Child("gitlab"))...)
		case buildv1.BitbucketWebHookBuildTriggerType:
			allErrs = append(allErrs, validateWebHook(t.BitbucketWebHook, false, p.Child("bitbucket"))...)
		case buildv1.ImageChangeBuildTriggerType:
			ic := t.ImageChange
			if ic == nil {
				allErrs = append(allErrs, field.Required(p.Child("imageChange"), ""))
				continue
			}
			if ic.From == nil {
				// A trigger without from follows the strategy's image; two
				// of them would fire for the same image.
				withoutFrom++
				if withoutFrom > 1 {
					allErrs = append(allErrs, field.Invalid(p.Child("imageChange"), "", "only one ImageChange trigger may omit from"))
				}
				continue
			}
			fromPath := p.Child("imageChange", "from")
			if ic.From.Kind != buildspec.ImageStreamTagKind {
				allErrs = append(allErrs, field.Invalid(fromPath.Child("kind"), ic.From.Kind, "only an ImageStreamTag type of reference is allowed"))
				continue
			}
			allErrs = append(allErrs, buildspec.ValidateImageReference(ic.From, false, fromPath)...)
			key := ic.From.Namespace + "/" + ic.From.Name
			if seenFrom[key] {
				allErrs = append(allErrs, field.Invalid(fromPath, ic.From.Name, "multiple ImageChange triggers refer to the same image stream tag"))
			}
			seenFrom[key] = true
		case buildv1.ConfigChangeBuildTriggerType:
		case "":
			allErrs = append(allErrs, field.Required(p.Child("type"), ""))
		default:
			allErrs = append(allErrs, field.NotSupported(p.Child("type"), t.Type, triggerTypes))
		}
	}
	return allErrs
}

// validateWebHook requires a webhook trigger's section and a secret, given
// inline or as a reference to a Secret; only generic webhooks take env.
func validateWebHook(hook *buildv1.WebHookTrigger, generic bool, fldPath *field.Path) field.ErrorList {
	if hook == nil {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	var allErrs field.ErrorList
	switch {
	case hook.SecretReference != nil:
		if hook.SecretReference.Name == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("secretReference", "name"), ""))
		}
	case hook.Secret == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("secret"), "must provide a secret or a secretReference"))
	}
	if hook.AllowEnv && !generic {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("allowEnv"), hook.AllowEnv, "only generic webhooks may allow env"))
	}
	return allErrs
}
