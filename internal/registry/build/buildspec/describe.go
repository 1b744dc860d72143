package buildspec

import (
	buildv1 "github.com/openshift/api/build/v1"
)

// DescribeSource returns the FROM column oc prints for a build source:
// "Git", "Dockerfile", "Binary", "Dockerfile,Git" or the source type, with
// "@revision" appended for Git and Binary sources when revision is known.
func DescribeSource(src buildv1.BuildSource, revision string) string {
	withRevision := func(s string) string {
		if revision == "" {
			return s
		}
		return s + "@" + revision
	}
	switch {
	case src.Binary != nil:
		return withRevision("Binary")
	case src.Dockerfile != nil && src.Git != nil:
		return withRevision("Dockerfile,Git")
	case src.Dockerfile != nil:
		return "Dockerfile"
	case src.Git != nil:
		return withRevision("Git")
	}
	if src.Type != "" {
		return string(src.Type)
	}
	return string(SourceType(src))
}

// ShortCommit returns the first 7 characters of the git commit a build
// revision names, "" when the revision holds no commit.
func ShortCommit(rev *buildv1.SourceRevision) string {
	if rev == nil || rev.Git == nil {
		return ""
	}
	commit := rev.Git.Commit
	if len(commit) > 7 {
		commit = commit[:7]
	}
	return commit
}

// DescribeStrategy returns the TYPE column oc prints: the strategy type,
// inferred from the set strategy when the type field is empty.
func DescribeStrategy(s buildv1.BuildStrategy) string {
	if s.Type != "" {
		return string(s.Type)
	}
	return string(StrategyType(s))
}
