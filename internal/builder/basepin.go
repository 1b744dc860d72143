package builder

import (
	"fmt"
	"io"

	digest "github.com/opencontainers/go-digest"
	buildv1 "github.com/openshift/api/build/v1"

	"github.com/slipway-dev/slipway/internal/builder/pins"
)

// basePin is the builder image (dockerStrategy.from) of one build and the
// digest this project's builds pulled its tag as on this node, if any: the
// build uses that image instead of asking the registry again, unless
// forcePull (see package pins).
type basePin struct {
	store     pins.Store
	namespace string
	// from is dockerStrategy.from's DockerImage name; "" for none.
	from string
	// pinned is the digest used for from; "" when the tag is resolved.
	pinned digest.Digest
}

func newBasePin(b *buildv1.Build, buildkitAddress string) *basePin {
	p := &basePin{store: pins.Open(pins.Dir(buildkitAddress)), namespace: b.Namespace}
	ds := b.Spec.Strategy.DockerStrategy
	if ds == nil || ds.From == nil || ds.From.Kind != "DockerImage" {
		return p
	}
	p.from = ds.From.Name
	if !ds.ForcePull {
		p.pinned = p.store.Get(p.namespace, p.from)
	}
	return p
}

// build is b with the builder image pinned, when it is.
func (p *basePin) build(b *buildv1.Build, log io.Writer) *buildv1.Build {
	if p.pinned == "" {
		return b
	}
	fmt.Fprintf(log, "Using %s as pulled before on this node (%s); dockerStrategy.forcePull pulls it again\n", p.from, p.pinned)
	pinned := b.DeepCopy()
	pinned.Spec.Strategy.DockerStrategy.From.Name = p.from + "@" + p.pinned.String()
	return pinned
}

// drop forgets the pin: its image could not be pulled (gone from buildkitd
// and from the registry), so the tag is resolved again.
func (p *basePin) drop(log io.Writer) {
	fmt.Fprintf(log, "%s@%s is no longer available; resolving %s again\n", p.from, p.pinned, p.from)
	if err := p.store.Forget(p.namespace, p.from); err != nil {
		fmt.Fprintf(log, "warning: %v\n", err)
	}
	p.pinned = ""
}

// record pins the digest the build resolved the builder image's tag to.
func (p *basePin) record(resolved map[string]digest.Digest, log io.Writer) {
	name, ok := pins.Name(p.from)
	if p.pinned != "" || !ok {
		return
	}
	for ref, d := range resolved {
		if n, ok := pins.Name(ref); ok && n == name {
			if err := p.store.Put(p.namespace, p.from, d); err != nil {
				fmt.Fprintf(log, "warning: %v\n", err)
			}
			return
		}
	}
}
