package dockerfile

import (
	"bytes"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/command"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// BaseImages lists the images the FROM lines of a Dockerfile name, in
// order, without earlier stages, scratch and names built from ARGs. A
// Dockerfile that does not parse has none (the build reports it).
func BaseImages(data []byte) []string {
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil
	}
	var images []string
	stages := map[string]bool{}
	for _, node := range instructions(res.AST, command.From) {
		image, stage := fromImage(node)
		if image != "" && !stages[strings.ToLower(image)] && !strings.EqualFold(image, "scratch") && !strings.Contains(image, "$") {
			images = append(images, image)
		}
		if stage != "" {
			stages[stage] = true
		}
	}
	return images
}
