// Package secret stores Secrets with Kubernetes' defaults and validation:
// stringData merged into data, per-type required keys, dockercfg and
// dockerconfigjson content checked, the type and immutable data kept.
package secret

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// MaxSecretSize is the largest total size of a secret's data, 1 MiB as in Kubernetes.
const MaxSecretSize = 1 * 1024 * 1024

// redacted stands in for secret contents in validation messages.
const redacted = "<secret contents redacted>"

type strategy struct{ storebase.Strategy }

// Strategy applies defaults and validation to secrets.
var Strategy = strategy{storebase.NewStrategy()}

// SetDefaultsSecret makes an untyped secret Opaque and folds stringData into
// data (stringData wins), since stringData is write-only.
func SetDefaultsSecret(s *corev1.Secret) {
	if s.Type == "" {
		s.Type = corev1.SecretTypeOpaque
	}
	if len(s.StringData) > 0 {
		if s.Data == nil {
			s.Data = make(map[string][]byte, len(s.StringData))
		}
		for k, v := range s.StringData {
			s.Data[k] = []byte(v)
		}
	}
	s.StringData = nil
}

func (strategy) NamespaceScoped() bool { return true }

// PrepareForCreate applies the defaults.
func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	SetDefaultsSecret(obj.(*corev1.Secret))
}

// PrepareForUpdate applies the defaults; secrets have no status.
func (strategy) PrepareForUpdate(_ context.Context, obj, _ runtime.Object) {
	SetDefaultsSecret(obj.(*corev1.Secret))
}

// Validate checks a new secret.
func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateSecret(obj.(*corev1.Secret))
}

// ValidateUpdate checks a secret update.
func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateSecretUpdate(obj.(*corev1.Secret), old.(*corev1.Secret))
}

// ValidateSecret checks the name, the data keys and size, and the keys each
// secret type requires.
func ValidateSecret(s *corev1.Secret) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(&s.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	dataPath := field.NewPath("data")
	total := 0
	for key, value := range s.Data {
		for _, msg := range validation.IsConfigMapKey(key) {
			errs = append(errs, field.Invalid(dataPath.Key(key), key, msg))
		}
		total += len(value)
	}
	if total > MaxSecretSize {
		errs = append(errs, field.TooLong(dataPath, "", MaxSecretSize))
	}

	switch s.Type {
	case corev1.SecretTypeServiceAccountToken:
		// Only the name is required: the token controller fills in the rest.
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeDockercfg:
		errs = append(errs, validateDockercfg(s.Data, dataPath.Key(corev1.DockerConfigKey))...)
	case corev1.SecretTypeDockerConfigJson:
		errs = append(errs, validateDockerConfigJSON(s.Data, dataPath.Key(corev1.DockerConfigJsonKey))...)
	case corev1.SecretTypeBasicAuth:
		_, hasUser := s.Data[corev1.BasicAuthUsernameKey]
		_, hasPassword := s.Data[corev1.BasicAuthPasswordKey]
		// Either may be empty, but one of them must be present.
		if !hasUser && !hasPassword {
			errs = append(errs,
				field.Required(dataPath.Key(corev1.BasicAuthUsernameKey), ""),
				field.Required(dataPath.Key(corev1.BasicAuthPasswordKey), ""))
		}
	case corev1.SecretTypeSSHAuth:
		if len(s.Data[corev1.SSHAuthPrivateKey]) == 0 {
			errs = append(errs, field.Required(dataPath.Key(corev1.SSHAuthPrivateKey), ""))
		}
	case corev1.SecretTypeTLS:
		if _, ok := s.Data[corev1.TLSCertKey]; !ok {
			errs = append(errs, field.Required(dataPath.Key(corev1.TLSCertKey), ""))
		}
		if _, ok := s.Data[corev1.TLSPrivateKeyKey]; !ok {
			errs = append(errs, field.Required(dataPath.Key(corev1.TLSPrivateKeyKey), ""))
		}
	}
	return errs
}

// validateDockercfg requires .dockercfg to be a JSON object (registry -> auth).
func validateDockercfg(data map[string][]byte, path *field.Path) field.ErrorList {
	content, ok := data[corev1.DockerConfigKey]
	if !ok {
		return field.ErrorList{field.Required(path, "")}
	}
	if err := json.Unmarshal(content, &map[string]interface{}{}); err != nil {
		return field.ErrorList{field.Invalid(path, redacted, err.Error())}
	}
	return nil
}

// validateDockerConfigJSON requires .dockerconfigjson to be a JSON object
// with an "auths" map, the shape every client (and our builder) reads.
func validateDockerConfigJSON(data map[string][]byte, path *field.Path) field.ErrorList {
	content, ok := data[corev1.DockerConfigJsonKey]
	if !ok {
		return field.ErrorList{field.Required(path, "")}
	}
	var config struct {
		Auths map[string]json.RawMessage `json:"auths"`
	}
	if err := json.Unmarshal(content, &config); err != nil {
		return field.ErrorList{field.Invalid(path, redacted, err.Error())}
	}
	if config.Auths == nil {
		return field.ErrorList{field.Invalid(path, redacted, `must contain an "auths" map`)}
	}
	return nil
}

// ValidateSecretUpdate keeps the type, and the data of an immutable secret.
func ValidateSecretUpdate(s, old *corev1.Secret) field.ErrorList {
	errs := apivalidation.ValidateObjectMetaUpdate(&s.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	errs = append(errs, apivalidation.ValidateImmutableField(s.Type, old.Type, field.NewPath("type"))...)
	if old.Immutable != nil && *old.Immutable {
		if s.Immutable == nil || !*s.Immutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
		}
		if !reflect.DeepEqual(s.Data, old.Data) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set"))
		}
	}
	return append(errs, ValidateSecret(s)...)
}

// GetAttrs returns the labels and selectable fields (metadata and "type") of a secret.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return nil, nil, fmt.Errorf("not a Secret: %T", obj)
	}
	return labels.Set(s.Labels), generic.AddObjectMetaFieldsSet(fields.Set{"type": string(s.Type)}, &s.ObjectMeta, true), nil
}
