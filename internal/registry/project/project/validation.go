package project

import (
	"reflect"
	"strings"

	"github.com/openshift/api/annotations"
	projectv1 "github.com/openshift/api/project/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateProjectName accepts the names OpenShift accepts for projects:
// namespace names (DNS labels) of at least two characters.
func ValidateProjectName(name string, prefix bool) []string {
	if reasons := path.ValidatePathSegmentName(name, prefix); len(reasons) != 0 {
		return reasons
	}
	if len(name) < 2 {
		return []string{"must be at least 2 characters long"}
	}
	return apivalidation.ValidateNamespaceName(name, prefix)
}

// ValidDisplayName reports whether a display name fits on one line.
func ValidDisplayName(s string) bool {
	return !strings.ContainsAny(s, "\n\r\t")
}

// ValidateProject checks the name and the display name annotation.
func ValidateProject(p *projectv1.Project) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(&p.ObjectMeta, false, ValidateProjectName, field.NewPath("metadata"))
	if name := p.Annotations[annotations.OpenShiftDisplayName]; !ValidDisplayName(name) {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "annotations").Key(annotations.OpenShiftDisplayName), name, "may not contain a new line or tab"))
	}
	return errs
}

// mutableAnnotations may change through projects; others only through the
// namespace.
var mutableAnnotations = map[string]bool{
	annotations.OpenShiftDisplayName: true,
	annotations.OpenShiftDescription: true,
}

// ValidateProjectUpdate lets a project update change only its labels and its
// display name and description annotations; finalizers and status never.
func ValidateProjectUpdate(p, old *projectv1.Project) field.ErrorList {
	errs := apivalidation.ValidateObjectMetaUpdate(&p.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	errs = append(errs, ValidateProject(p)...)
	if !reflect.DeepEqual(p.Spec.Finalizers, old.Spec.Finalizers) {
		errs = append(errs, field.Invalid(field.NewPath("spec", "finalizers"), p.Spec.Finalizers, "field is immutable"))
	}
	if !reflect.DeepEqual(p.Status, old.Status) {
		errs = append(errs, field.Invalid(field.NewPath("status"), p.Status.Phase, "field is immutable"))
	}
	annotationsPath := field.NewPath("metadata", "annotations")
	for key, value := range p.Annotations {
		if oldValue, ok := old.Annotations[key]; !mutableAnnotations[key] && (!ok || value != oldValue) {
			errs = append(errs, field.Invalid(annotationsPath.Key(key), value, "field is immutable, try updating the namespace"))
		}
	}
	for key, value := range old.Annotations {
		if _, ok := p.Annotations[key]; !mutableAnnotations[key] && !ok {
			errs = append(errs, field.Invalid(annotationsPath.Key(key), value, "field is immutable, try updating the namespace"))
		}
	}
	return errs
}
