package buildspec

import (
	"strings"
	"testing"

	buildv1 "github.com/openshift/api/build/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestIsGitURI(t *testing.T) {
	tests := []struct {
		uri   string
		valid bool
	}{
		{"https://github.com/VeerMuchandi/time", true},
		{"http://git.example.com:8080/repo.git", true},
		{"git://example.com/repo.git", true},
		{"ssh://git@example.com:22/repo.git", true},
		{"file:///srv/repos/app.git", true},
		{"git@github.com:openshift/ruby-ex.git", true},
		{"example.com:repo.git", true},
		{"", false},
		{"github.com/openshift/ruby-ex", false},
		{"ftp://example.com/repo.git", false},
		{"https://", false},
		{"https://example.com/my repo", false},
		{"file://", false},
	}
	for _, tt := range tests {
		if got := IsGitURI(tt.uri); got != tt.valid {
			t.Errorf("IsGitURI(%q) = %v, want %v", tt.uri, got, tt.valid)
		}
	}
}

func TestSetDefaults(t *testing.T) {
	dockerfile := "FROM busybox"
	tests := []struct {
		name  string
		spec  buildv1.CommonSpec
		check func(t *testing.T, spec buildv1.CommonSpec)
	}{{
		name: "docker strategy and git source are inferred, from kind defaults",
		spec: buildv1.CommonSpec{
			Source:   buildv1.BuildSource{Git: &buildv1.GitBuildSource{URI: "https://example.com/a.git"}},
			Strategy: buildv1.BuildStrategy{DockerStrategy: &buildv1.DockerBuildStrategy{From: &corev1.ObjectReference{Name: "busybox:latest"}}},
		},
		check: func(t *testing.T, spec buildv1.CommonSpec) {
			if spec.Strategy.Type != buildv1.DockerBuildStrategyType {
				t.Errorf("strategy.type = %q, want Docker", spec.Strategy.Type)
			}
			if spec.Source.Type != buildv1.BuildSourceGit {
				t.Errorf("source.type = %q, want Git", spec.Source.Type)
			}
			if k := spec.Strategy.DockerStrategy.From.Kind; k != ImageStreamTagKind {
				t.Errorf("dockerStrategy.from.kind = %q, want ImageStreamTag", k)
			}
		},
	}, {
		name: "source strategy with inline dockerfile",
		spec: buildv1.CommonSpec{
			Source:   buildv1.BuildSource{Dockerfile: &dockerfile},
			Strategy: buildv1.BuildStrategy{SourceStrategy: &buildv1.SourceBuildStrategy{From: corev1.ObjectReference{Name: "ruby:3"}}},
		},
		check: func(t *testing.T, spec buildv1.CommonSpec) {
			if spec.Strategy.Type != buildv1.SourceBuildStrategyType || spec.Source.Type != buildv1.BuildSourceDockerfile {
				t.Errorf("types = %q/%q, want Source/Dockerfile", spec.Strategy.Type, spec.Source.Type)
			}
			if k := spec.Strategy.SourceStrategy.From.Kind; k != ImageStreamTagKind {
				t.Errorf("sourceStrategy.from.kind = %q, want ImageStreamTag", k)
			}
		},
	}, {
		name: "binary source type gets its binary section",
		spec: buildv1.CommonSpec{
			Source:   buildv1.BuildSource{Type: buildv1.BuildSourceBinary},
			Strategy: buildv1.BuildStrategy{CustomStrategy: &buildv1.CustomBuildStrategy{From: corev1.ObjectReference{Kind: DockerImageKind, Name: "builder"}}},
		},
		check: func(t *testing.T, spec buildv1.CommonSpec) {
			if spec.Source.Binary == nil {
				t.Error("source.binary not defaulted")
			}
			if spec.Strategy.Type != buildv1.CustomBuildStrategyType {
				t.Errorf("strategy.type = %q, want Custom", spec.Strategy.Type)
			}
			if k := spec.Strategy.CustomStrategy.From.Kind; k != DockerImageKind {
				t.Errorf("customStrategy.from.kind = %q, want DockerImage kept", k)
			}
		},
	}, {
		name: "explicit types are kept, images-only source is Image",
		spec: buildv1.CommonSpec{
			Source: buildv1.BuildSource{Images: []buildv1.ImageSource{{From: corev1.ObjectReference{Kind: DockerImageKind, Name: "x"}}}},
			Strategy: buildv1.BuildStrategy{
				Type:                    buildv1.JenkinsPipelineBuildStrategyType,
				JenkinsPipelineStrategy: &buildv1.JenkinsPipelineBuildStrategy{},
			},
		},
		check: func(t *testing.T, spec buildv1.CommonSpec) {
			if spec.Source.Type != buildv1.BuildSourceImage || spec.Strategy.Type != buildv1.JenkinsPipelineBuildStrategyType {
				t.Errorf("types = %q/%q, want Image/JenkinsPipeline", spec.Source.Type, spec.Strategy.Type)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			SetDefaults(&spec)
			tt.check(t, spec)
		})
	}
}

func TestDescribeSource(t *testing.T) {
	dockerfile := "FROM x"
	tests := []struct {
		src      buildv1.BuildSource
		revision string
		want     string
	}{
		{buildv1.BuildSource{Git: &buildv1.GitBuildSource{URI: "u"}}, "", "Git"},
		{buildv1.BuildSource{Git: &buildv1.GitBuildSource{URI: "u"}}, "main", "Git@main"},
		{buildv1.BuildSource{Dockerfile: &dockerfile}, "abc", "Dockerfile"},
		{buildv1.BuildSource{Dockerfile: &dockerfile, Git: &buildv1.GitBuildSource{URI: "u"}}, "abc1234", "Dockerfile,Git@abc1234"},
		{buildv1.BuildSource{Binary: &buildv1.BinaryBuildSource{}}, "", "Binary"},
		{buildv1.BuildSource{Images: []buildv1.ImageSource{{}}}, "", "Image"},
		{buildv1.BuildSource{}, "", ""},
	}
	for _, tt := range tests {
		if got := DescribeSource(tt.src, tt.revision); got != tt.want {
			t.Errorf("DescribeSource(%+v, %q) = %q, want %q", tt.src, tt.revision, got, tt.want)
		}
	}
	rev := &buildv1.SourceRevision{Git: &buildv1.GitSourceRevision{Commit: "1e1ed2c579f98bc35de25c34952825419bb0a500"}}
	if got := ShortCommit(rev); got != "1e1ed2c" {
		t.Errorf("ShortCommit = %q, want 1e1ed2c", got)
	}
	if got := ShortCommit(nil); got != "" {
		t.Errorf("ShortCommit(nil) = %q, want empty", got)
	}
}

// validSpec is a Docker build from git to an ImageStreamTag that passes
// validation; cases below break one thing each.
func validSpec() buildv1.CommonSpec {
	return buildv1.CommonSpec{
		Source: buildv1.BuildSource{
			Type:       buildv1.BuildSourceGit,
			Git:        &buildv1.GitBuildSource{URI: "https://github.com/VeerMuchandi/time"},
			ContextDir: "busybox",
		},
		Strategy: buildv1.BuildStrategy{
			Type:           buildv1.DockerBuildStrategyType,
			DockerStrategy: &buildv1.DockerBuildStrategy{From: &corev1.ObjectReference{Kind: ImageStreamTagKind, Name: "busybox:latest"}},
		},
		Output: buildv1.BuildOutput{To: &corev1.ObjectReference{Kind: ImageStreamTagKind, Name: "time:latest"}},
	}
}

func TestValidateCommonSpec(t *testing.T) {
	deadline := int64(0)
	tests := []struct {
		name   string
		mutate func(*buildv1.CommonSpec)
		want   string // "" means valid
	}{
		{"valid", func(*buildv1.CommonSpec) {}, ""},
		{"docker output", func(s *buildv1.CommonSpec) {
			s.Output.To = &corev1.ObjectReference{Kind: DockerImageKind, Name: "docker.io/veermuchandi/mytime:latest"}
		}, ""},
		{"custom strategy needs no source", func(s *buildv1.CommonSpec) {
			s.Source = buildv1.BuildSource{}
			s.Strategy = buildv1.BuildStrategy{Type: buildv1.CustomBuildStrategyType, CustomStrategy: &buildv1.CustomBuildStrategy{From: corev1.ObjectReference{Kind: DockerImageKind, Name: "builder:1"}}}
		}, ""},
		{"output name required", func(s *buildv1.CommonSpec) { s.Output.To.Name = "" }, "spec.output.to.name: Required value"},
		{"output docker name required", func(s *buildv1.CommonSpec) { s.Output.To = &corev1.ObjectReference{Kind: DockerImageKind} }, "spec.output.to.name: Required value"},
		{"output kind", func(s *buildv1.CommonSpec) { s.Output.To.Kind = "ImageStreamImage" }, "spec.output.to.kind: Unsupported value"},
		{"output istag form", func(s *buildv1.CommonSpec) { s.Output.To.Name = "time" }, "spec.output.to.name: Invalid value"},
		{"output docker reference", func(s *buildv1.CommonSpec) {
			s.Output.To = &corev1.ObjectReference{Kind: DockerImageKind, Name: "Docker.io/UPPER/app"}
		}, "spec.output.to.name: Invalid value"},
		{"output docker namespace", func(s *buildv1.CommonSpec) {
			s.Output.To = &corev1.ObjectReference{Kind: DockerImageKind, Name: "app", Namespace: "ns"}
		}, "spec.output.to.namespace: Invalid value"},
		{"push secret name", func(s *buildv1.CommonSpec) { s.Output.PushSecret = &corev1.LocalObjectReference{} }, "spec.output.pushSecret.name: Required value"},
		{"no strategy", func(s *buildv1.CommonSpec) { s.Strategy = buildv1.BuildStrategy{Type: buildv1.DockerBuildStrategyType} }, "spec.strategy: Required value"},
		{"two strategies", func(s *buildv1.CommonSpec) {
			s.Strategy.SourceStrategy = &buildv1.SourceBuildStrategy{From: corev1.ObjectReference{Kind: ImageStreamTagKind, Name: "ruby:3"}}
		}, "spec.strategy: Invalid value"},
		{"type does not match strategy", func(s *buildv1.CommonSpec) { s.Strategy.Type = buildv1.SourceBuildStrategyType }, "spec.strategy.sourceStrategy: Required value"},
		{"unknown strategy type", func(s *buildv1.CommonSpec) { s.Strategy.Type = "Kaniko" }, "spec.strategy.type: Unsupported value"},
		{"source strategy from required", func(s *buildv1.CommonSpec) {
			s.Strategy = buildv1.BuildStrategy{Type: buildv1.SourceBuildStrategyType, SourceStrategy: &buildv1.SourceBuildStrategy{From: corev1.ObjectReference{Kind: ImageStreamTagKind}}}
		}, "spec.strategy.sourceStrategy.from: Required value"},
		{"source strategy from kind", func(s *buildv1.CommonSpec) {
			s.Strategy = buildv1.BuildStrategy{Type: buildv1.SourceBuildStrategyType, SourceStrategy: &buildv1.SourceBuildStrategy{From: corev1.ObjectReference{Kind: "Image", Name: "ruby"}}}
		}, "spec.strategy.sourceStrategy.from.kind: Unsupported value"},
		{"source strategy istag form", func(s *buildv1.CommonSpec) {
			s.Strategy = buildv1.BuildStrategy{Type: buildv1.SourceBuildStrategyType, SourceStrategy: &buildv1.SourceBuildStrategy{From: corev1.ObjectReference{Kind: ImageStreamTagKind, Name: "ruby"}}}
		}, "spec.strategy.sourceStrategy.from.name: Invalid value"},
		{"isimage form", func(s *buildv1.CommonSpec) {
			s.Strategy.DockerStrategy.From = &corev1.ObjectReference{Kind: ImageStreamImageKind, Name: "ruby:3"}
		}, "spec.strategy.dockerStrategy.from.name: Invalid value"},
		{"docker from name required", func(s *buildv1.CommonSpec) {
			s.Strategy.DockerStrategy.From = &corev1.ObjectReference{Kind: DockerImageKind}
		}, "spec.strategy.dockerStrategy.from.name: Required value"},
		{"dockerfilePath climbs out", func(s *buildv1.CommonSpec) { s.Strategy.DockerStrategy.DockerfilePath = "../Dockerfile" }, "spec.strategy.dockerStrategy.dockerfilePath: Invalid value"},
		{"env name", func(s *buildv1.CommonSpec) {
			s.Strategy.DockerStrategy.Env = []corev1.EnvVar{{Name: "1BAD=", Value: "x"}}
		}, "spec.strategy.dockerStrategy.env[0].name: Invalid value"},
		{"build arg name required", func(s *buildv1.CommonSpec) {
			s.Strategy.DockerStrategy.BuildArgs = []corev1.EnvVar{{Value: "x"}}
		}, "spec.strategy.dockerStrategy.buildArgs[0].name: Required value"},
		{"no source input", func(s *buildv1.CommonSpec) { s.Source = buildv1.BuildSource{} }, "spec.source: Required value"},
		{"git uri required", func(s *buildv1.CommonSpec) { s.Source.Git.URI = "" }, "spec.source.git.uri: Required value"},
		{"git uri invalid", func(s *buildv1.CommonSpec) { s.Source.Git.URI = "not a url" }, "spec.source.git.uri: Invalid value"},
		{"git and binary", func(s *buildv1.CommonSpec) { s.Source.Binary = &buildv1.BinaryBuildSource{} }, "spec.source.git: Invalid value"},
		{"context dir absolute", func(s *buildv1.CommonSpec) { s.Source.ContextDir = "/busybox" }, "spec.source.contextDir: Invalid value"},
		{"context dir dotdot", func(s *buildv1.CommonSpec) { s.Source.ContextDir = "app/../../etc" }, "spec.source.contextDir: Invalid value"},
		{"source type", func(s *buildv1.CommonSpec) { s.Source.Type = "Svn" }, "spec.source.type: Unsupported value"},
		{"secret destination", func(s *buildv1.CommonSpec) {
			s.Source.Secrets = []buildv1.SecretBuildSource{{Secret: corev1.LocalObjectReference{Name: "s"}, DestinationDir: "/abs"}}
		}, "spec.source.secrets[0].destinationDir: Invalid value"},
		{"image source paths", func(s *buildv1.CommonSpec) {
			s.Source.Images = []buildv1.ImageSource{{From: corev1.ObjectReference{Kind: DockerImageKind, Name: "x"}}}
		}, "spec.source.images[0].paths: Required value"},
		{"binary asFile", func(s *buildv1.CommonSpec) {
			s.Source = buildv1.BuildSource{Binary: &buildv1.BinaryBuildSource{AsFile: "a/b"}}
		}, "spec.source.binary.asFile: Invalid value"},
		{"completion deadline", func(s *buildv1.CommonSpec) { s.CompletionDeadlineSeconds = &deadline }, "spec.completionDeadlineSeconds: Invalid value"},
		{"post commit", func(s *buildv1.CommonSpec) {
			s.PostCommit = buildv1.BuildPostCommitSpec{Script: "make test", Command: []string{"sh"}}
		}, "spec.postCommit: Invalid value"},
		{"jenkinsfile twice", func(s *buildv1.CommonSpec) {
			s.Strategy = buildv1.BuildStrategy{Type: buildv1.JenkinsPipelineBuildStrategyType, JenkinsPipelineStrategy: &buildv1.JenkinsPipelineBuildStrategy{Jenkinsfile: "x", JenkinsfilePath: "y"}}
		}, "spec.strategy.jenkinsPipelineStrategy: Invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := validSpec()
			tt.mutate(&spec)
			errs := ValidateCommonSpec(&spec, field.NewPath("spec"))
			if tt.want == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			if !hasError(errs, tt.want) {
				t.Fatalf("errors %v do not include %q", errs, tt.want)
			}
		})
	}
}

// hasError reports whether errs holds an error whose text starts with want,
// e.g. "spec.output.to.name: Required value": the path and the error type.
func hasError(errs field.ErrorList, want string) bool {
	for _, e := range errs {
		if strings.HasPrefix(e.Error(), want) {
			return true
		}
	}
	return false
}
