package apiserver

import (
	"strings"

	openshiftopenapi "github.com/openshift/api/openapi/generated_openapi"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// openAPIDefinitions are OpenShift's generated definitions (which include the
// core/v1 and meta/v1 types) plus the few Kubernetes types Slipway serves
// that openshift/api does not generate: autoscaling/v1 Scale,
// authentication/v1 SelfSubjectReview and version.Info.
func openAPIDefinitions(serverRef common.ReferenceCallback) map[string]common.OpenAPIDefinition {
	// References inside definitions use the REST-friendly model names the
	// server keys its models by, whatever naming the generator used.
	ref := func(name string) spec.Ref { return serverRef(friendlyName(name)) }
	defs := openshiftopenapi.GetOpenAPIDefinitions(ref)
	meta := "k8s.io/apimachinery/pkg/apis/meta/v1."
	kinded := func(description string, props map[string]spec.Schema, deps ...string) common.OpenAPIDefinition {
		all := map[string]spec.Schema{
			"kind":       str("Kind is a string value representing the REST resource this object represents."),
			"apiVersion": str("APIVersion defines the versioned schema of this representation of an object."),
			"metadata":   refTo(ref, meta+"ObjectMeta"),
		}
		for k, v := range props {
			all[k] = v
		}
		return object(description, all, append(deps, meta+"ObjectMeta")...)
	}
	defs["k8s.io/api/autoscaling/v1.Scale"] = kinded("Scale represents a scaling request for a resource.", map[string]spec.Schema{
		"spec":   refTo(ref, "k8s.io/api/autoscaling/v1.ScaleSpec"),
		"status": refTo(ref, "k8s.io/api/autoscaling/v1.ScaleStatus"),
	}, "k8s.io/api/autoscaling/v1.ScaleSpec", "k8s.io/api/autoscaling/v1.ScaleStatus")
	defs["k8s.io/api/autoscaling/v1.ScaleSpec"] = object("ScaleSpec describes the attributes of a scale subresource.", map[string]spec.Schema{
		"replicas": integer("replicas is the desired number of instances for the scaled object."),
	})
	defs["k8s.io/api/autoscaling/v1.ScaleStatus"] = object("ScaleStatus represents the current status of a scale subresource.", map[string]spec.Schema{
		"replicas": integer("replicas is the actual number of observed instances of the scaled object."),
		"selector": str("selector is the label query over pods that should match the replicas count."),
	})
	defs["k8s.io/api/extensions/v1beta1.Scale"] = kinded("Scale represents a scaling request for a resource (the form DeploymentConfigs use).", map[string]spec.Schema{
		"spec":   refTo(ref, "k8s.io/api/extensions/v1beta1.ScaleSpec"),
		"status": refTo(ref, "k8s.io/api/extensions/v1beta1.ScaleStatus"),
	}, "k8s.io/api/extensions/v1beta1.ScaleSpec", "k8s.io/api/extensions/v1beta1.ScaleStatus")
	defs["k8s.io/api/extensions/v1beta1.ScaleSpec"] = object("ScaleSpec describes the attributes of a scale subresource.", map[string]spec.Schema{
		"replicas": integer("desired number of instances for the scaled object."),
	})
	defs["k8s.io/api/extensions/v1beta1.ScaleStatus"] = object("ScaleStatus represents the current status of a scale subresource.", map[string]spec.Schema{
		"replicas":       integer("actual number of observed instances of the scaled object."),
		"selector":       {SchemaProps: spec.SchemaProps{Type: []string{"object"}, AdditionalProperties: &spec.SchemaOrBool{Allows: true, Schema: &spec.Schema{SchemaProps: spec.SchemaProps{Type: []string{"string"}}}}}},
		"targetSelector": str("label selector for pods that should match the replicas count, in string form."),
	})
	defs["k8s.io/api/authentication/v1.SelfSubjectReview"] = kinded("SelfSubjectReview contains the user information that the server has about the user making the request.", map[string]spec.Schema{
		"status": refTo(ref, "k8s.io/api/authentication/v1.SelfSubjectReviewStatus"),
	}, "k8s.io/api/authentication/v1.SelfSubjectReviewStatus")
	defs["k8s.io/api/authentication/v1.SelfSubjectReviewStatus"] = object("SelfSubjectReviewStatus is filled by the server with the user attributes.", map[string]spec.Schema{
		"userInfo": refTo(ref, "k8s.io/api/authentication/v1.UserInfo"),
	}, "k8s.io/api/authentication/v1.UserInfo")
	defs["k8s.io/api/authentication/v1.UserInfo"] = object("UserInfo holds the information about the user needed to implement the user.Info interface.", map[string]spec.Schema{
		"username": str("The name that uniquely identifies this user among all active users."),
		"uid":      str("A unique value that identifies this user across time."),
		"groups":   {SchemaProps: spec.SchemaProps{Type: []string{"array"}, Items: &spec.SchemaOrArray{Schema: &spec.Schema{SchemaProps: spec.SchemaProps{Type: []string{"string"}}}}}},
		"extra": {SchemaProps: spec.SchemaProps{Type: []string{"object"}, AdditionalProperties: &spec.SchemaOrBool{Allows: true, Schema: &spec.Schema{SchemaProps: spec.SchemaProps{
			Type: []string{"array"}, Items: &spec.SchemaOrArray{Schema: &spec.Schema{SchemaProps: spec.SchemaProps{Type: []string{"string"}}}}}}}}},
	})
	versionProps := map[string]spec.Schema{}
	for _, f := range []string{"major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion", "compiler", "platform",
		"emulationMajor", "emulationMinor", "minCompatibilityMajor", "minCompatibilityMinor"} {
		versionProps[f] = str("")
	}
	defs["k8s.io/apimachinery/pkg/version.Info"] = object("Info contains versioning information.", versionProps)

	// k8s.io/api and apimachinery types name their models themselves
	// (OpenAPIModelName: "io.k8s.api.core.v1.Pod"), while openshift/api's
	// generated definitions are keyed by Go package path. Serve both keys.
	for name, def := range defs {
		if model := friendlyName(name); model != name {
			if _, exists := defs[model]; !exists {
				defs[model] = def
			}
		}
	}
	return defs
}

// definitionNamer names OpenAPI definitions as the scheme does and adds the
// x-kubernetes-group-version-kind extension kubectl explain and server-side
// field management look for. The scheme's namer knows REST-friendly names
// only ("com.github.openshift.api.build.v1.BuildConfig"), so Go package
// path names are converted first.
type definitionNamer struct{ scheme *openapinamer.DefinitionNamer }

func (n definitionNamer) GetDefinitionName(name string) (string, spec.Extensions) {
	return n.scheme.GetDefinitionName(friendlyName(name))
}

// friendlyName turns "github.com/openshift/api/build/v1.BuildConfig" into
// "com.github.openshift.api.build.v1.BuildConfig"; names without a path
// are returned as they are.
func friendlyName(goName string) string {
	// The host is everything up to the first "/", and contains dots.
	host, path, ok := strings.Cut(goName, "/")
	if !ok {
		return goName
	}
	hostParts := strings.Split(host, ".")
	for i, j := 0, len(hostParts)-1; i < j; i, j = i+1, j-1 {
		hostParts[i], hostParts[j] = hostParts[j], hostParts[i]
	}
	return strings.Join(hostParts, ".") + "." + strings.ReplaceAll(path, "/", ".")
}

func object(description string, props map[string]spec.Schema, deps ...string) common.OpenAPIDefinition {
	return common.OpenAPIDefinition{
		Schema: spec.Schema{SchemaProps: spec.SchemaProps{
			Description: description,
			Type:        []string{"object"},
			Properties:  props,
		}},
		Dependencies: deps,
	}
}

func str(description string) spec.Schema {
	return spec.Schema{SchemaProps: spec.SchemaProps{Description: description, Type: []string{"string"}}}
}

func integer(description string) spec.Schema {
	return spec.Schema{SchemaProps: spec.SchemaProps{Description: description, Type: []string{"integer"}, Format: "int32"}}
}

func refTo(ref common.ReferenceCallback, name string) spec.Schema {
	return spec.Schema{SchemaProps: spec.SchemaProps{Default: map[string]any{}, AllOf: []spec.Schema{{SchemaProps: spec.SchemaProps{Ref: ref(name)}}}}}
}
