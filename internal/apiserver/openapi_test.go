package apiserver

import (
	"testing"

	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/slipway-dev/slipway/internal/scheme"
)

func TestFriendlyName(t *testing.T) {
	for in, want := range map[string]string{
		"github.com/openshift/api/build/v1.BuildConfig": "com.github.openshift.api.build.v1.BuildConfig",
		"k8s.io/api/core/v1.Pod":                        "io.k8s.api.core.v1.Pod",
		"io.k8s.api.core.v1.Pod":                        "io.k8s.api.core.v1.Pod",
	} {
		if got := friendlyName(in); got != want {
			t.Errorf("friendlyName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDefinitionsCoverServedKinds: every kind the scheme serves has an
// OpenAPI definition carrying its group-version-kind, which kubectl explain
// and managed fields need.
func TestDefinitionsCoverServedKinds(t *testing.T) {
	namer := definitionNamer{openapinamer.NewDefinitionNamer(scheme.Scheme)}
	defs := openAPIDefinitions(func(name string) spec.Ref { return spec.MustCreateRef("#/definitions/" + name) })
	for _, key := range []string{
		"github.com/openshift/api/build/v1.BuildConfig",
		"github.com/openshift/api/apps/v1.DeploymentConfig",
		"github.com/openshift/api/project/v1.ProjectRequest",
		"io.k8s.api.core.v1.Namespace",
		"io.k8s.api.autoscaling.v1.Scale",
		"io.k8s.api.authentication.v1.SelfSubjectReview",
	} {
		if _, ok := defs[key]; !ok {
			t.Errorf("no definition %s", key)
			continue
		}
		if _, ext := namer.GetDefinitionName(key); ext["x-kubernetes-group-version-kind"] == nil {
			t.Errorf("%s has no group-version-kind extension", key)
		}
	}
}
