// Package build is the REST storage of build.openshift.io/v1 Builds:
// defaults, validation, the main and status strategies, the table oc prints,
// the status field selector and the store itself.
package build

import (
	buildv1 "github.com/openshift/api/build/v1"

	"github.com/slipway-dev/slipway/internal/registry/build/buildspec"
)

// DefaultServiceAccount is the service account a build pod runs as when the
// Build names none.
const DefaultServiceAccount = "builder"

// SetDefaults applies the common build spec defaults and the builder
// service account.
func SetDefaults(b *buildv1.Build) {
	buildspec.SetDefaults(&b.Spec.CommonSpec)
	if b.Spec.ServiceAccount == "" {
		b.Spec.ServiceAccount = DefaultServiceAccount
	}
}

// IsTerminal reports whether a build phase is final: Complete, Failed, Error
// and Cancelled builds never change phase again.
func IsTerminal(phase buildv1.BuildPhase) bool {
	switch phase {
	case buildv1.BuildPhaseComplete, buildv1.BuildPhaseFailed, buildv1.BuildPhaseError, buildv1.BuildPhaseCancelled:
		return true
	}
	return false
}
