package dockerfile

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/command"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	buildv1 "github.com/openshift/api/build/v1"

	"github.com/slipway-dev/slipway/internal/builder/source"
)

// Edit returns the Dockerfile in with the build's changes (see Manage).
//
// The file is parsed with BuildKit's own parser, so continuation lines,
// comments, heredocs, parser directives and FROM flags are understood, but
// it is edited by line ranges rather than re-printed from the syntax tree:
// every line the build does not change stays byte for byte as written.
func Edit(in []byte, build *buildv1.Build, info *source.Info) ([]byte, error) {
	res, err := parser.Parse(bytes.NewReader(in))
	if err != nil {
		return nil, fmt.Errorf("parsing: %w", err)
	}
	esc := res.EscapeToken
	e := newEditor(in)
	strategy := build.Spec.Strategy.DockerStrategy
	if strategy == nil {
		strategy = &buildv1.DockerBuildStrategy{}
	}

	// Strategy env goes after every FROM, as one ENV.
	var strategyEnv string
	if env := strategy.Env; len(env) > 0 {
		kvs := make([]KeyValue, 0, len(env))
		for _, v := range env {
			kvs = append(kvs, KeyValue{Key: v.Name, Value: v.Value})
		}
		if strategyEnv, err = Instruction("ENV", kvs, esc); err != nil {
			return nil, fmt.Errorf("dockerStrategy.env: %w", err)
		}
	}

	replacements := imageReplacements(build.Spec.Source.Images)
	froms := instructions(res.AST, command.From)
	lastFrom := -1
	if len(froms) > 0 {
		lastFrom = froms[len(froms)-1].StartLine
	}
	baseImage := ""
	if from := strategy.From; from != nil && from.Kind == "DockerImage" && from.Name != "" {
		baseImage = from.Name
	}

	stages := map[string]bool{}
	for _, node := range res.AST.Children {
		switch {
		case strings.EqualFold(node.Value, command.From):
			image, stage := fromImage(node)
			newImage := image
			if node.StartLine == lastFrom && baseImage != "" {
				newImage = baseImage
			}
			if r, ok := replacements[newImage]; ok {
				newImage = r
			}
			if newImage != image {
				e.replace(node.StartLine, node.EndLine, fromLine(node, newImage))
			}
			if stage != "" {
				stages[stage] = true
			}
			if strategyEnv != "" {
				e.insertAfter(node.EndLine, strategyEnv)
			}
		case strings.EqualFold(node.Value, command.Copy):
			// COPY --from=<name> names an image unless an earlier stage has
			// that name; only image names are substituted.
			ref, ok := copyFrom(node)
			if !ok || stages[strings.ToLower(ref)] {
				continue
			}
			if r, ok := replacements[ref]; ok {
				if err := e.replaceFlag(node.StartLine, node.EndLine, "--from="+ref, "--from="+r); err != nil {
					return nil, err
				}
			}
		}
	}

	envLine, err := Instruction("ENV", BuildEnv(build, info), esc)
	if err != nil {
		return nil, fmt.Errorf("build environment: %w", err)
	}
	e.append(envLine)
	if labels := BuildLabels(build, info); len(labels) > 0 {
		labelLine, err := Instruction("LABEL", labels, esc)
		if err != nil {
			return nil, fmt.Errorf("image labels: %w", err)
		}
		e.append(labelLine)
	}
	return e.bytes(), nil
}

// imageReplacements maps each source.images[].as name to its image, for
// DockerImage sources (the only kind a build runs with).
func imageReplacements(images []buildv1.ImageSource) map[string]string {
	m := map[string]string{}
	for _, image := range images {
		if image.From.Kind != "DockerImage" || image.From.Name == "" {
			continue
		}
		for _, name := range image.As {
			m[name] = image.From.Name
		}
	}
	return m
}

// instructions returns the top-level instructions named cmd.
func instructions(root *parser.Node, cmd string) []*parser.Node {
	var nodes []*parser.Node
	for _, n := range root.Children {
		if strings.EqualFold(n.Value, cmd) {
			nodes = append(nodes, n)
		}
	}
	return nodes
}

// fromImage returns a FROM's image and its stage name (lower-cased, as
// BuildKit matches them), either possibly empty.
func fromImage(node *parser.Node) (image, stage string) {
	if node.Next == nil {
		return "", ""
	}
	image = node.Next.Value
	if as := node.Next.Next; as != nil && strings.EqualFold(as.Value, "AS") && as.Next != nil {
		stage = strings.ToLower(as.Next.Value)
	}
	return image, stage
}

// fromLine prints a FROM with its flags and stage name and a new image.
func fromLine(node *parser.Node, image string) string {
	parts := append([]string{"FROM"}, node.Flags...)
	parts = append(parts, image)
	if node.Next != nil {
		for n := node.Next.Next; n != nil; n = n.Next {
			parts = append(parts, n.Value)
		}
	}
	return strings.Join(parts, " ")
}

// copyFrom returns the value of a COPY's --from flag.
func copyFrom(node *parser.Node) (string, bool) {
	for _, f := range node.Flags {
		if v, ok := strings.CutPrefix(f, "--from="); ok {
			return v, true
		}
	}
	return "", false
}
