// Package serviceaccount stores ServiceAccounts.
package serviceaccount

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

type strategy struct{ storebase.Strategy }

// Strategy applies validation to service accounts; they have no defaults.
var Strategy = strategy{storebase.NewStrategy()}

func (strategy) NamespaceScoped() bool { return true }

// PrepareForCreate does nothing: service accounts have no defaults or status.
func (strategy) PrepareForCreate(context.Context, runtime.Object) {}

// PrepareForUpdate does nothing: service accounts have no defaults or status.
func (strategy) PrepareForUpdate(context.Context, runtime.Object, runtime.Object) {}

// Validate checks a new service account.
func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateServiceAccount(obj.(*corev1.ServiceAccount))
}

// ValidateUpdate checks a service account update.
func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	sa, oldSA := obj.(*corev1.ServiceAccount), old.(*corev1.ServiceAccount)
	errs := apivalidation.ValidateObjectMetaUpdate(&sa.ObjectMeta, &oldSA.ObjectMeta, field.NewPath("metadata"))
	return append(errs, ValidateServiceAccount(sa)...)
}

// ValidateServiceAccount checks the name and that every secret and image
// pull secret reference names a secret.
func ValidateServiceAccount(sa *corev1.ServiceAccount) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(&sa.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	for i, ref := range sa.Secrets {
		errs = append(errs, validateSecretName(ref.Name, field.NewPath("secrets").Index(i).Child("name"))...)
	}
	for i, ref := range sa.ImagePullSecrets {
		errs = append(errs, validateSecretName(ref.Name, field.NewPath("imagePullSecrets").Index(i).Child("name"))...)
	}
	return errs
}

func validateSecretName(name string, path *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(path, "")}
	}
	var errs field.ErrorList
	for _, msg := range apivalidation.NameIsDNSSubdomain(name, false) {
		errs = append(errs, field.Invalid(path, name, msg))
	}
	return errs
}

// GetAttrs returns the labels and metadata fields of a service account.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	sa, ok := obj.(*corev1.ServiceAccount)
	if !ok {
		return nil, nil, fmt.Errorf("not a ServiceAccount: %T", obj)
	}
	return labels.Set(sa.Labels), generic.ObjectMetaFieldsSet(&sa.ObjectMeta, true), nil
}
