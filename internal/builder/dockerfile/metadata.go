package dockerfile

import (
	"sort"

	buildv1 "github.com/openshift/api/build/v1"

	"github.com/slipway-dev/slipway/internal/builder/source"
)

// Label names OpenShift's builder gives every image it builds.
const (
	LabelCommitAuthor     = "io.openshift.build.commit.author"
	LabelCommitDate       = "io.openshift.build.commit.date"
	LabelCommitID         = "io.openshift.build.commit.id"
	LabelCommitMessage    = "io.openshift.build.commit.message"
	LabelCommitRef        = "io.openshift.build.commit.ref"
	LabelSourceLocation   = "io.openshift.build.source-location"
	LabelSourceContextDir = "io.openshift.build.source-context-dir"
	LabelBuildName        = "io.openshift.build.name"
	LabelBuildNamespace   = "io.openshift.build.namespace"
)

// BuildEnv returns the OPENSHIFT_BUILD_* variables appended to the
// Dockerfile: name and namespace always; for git sources the URI, the ref
// if one was asked for, and the commit checked out (else the requested one).
func BuildEnv(build *buildv1.Build, info *source.Info) []KeyValue {
	kvs := []KeyValue{
		{"OPENSHIFT_BUILD_NAME", build.Name},
		{"OPENSHIFT_BUILD_NAMESPACE", build.Namespace},
	}
	git := build.Spec.Source.Git
	if git == nil {
		return kvs
	}
	kvs = append(kvs, KeyValue{"OPENSHIFT_BUILD_SOURCE", git.URI})
	if git.Ref != "" {
		kvs = append(kvs, KeyValue{"OPENSHIFT_BUILD_REFERENCE", git.Ref})
	}
	switch {
	case info != nil && info.Commit != "":
		kvs = append(kvs, KeyValue{"OPENSHIFT_BUILD_COMMIT", info.Commit})
	case build.Spec.Revision != nil && build.Spec.Revision.Git != nil && build.Spec.Revision.Git.Commit != "":
		kvs = append(kvs, KeyValue{"OPENSHIFT_BUILD_COMMIT", build.Spec.Revision.Git.Commit})
	}
	return kvs
}

// BuildLabels returns the LABEL pairs appended to the Dockerfile: the
// io.openshift.build.* labels with a value, sorted by name, then
// output.imageLabels in their order so that they override.
func BuildLabels(build *buildv1.Build, info *source.Info) []KeyValue {
	labels := map[string]string{
		LabelSourceContextDir: build.Spec.Source.ContextDir,
		LabelBuildName:        build.Name,
		LabelBuildNamespace:   build.Namespace,
	}
	if info != nil {
		labels[LabelCommitAuthor] = info.Author
		labels[LabelCommitDate] = info.Date
		labels[LabelCommitID] = info.Commit
		labels[LabelCommitMessage] = info.Message
		labels[LabelCommitRef] = info.Ref
		labels[LabelSourceLocation] = info.Location
	}
	if git := build.Spec.Source.Git; git != nil {
		if labels[LabelSourceLocation] == "" {
			labels[LabelSourceLocation] = git.URI
		}
		// What the user asked to check out, even where git names it
		// differently (a detached commit, a fetched pull ref).
		if git.Ref != "" {
			labels[LabelCommitRef] = git.Ref
		}
	}

	keys := make([]string, 0, len(labels))
	for k, v := range labels {
		if v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	kvs := make([]KeyValue, 0, len(keys)+len(build.Spec.Output.ImageLabels))
	for _, k := range keys {
		kvs = append(kvs, KeyValue{k, labels[k]})
	}
	for _, l := range build.Spec.Output.ImageLabels {
		kvs = append(kvs, KeyValue{l.Name, l.Value})
	}
	return kvs
}
