// Package buildspec holds what BuildConfigs and Builds share: the defaults
// and validation of their common spec (source, strategy, output, post-commit
// hook), the strategy and source type inference, and the short source
// description oc prints in its tables.
package buildspec

import (
	buildv1 "github.com/openshift/api/build/v1"
	corev1 "k8s.io/api/core/v1"
)

// ImageStreamTagKind, ImageStreamImageKind and DockerImageKind are the
// object reference kinds builds accept for images.
const (
	ImageStreamTagKind   = "ImageStreamTag"
	ImageStreamImageKind = "ImageStreamImage"
	DockerImageKind      = "DockerImage"
)

// SetDefaults applies OpenShift's build.openshift.io/v1 defaults to a common
// spec: the strategy and source types are inferred when empty, strategy
// image references default to kind ImageStreamTag, and a Binary source gets
// its (empty) binary section.
func SetDefaults(spec *buildv1.CommonSpec) {
	if spec.Strategy.Type == "" {
		spec.Strategy.Type = StrategyType(spec.Strategy)
	}
	if spec.Source.Type == "" {
		spec.Source.Type = SourceType(spec.Source)
	}
	if spec.Source.Type == buildv1.BuildSourceBinary && spec.Source.Binary == nil {
		spec.Source.Binary = &buildv1.BinaryBuildSource{}
	}

	s := &spec.Strategy
	if s.DockerStrategy != nil {
		defaultImageKind(s.DockerStrategy.From)
	}
	if s.SourceStrategy != nil {
		defaultImageKind(&s.SourceStrategy.From)
	}
	if s.CustomStrategy != nil {
		defaultImageKind(&s.CustomStrategy.From)
	}
}

// defaultImageKind sets an image reference's kind to ImageStreamTag when
// unset, as OpenShift does for strategy base images.
func defaultImageKind(ref *corev1.ObjectReference) {
	if ref != nil && ref.Kind == "" {
		ref.Kind = ImageStreamTagKind
	}
}

// StrategyType returns the type matching the strategy section that is set,
// or "" when none is. The first one wins when several are set; validation
// rejects that case.
func StrategyType(s buildv1.BuildStrategy) buildv1.BuildStrategyType {
	switch {
	case s.DockerStrategy != nil:
		return buildv1.DockerBuildStrategyType
	case s.SourceStrategy != nil:
		return buildv1.SourceBuildStrategyType
	case s.CustomStrategy != nil:
		return buildv1.CustomBuildStrategyType
	case s.JenkinsPipelineStrategy != nil:
		return buildv1.JenkinsPipelineBuildStrategyType
	}
	return ""
}

// SourceType returns the source type the set inputs imply: Binary, Git,
// Dockerfile (inline Dockerfile only) or Image, "" when there is no input.
func SourceType(src buildv1.BuildSource) buildv1.BuildSourceType {
	switch {
	case src.Binary != nil:
		return buildv1.BuildSourceBinary
	case src.Git != nil:
		return buildv1.BuildSourceGit
	case src.Dockerfile != nil:
		return buildv1.BuildSourceDockerfile
	case len(src.Images) > 0:
		return buildv1.BuildSourceImage
	}
	return ""
}

// isCustomOrPipeline reports whether the strategy needs no source input.
func isCustomOrPipeline(s buildv1.BuildStrategy) bool {
	t := s.Type
	if t == "" {
		t = StrategyType(s)
	}
	return t == buildv1.CustomBuildStrategyType || t == buildv1.JenkinsPipelineBuildStrategyType
}

// StrategyPullSecret returns a pointer to the pull secret field of
// strategy, or nil for strategies without one.
func StrategyPullSecret(s *buildv1.BuildStrategy) **corev1.LocalObjectReference {
	switch {
	case s.DockerStrategy != nil:
		return &s.DockerStrategy.PullSecret
	case s.SourceStrategy != nil:
		return &s.SourceStrategy.PullSecret
	case s.CustomStrategy != nil:
		return &s.CustomStrategy.PullSecret
	}
	return nil
}
