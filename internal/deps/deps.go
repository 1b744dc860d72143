// Package deps pins, for `go mod tidy`, the modules later issues build on
// (the registry, the registry client and BuildKit) before code imports them.
package deps

import (
	_ "github.com/distribution/distribution/v3/registry"
	_ "github.com/google/go-containerregistry/pkg/v1/remote"
	_ "github.com/moby/buildkit/client"
)
