package buildkit

import (
	"path/filepath"
	"strings"
)

// StateDir is where the builders sharing the buildkitd at address keep
// what they coordinate through (login locks, image pins): the directory of
// its unix socket. Other addresses (a buildkitd elsewhere) have none: "".
func StateDir(address string) string {
	socket, ok := strings.CutPrefix(address, "unix://")
	if !ok || socket == "" {
		return ""
	}
	return filepath.Dir(socket)
}
