// Package storebase holds the parts of a resource's REST storage that most
// resources share, so each resource package writes only its own defaults,
// validation and table.
package storebase

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/storage/names"

	"github.com/slipway-dev/slipway/internal/scheme"
)

// Strategy is embedded by resource strategies for the answers that are the
// same everywhere: the object typer, generateName handling, no create on
// update, unconditional updates allowed, no canonical form, no warnings.
type Strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

// NewStrategy returns a Strategy typing objects with scheme.Scheme.
func NewStrategy() Strategy {
	return Strategy{ObjectTyper: scheme.Scheme, NameGenerator: names.SimpleNameGenerator}
}

// AllowCreateOnUpdate is false: PUT of a missing object is NotFound, as in Kubernetes.
func (Strategy) AllowCreateOnUpdate(context.Context) bool { return false }

// AllowUnconditionalUpdate is true: a PUT without resourceVersion overwrites, as in Kubernetes.
func (Strategy) AllowUnconditionalUpdate(context.Context) bool { return true }

// Canonicalize does nothing: the stored form is the submitted form.
func (Strategy) Canonicalize(runtime.Object) {}

// WarningsOnCreate returns no warnings.
func (Strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

// WarningsOnUpdate returns no warnings.
func (Strategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}
