package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t *testing.T, data string, into any) {
	t.Helper()
	if err := json.Unmarshal([]byte(data), into); err != nil {
		t.Fatalf("decoding %s: %v", data, err)
	}
}

func hasName(list []struct{ Name string }, name string) bool {
	for _, x := range list {
		if x.Name == name {
			return true
		}
	}
	return false
}

var (
	createOpts = metav1.CreateOptions{}
	getOpts    = metav1.GetOptions{}
)
