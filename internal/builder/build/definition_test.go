package build

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestDefinitionInputStaysInTheContext: a Dockerfile or .dockerignore that
// links to a host file is not read into the build (issue 12).
func TestDefinitionInputStaysInTheContext(t *testing.T) {
	for _, name := range []string{"Dockerfile", ".dockerignore", "Dockerfile.dockerignore"} {
		t.Run(name, func(t *testing.T) {
			host := filepath.Join(t.TempDir(), "secret")
			if err := os.WriteFile(host, []byte("HOST-SECRET\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if name != "Dockerfile" {
				if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink(host, filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
			st, err := definitionInput(dir, "Dockerfile")
			if err != nil {
				return // refused: as good
			}
			def, err := st.Marshal(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, op := range def.Def {
				if bytes.Contains(op, []byte("HOST-SECRET")) {
					t.Fatalf("%s's link target was read into the build", name)
				}
			}
		})
	}
}
