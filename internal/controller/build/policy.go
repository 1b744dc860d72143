package build

import (
	"strconv"

	buildv1 "github.com/openshift/api/build/v1"
)

// Number returns a build's openshift.io/build.number, or 0.
func Number(b *buildv1.Build) int64 {
	n, _ := strconv.ParseInt(b.Annotations[buildv1.BuildNumberAnnotation], 10, 64)
	return n
}

// RunPolicy returns the run policy a build was created with (its
// openshift.io/build.start-policy label); Serial when unset.
func RunPolicy(b *buildv1.Build) buildv1.BuildRunPolicy {
	if p := buildv1.BuildRunPolicy(b.Labels[buildv1.BuildRunPolicyLabel]); p != "" {
		return p
	}
	return buildv1.BuildRunPolicySerial
}

// ConfigName returns the BuildConfig a build belongs to, or "".
func ConfigName(b *buildv1.Build) string {
	if b.Status.Config != nil && b.Status.Config.Kind == "BuildConfig" {
		return b.Status.Config.Name
	}
	if name := b.Annotations[buildv1.BuildConfigAnnotation]; name != "" {
		return name
	}
	return b.Labels[buildv1.BuildConfigLabel]
}

func isActive(b *buildv1.Build) bool {
	return b.Status.Phase == buildv1.BuildPhasePending || b.Status.Phase == buildv1.BuildPhaseRunning
}

// IsRunnable reports whether the New build b may start now, given the
// other builds of its BuildConfig (openshift-semantics.md 1.4). Serial and
// SerialLatestOnly builds wait until no build of the config is Pending or
// Running and they are the lowest-numbered New build; Parallel builds wait
// only for a running Serial build.
func IsRunnable(b *buildv1.Build, siblings []*buildv1.Build) bool {
	n := Number(b)
	for _, s := range siblings {
		if s.Name == b.Name {
			continue
		}
		if RunPolicy(b) == buildv1.BuildRunPolicyParallel {
			if isActive(s) && RunPolicy(s) != buildv1.BuildRunPolicyParallel {
				return false
			}
			continue
		}
		if isActive(s) {
			return false
		}
		if s.Status.Phase == buildv1.BuildPhaseNew && !s.Status.Cancelled && Number(s) < n {
			return false
		}
	}
	return true
}

// ToCancel returns the builds a SerialLatestOnly build b supersedes: the
// older builds of its config that are New or Pending and not yet
// cancelled. Running builds finish.
func ToCancel(b *buildv1.Build, siblings []*buildv1.Build) []*buildv1.Build {
	if RunPolicy(b) != buildv1.BuildRunPolicySerialLatestOnly {
		return nil
	}
	var out []*buildv1.Build
	for _, s := range siblings {
		if s.Name != b.Name && Number(s) < Number(b) && !s.Status.Cancelled &&
			(s.Status.Phase == buildv1.BuildPhaseNew || s.Status.Phase == buildv1.BuildPhasePending) {
			out = append(out, s)
		}
	}
	return out
}
