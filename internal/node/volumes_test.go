package node

import (
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	files := map[string]volumeFile{
		"token":      {data: []byte("t1"), mode: 0o644},
		"sub/ca.crt": {data: []byte("CA"), mode: 0o600},
	}
	if err := writeFiles(dir, files); err != nil {
		t.Fatal(err)
	}
	// Written again (a renewed token): replaced, no temporary file left.
	if err := writeFiles(dir, map[string]volumeFile{"token": {data: []byte("t2"), mode: 0o644}}); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"token": "t2", "sub/ca.crt": "CA"} {
		b, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", path, b, err, want)
		}
	}
	if info, err := os.Stat(filepath.Join(dir, "sub/ca.crt")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("sub/ca.crt mode %v, %v; want 0600", info.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("volume holds %v, want token and sub", entries)
	}

	for _, bad := range []string{"../escape", "/abs", "a/../../b", ".."} {
		if err := writeFiles(dir, map[string]volumeFile{bad: {data: []byte("x"), mode: 0o644}}); err == nil {
			t.Errorf("path %q was written", bad)
		}
	}
	// A link planted in the volume does not lead out of it.
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := writeFiles(dir, map[string]volumeFile{"link/x": {data: []byte("x"), mode: 0o644}}); err == nil {
		t.Error("a file was written through a link out of the volume")
	}
	if _, err := os.Stat(filepath.Join(outside, "x")); err == nil {
		t.Error("a file was written outside the volume")
	}
}

func TestKeyFiles(t *testing.T) {
	data := map[string][]byte{"a": []byte("A"), "b": []byte("B")}
	mode := int32(0o400)
	out := map[string]volumeFile{}
	if err := keyFiles(data, nil, false, nil, out); err != nil || len(out) != 2 || out["a"].mode != 0o644 {
		t.Errorf("all keys: %v, %v", out, err)
	}
	out = map[string]volumeFile{}
	err := keyFiles(data, []corev1.KeyToPath{{Key: "b", Path: "dir/bee", Mode: &mode}}, false, nil, out)
	if err != nil || len(out) != 1 || string(out["dir/bee"].data) != "B" || out["dir/bee"].mode != 0o400 {
		t.Errorf("items: %v, %v", out, err)
	}
	if err := keyFiles(data, []corev1.KeyToPath{{Key: "c", Path: "c"}}, false, nil, map[string]volumeFile{}); err == nil {
		t.Error("a missing key of a required source was accepted")
	}
	if err := keyFiles(data, []corev1.KeyToPath{{Key: "c", Path: "c"}}, true, nil, map[string]volumeFile{}); err != nil {
		t.Errorf("a missing key of an optional source: %v", err)
	}
}

func TestDownwardAPIFiles(t *testing.T) {
	a := &Agent{node: &nodeReporter{machine: machine{capacity: corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("2"),
		corev1.ResourceMemory: resource.MustParse("4Gi"),
	}}}}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "p", UID: "u-1",
			Labels: map[string]string{"app": "web", "tier": "front"}, Annotations: map[string]string{"note": `say "hi"`}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
		}}}},
	}
	field := func(path string) *corev1.ObjectFieldSelector { return &corev1.ObjectFieldSelector{FieldPath: path} }
	res := func(name, divisor string) *corev1.ResourceFieldSelector {
		s := &corev1.ResourceFieldSelector{ContainerName: "c", Resource: name}
		if divisor != "" {
			s.Divisor = resource.MustParse(divisor)
		}
		return s
	}
	items := []corev1.DownwardAPIVolumeFile{
		{Path: "name", FieldRef: field("metadata.name")},
		{Path: "namespace", FieldRef: field("metadata.namespace")},
		{Path: "uid", FieldRef: field("metadata.uid")},
		{Path: "labels", FieldRef: field("metadata.labels")},
		{Path: "annotations", FieldRef: field("metadata.annotations")},
		{Path: "app", FieldRef: field("metadata.labels['app']")},
		{Path: "mem_limit", ResourceFieldRef: res("limits.memory", "1Mi")},
		{Path: "cpu_limit", ResourceFieldRef: res("limits.cpu", "")},
		{Path: "cpu_request", ResourceFieldRef: res("requests.cpu", "1m")},
		{Path: "mem_request", ResourceFieldRef: res("requests.memory", "")},
	}
	out := map[string]volumeFile{}
	if err := a.downwardAPIFiles(pod, items, nil, out); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"name": "web", "namespace": "p", "uid": "u-1",
		"labels":      "app=\"web\"\ntier=\"front\"",
		"annotations": `note="say \"hi\""`,
		"app":         "web",
		"mem_limit":   "64",
		"cpu_limit":   "2", // no limit: the node's allocatable
		"cpu_request": "250",
		"mem_request": "0",
	} {
		if got := string(out[path].data); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if err := a.downwardAPIFiles(pod, []corev1.DownwardAPIVolumeFile{{Path: "x", FieldRef: field("spec.nope")}}, nil, map[string]volumeFile{}); err == nil {
		t.Error("an unsupported field was accepted")
	}
}

func TestServiceAccountDir(t *testing.T) {
	files := podFiles("/pods/p/web")
	c := &corev1.Container{VolumeMounts: []corev1.VolumeMount{
		{Name: "data", MountPath: "/data"},
		{Name: "kube-api-access-x7k2p", MountPath: serviceAccountMountPath, ReadOnly: true},
	}}
	if got, want := serviceAccountDir(c, files), "/pods/p/web/volumes/kube-api-access-x7k2p"; got != want {
		t.Errorf("serviceAccountDir = %q, want %q", got, want)
	}
	if got := serviceAccountDir(&corev1.Container{}, files); got != "" {
		t.Errorf("without the mount: %q, want none", got)
	}
}
