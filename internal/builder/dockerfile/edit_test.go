package dockerfile

import (
	"bytes"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	buildv1 "github.com/openshift/api/build/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/slipway-dev/slipway/internal/builder/source"
)

const (
	testURI    = "https://git.example.com/team/time.git"
	testCommit = "1e1ed2c579f98bc35de25c34952825419bb0a500"
)

// dockerBuild is a Docker-strategy build time-2 in ext-image-push, with the
// changes of mutate applied.
func dockerBuild(mutate func(*buildv1.Build)) *buildv1.Build {
	b := &buildv1.Build{}
	b.Name, b.Namespace = "time-2", "ext-image-push"
	b.Spec.Strategy = buildv1.BuildStrategy{Type: buildv1.DockerBuildStrategyType, DockerStrategy: &buildv1.DockerBuildStrategy{}}
	if mutate != nil {
		mutate(b)
	}
	return b
}

func testInfo() *source.Info {
	return &source.Info{
		Commit: testCommit, Author: "Veer <veer@example.com>", Date: "Tue Aug 16 20:28:41 2016 -0400",
		Message: "fixed init.sh", Ref: "main", Location: testURI,
	}
}

func withGit(ref string) func(*buildv1.Build) {
	return func(b *buildv1.Build) {
		b.Spec.Source.Git = &buildv1.GitBuildSource{URI: testURI, Ref: ref}
	}
}

const (
	plainEnv    = `ENV "OPENSHIFT_BUILD_NAME"="time-2" "OPENSHIFT_BUILD_NAMESPACE"="ext-image-push"`
	plainLabels = `LABEL "io.openshift.build.name"="time-2" "io.openshift.build.namespace"="ext-image-push"`
)

func TestEdit(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		build  func(*buildv1.Build)
		info   *source.Info
		want   string
		errHas string
	}{
		{
			name: "single stage, no source",
			in:   "FROM busybox\nCMD [\"true\"]\n",
			want: "FROM busybox\nCMD [\"true\"]\n" + plainEnv + "\n" + plainLabels + "\n",
		},
		{
			name: "missing final newline and comments kept",
			in:   "# a comment\nFROM busybox\n\n# another\nRUN echo hi",
			want: "# a comment\nFROM busybox\n\n# another\nRUN echo hi\n" + plainEnv + "\n" + plainLabels + "\n",
		},
		{
			name: "from replaces the only FROM",
			in:   "FROM docker.io/busybox\nADD ./init.sh ./\n",
			build: func(b *buildv1.Build) {
				b.Spec.Strategy.DockerStrategy.From = &corev1.ObjectReference{Kind: "DockerImage", Name: "reg:5000/library/busybox@sha256:abc"}
			},
			want: "FROM reg:5000/library/busybox@sha256:abc\nADD ./init.sh ./\n" + plainEnv + "\n" + plainLabels + "\n",
		},
		{
			name: "multi-stage: from replaces the last FROM only, keeping flags and stage name",
			in: "ARG GO=1.22\nFROM golang:${GO} AS build\nRUN go build\n" +
				"FROM --platform=$BUILDPLATFORM \\\n  alpine:3 AS final\nCOPY --from=build /app /app\n",
			build: func(b *buildv1.Build) {
				b.Spec.Strategy.DockerStrategy.From = &corev1.ObjectReference{Kind: "DockerImage", Name: "base:1"}
			},
			want: "ARG GO=1.22\nFROM golang:${GO} AS build\nRUN go build\n" +
				"FROM --platform=$BUILDPLATFORM base:1 AS final\nCOPY --from=build /app /app\n" + plainEnv + "\n" + plainLabels + "\n",
		},
		{
			name: "from of another kind is left alone",
			in:   "FROM busybox\n",
			build: func(b *buildv1.Build) {
				b.Spec.Strategy.DockerStrategy.From = &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "busybox:latest"}
			},
			want: "FROM busybox\n" + plainEnv + "\n" + plainLabels + "\n",
		},
		{
			name: "strategy env after every FROM",
			in:   "FROM a AS one\nRUN x\nFROM \\\n  b\nRUN y\n",
			build: func(b *buildv1.Build) {
				b.Spec.Strategy.DockerStrategy.Env = []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "two words"}}
			},
			want: "FROM a AS one\nENV \"A\"=\"1\" \"B\"=\"two words\"\nRUN x\nFROM \\\n  b\nENV \"A\"=\"1\" \"B\"=\"two words\"\nRUN y\n" + plainEnv + "\n" + plainLabels + "\n",
		},
		{
			name: "source images replace FROM and COPY --from by name, not earlier stages",
			in: "FROM builder-image AS builder\nRUN make\n" +
				"FROM runtime\nCOPY --from=builder /out /out\nCOPY --chown=1:1 --from=tools /bin/t \\\n  /bin/t\n",
			build: func(b *buildv1.Build) {
				b.Spec.Source.Images = []buildv1.ImageSource{
					{From: corev1.ObjectReference{Kind: "DockerImage", Name: "reg/builder@sha256:1"}, As: []string{"builder-image", "builder"}},
					{From: corev1.ObjectReference{Kind: "DockerImage", Name: "reg/tools:2"}, As: []string{"tools"}},
					{From: corev1.ObjectReference{Kind: "ImageStreamTag", Name: "runtime:1"}, As: []string{"runtime"}},
				}
			},
			want: "FROM reg/builder@sha256:1 AS builder\nRUN make\n" +
				"FROM runtime\nCOPY --from=builder /out /out\nCOPY --chown=1:1 --from=reg/tools:2 /bin/t \\\n  /bin/t\n" + plainEnv + "\n" + plainLabels + "\n",
		},
		{
			name:  "git source: build env and sorted labels, empty values omitted",
			in:    "FROM busybox\n",
			build: withGit("main"),
			info:  &source.Info{Commit: testCommit, Author: "Veer <veer@example.com>", Message: "", Location: testURI},
			want: "FROM busybox\n" +
				`ENV "OPENSHIFT_BUILD_NAME"="time-2" "OPENSHIFT_BUILD_NAMESPACE"="ext-image-push" "OPENSHIFT_BUILD_SOURCE"="` + testURI + `" "OPENSHIFT_BUILD_REFERENCE"="main" "OPENSHIFT_BUILD_COMMIT"="` + testCommit + `"` + "\n" +
				`LABEL "io.openshift.build.commit.author"="Veer <veer@example.com>" "io.openshift.build.commit.id"="` + testCommit + `" "io.openshift.build.commit.ref"="main" "io.openshift.build.name"="time-2" "io.openshift.build.namespace"="ext-image-push" "io.openshift.build.source-location"="` + testURI + `"` + "\n",
		},
		{
			name: "commit falls back to the requested revision; ref forced to git.ref",
			in:   "FROM busybox\n",
			build: func(b *buildv1.Build) {
				withGit("release")(b)
				b.Spec.Revision = &buildv1.SourceRevision{Git: &buildv1.GitSourceRevision{Commit: "abc123"}}
			},
			info: &source.Info{Ref: "HEAD"},
			want: "FROM busybox\n" +
				`ENV "OPENSHIFT_BUILD_NAME"="time-2" "OPENSHIFT_BUILD_NAMESPACE"="ext-image-push" "OPENSHIFT_BUILD_SOURCE"="` + testURI + `" "OPENSHIFT_BUILD_REFERENCE"="release" "OPENSHIFT_BUILD_COMMIT"="abc123"` + "\n" +
				`LABEL "io.openshift.build.commit.ref"="release" "io.openshift.build.name"="time-2" "io.openshift.build.namespace"="ext-image-push" "io.openshift.build.source-location"="` + testURI + `"` + "\n",
		},
		{
			name: "imageLabels come last and escape quotes, dollars and backslashes",
			in:   "FROM busybox\n",
			build: func(b *buildv1.Build) {
				b.Spec.Output.ImageLabels = []buildv1.ImageLabel{{Name: "io.openshift.build.name", Value: "override"}, {Name: "odd", Value: `say "hi" $HOME \n` + "\nnext"}}
			},
			want: "FROM busybox\n" + plainEnv + "\n" +
				`LABEL "io.openshift.build.name"="time-2" "io.openshift.build.namespace"="ext-image-push" "io.openshift.build.name"="override" "odd"="say \"hi\" \$HOME \\n next"` + "\n",
		},
		{
			name: "escape directive changes the escape token",
			in:   "# escape=`\nFROM busybox\nRUN echo a `\n  b\n",
			build: func(b *buildv1.Build) {
				b.Spec.Output.ImageLabels = []buildv1.ImageLabel{{Name: "path", Value: `C:\dir "$x"`}}
			},
			want: "# escape=`\nFROM busybox\nRUN echo a `\n  b\n" + plainEnv + "\n" +
				`LABEL "io.openshift.build.name"="time-2" "io.openshift.build.namespace"="ext-image-push" "path"="C:\dir ` + "`\"`$x`\"\"\n",
		},
		{
			name: "heredoc at the end stays intact",
			in:   "# syntax=docker/dockerfile:1\nFROM busybox\nRUN <<EOF\necho FROM inside heredoc\nEOF",
			build: func(b *buildv1.Build) {
				b.Spec.Strategy.DockerStrategy.Env = []corev1.EnvVar{{Name: "X", Value: "y"}}
			},
			want: "# syntax=docker/dockerfile:1\nFROM busybox\nENV \"X\"=\"y\"\nRUN <<EOF\necho FROM inside heredoc\nEOF\n" + plainEnv + "\n" + plainLabels + "\n",
		},
		{
			name:   "unreadable Dockerfile",
			in:     "FROM busybox\nRUN <<EOF\nnever ends\n",
			errHas: "unterminated heredoc",
		},
		{
			name:   "empty Dockerfile",
			in:     "# only a comment\n",
			errHas: "file with no instructions",
		},
		{
			name:   "label name with =",
			in:     "FROM busybox\n",
			build:  func(b *buildv1.Build) { b.Spec.Output.ImageLabels = []buildv1.ImageLabel{{Name: "a=b", Value: "c"}} },
			errHas: `"a=b" contains "="`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Edit([]byte(tc.in), dockerBuild(tc.build), tc.info)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("error %v, want one containing %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatalf("Edit: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
			// Whatever we write must parse again.
			if _, err := parser.Parse(bytes.NewReader(got)); err != nil {
				t.Errorf("edited Dockerfile does not parse: %v", err)
			}
		})
	}
}

// TestInstructionRoundTrip checks that what Instruction writes is what
// BuildKit reads back: the parser splits the pairs, the shell lexer
// unquotes them as the dockerfile frontend does for ENV and LABEL.
func TestInstructionRoundTrip(t *testing.T) {
	values := []string{"plain", "two words", `quote " inside`, "$HOME and ${X}", `back\slash`, `trailing\`, "tab\there", "emoji ✓", "`tick`", "x=y", "", "multi\nline"}
	for _, esc := range []rune{'\\', '`'} {
		var kvs []KeyValue
		for i, v := range values {
			kvs = append(kvs, KeyValue{Key: "io.example/k" + string(rune('a'+i)), Value: v})
		}
		line, err := Instruction("LABEL", kvs, esc)
		if err != nil {
			t.Fatal(err)
		}
		df := "FROM scratch\n" + line + "\n"
		if esc == '`' {
			df = "# escape=`\n" + df
		}
		res, err := parser.Parse(strings.NewReader(df))
		if err != nil {
			t.Fatalf("escape %q: %v\n%s", esc, err, df)
		}
		label := res.AST.Children[1]
		lex := shell.NewLex(esc)
		i := 0
		for n := label.Next; n != nil; n = n.Next.Next.Next {
			key, _, err := lex.ProcessWord(n.Value, shell.EnvsFromSlice(nil))
			if err != nil {
				t.Fatal(err)
			}
			val, _, err := lex.ProcessWord(n.Next.Value, shell.EnvsFromSlice(nil))
			if err != nil {
				t.Fatal(err)
			}
			want := strings.ReplaceAll(values[i], "\n", " ")
			if key != kvs[i].Key || val != want {
				t.Errorf("escape %q pair %d: got %q=%q, want %q=%q", esc, i, key, val, kvs[i].Key, want)
			}
			i++
		}
		if i != len(values) {
			t.Errorf("escape %q: read %d pairs, want %d", esc, i, len(values))
		}
	}
}
