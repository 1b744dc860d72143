// Package buildgenerator turns BuildConfigs into Builds the way OpenShift's
// build generator does (openshift-semantics.md 1.2): it serves
// buildconfigs/instantiate, builds/clone and the webhooks in the API server,
// and holds the naming, image-resolution and secret-selection rules the
// build controller shares with it.
package buildgenerator

import (
	"fmt"
	"hash/fnv"
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation"
)

// maxNameLength is the longest name Slipway gives a Build or a build pod: a
// DNS-1123 label, so the name can also be a label value.
const maxNameLength = validation.DNS1123LabelMaxLength

// ShortName returns base + "-" + suffix, or, when that is longer than 63
// characters, a truncated base followed by "-<fnv32a of base>-<suffix>", so
// distinct long bases stay distinct (OpenShift's naming.GetName).
func ShortName(base, suffix string) string {
	name := base + "-" + suffix
	if len(name) <= maxNameLength {
		return name
	}
	h := fnv.New32a()
	h.Write([]byte(base))
	hash := fmt.Sprintf("%08x", h.Sum32())
	keep := maxNameLength - len(hash) - len(suffix) - 2
	if keep < 0 {
		// A suffix this long cannot be kept: hash the whole name instead.
		h.Reset()
		h.Write([]byte(name))
		short := base[:min(len(base), maxNameLength-9)] + "-" + fmt.Sprintf("%08x", h.Sum32())
		return short[:min(maxNameLength, len(short))]
	}
	return base[:keep] + "-" + hash + "-" + suffix
}

// BuildName is the name of build number n of BuildConfig bc: "<bc>-<n>".
func BuildName(bc string, n int64) string {
	return ShortName(bc, strconv.FormatInt(n, 10))
}

// PodName is the name of the pod that runs build: "<build>-build".
func PodName(build string) string {
	return ShortName(build, "build")
}

// LabelValue truncates name to the longest valid label value, as OpenShift
// does for the build-config labels of long BuildConfig names.
func LabelValue(name string) string {
	if len(name) <= validation.LabelValueMaxLength {
		return name
	}
	return name[:validation.LabelValueMaxLength]
}
