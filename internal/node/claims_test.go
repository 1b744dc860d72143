package node

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestClaimDir resolves claims through the node's own identity (the Node
// authorizer lets it read the claims of its pods and their volumes): a
// bound local volume inside the data directory's volumes and a hostPath
// volume are mounted; a claim not bound yet, and a local volume anywhere
// else, are errors.
func TestClaimDir(t *testing.T) {
	api := startAPI(t)
	ctx := context.Background()
	dataDir := t.TempDir()
	a := &Agent{cfg: Config{NodeName: api.node, DataDir: dataDir}, client: api.nodeClient(t)}
	inside := filepath.Join(a.localVolumesDir(), api.ns+"-in")
	hostDir, outside := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(inside, 0o700); err != nil {
		t.Fatal(err)
	}
	volumes := map[string]corev1.PersistentVolumeSource{
		"in":       {Local: &corev1.LocalVolumeSource{Path: inside}},
		"out":      {Local: &corev1.LocalVolumeSource{Path: outside}},
		"hostpath": {HostPath: &corev1.HostPathVolumeSource{Path: hostDir}},
	}
	empty := ""
	var podVolumes []corev1.Volume
	for name, src := range volumes {
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: api.ns + "-" + name},
			Spec: corev1.PersistentVolumeSpec{
				AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Mi")},
				PersistentVolumeSource: src,
				ClaimRef:               &corev1.ObjectReference{Namespace: api.ns, Name: name},
			},
		}
		if src.Local != nil {
			pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{api.node}}},
			}}}}
		}
		if _, err := api.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = api.client.CoreV1().PersistentVolumes().Delete(context.Background(), pv.Name, metav1.DeleteOptions{})
		})
	}
	for _, name := range []string{"in", "out", "hostpath", "unbound"} {
		claim := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PersistentVolumeClaimSpec{
				StorageClassName: &empty,
				AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Mi")}},
			},
		}
		if name != "unbound" {
			claim.Spec.VolumeName = api.ns + "-" + name
		} else {
			// No volume matches: it stays Pending.
			claim.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"none": "none"}}
		}
		if _, err := api.client.CoreV1().PersistentVolumeClaims(api.ns).Create(ctx, claim, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		podVolumes = append(podVolumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name},
		}})
	}
	// The Node authorizer lets the node read the claims of pods bound to it.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "user", Namespace: api.ns},
		Spec: corev1.PodSpec{
			NodeName:           api.node,
			ServiceAccountName: "builder",
			Volumes:            podVolumes,
			Containers:         []corev1.Container{{Name: "c", Image: "busybox"}},
		},
	}
	if _, err := api.client.CoreV1().Pods(api.ns).Create(ctx, api.signed(t, pod), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		claim, dir, err string
	}{
		{claim: "in", dir: inside},
		{claim: "hostpath", dir: hostDir},
		{claim: "out", err: "outside"},
		{claim: "unbound", err: "not bound"},
	} {
		t.Run(tc.claim, func(t *testing.T) {
			var dir string
			var err error
			deadline := time.Now().Add(time.Minute)
			for {
				dir, err = a.claimDir(ctx, api.ns, tc.claim)
				// The binder binds, and the Node authorizer's graph learns
				// of the pod, a moment after they are written.
				pending := err != nil && (strings.Contains(err.Error(), "forbidden") ||
					tc.err != "not bound" && strings.Contains(err.Error(), "not bound"))
				if !pending || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("claimDir(%s) = %q, %v; want an error with %q", tc.claim, dir, err, tc.err)
			case tc.err == "" && (err != nil || dir != tc.dir):
				t.Fatalf("claimDir(%s) = %q, %v; want %s", tc.claim, dir, err, tc.dir)
			}
		})
	}

	// With an fsGroup, the volume is the group's, as a kubelet makes it.
	fsGroup := int64(4321)
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: &fsGroup}
	link := podFiles(t.TempDir()).volume("in")
	if err := a.linkClaim(ctx, pod, &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "in"}, link); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(link); err != nil || target != inside {
		t.Errorf("link %s -> %q, %v; want %s", link, target, err, inside)
	}
	fi, err := os.Stat(inside)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); int64(st.Gid) != fsGroup || fi.Mode()&os.ModeSetgid == 0 || fi.Mode().Perm() != 0o770 {
		t.Errorf("volume with fsGroup %d: gid %d, mode %v; want the group's, setgid, 0770", fsGroup, st.Gid, fi.Mode())
	}
}

// TestMountSourceOfClaim: a claim's volume is the directory its link in the
// pod's volumes names, and a subPath in it, whose links its containers
// write, does not lead out of it.
// TestMountSourceOfSubPaths: a subPath is resolved inside its volume, a
// claim's or the pod's own (an emptyDir), through no link out of it: an
// init container's `ln -s / x` in an emptyDir, then `subPath: x`, was how
// a pod read the server's admin token. What the runtime mounts is a bind
// of what was opened, so it stays put when the volume changes after.
func TestMountSourceOfSubPaths(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("subPaths are bind mounts: run the node tests as root")
	}
	files := podFiles(t.TempDir())
	volume, outside := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "admin.token"), []byte("host-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Dir(files.volume("data")), files.volume("cache")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(volume, files.volume("data")); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{volume, files.volume("cache")} {
		if err := os.Symlink(outside, filepath.Join(dir, "escape")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/", filepath.Join(dir, "root")); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(files.volume("cache"), "file"), []byte("in the volume"), 0o600); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := unmountSubPaths(string(files)); err != nil {
			t.Error(err)
		}
	}()
	for i, tc := range []struct {
		mount corev1.VolumeMount
		want  string // the directory or file the source must be; "" for an error
	}{
		{corev1.VolumeMount{Name: "data"}, volume},
		{corev1.VolumeMount{Name: "data", SubPath: "a/b"}, filepath.Join(volume, "a/b")},
		{corev1.VolumeMount{Name: "data", SubPath: "../../etc"}, filepath.Join(volume, "etc")},
		// A link's target is taken inside the volume; one that names
		// nothing there is not made (the container does not start).
		{corev1.VolumeMount{Name: "data", SubPath: "escape/x"}, ""},
		{corev1.VolumeMount{Name: "data", SubPath: "root"}, volume},
		{corev1.VolumeMount{Name: "cache", SubPath: "s"}, filepath.Join(files.volume("cache"), "s")},
		{corev1.VolumeMount{Name: "cache", SubPath: "root"}, files.volume("cache")},
		{corev1.VolumeMount{Name: "cache", SubPath: "escape"}, ""},
		{corev1.VolumeMount{Name: "cache", SubPath: "file"}, filepath.Join(files.volume("cache"), "file")},
	} {
		got, err := mountSource(files, "app", i, tc.mount)
		if tc.want == "" {
			if err == nil {
				t.Errorf("mountSource(%+v) = %q, want an error", tc.mount, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("mountSource(%+v): %v", tc.mount, err)
			continue
		}
		gotInfo, err := os.Stat(got)
		if err != nil {
			t.Errorf("mountSource(%+v) = %q: %v", tc.mount, got, err)
			continue
		}
		wantInfo, err := os.Stat(tc.want)
		if err != nil || !os.SameFile(gotInfo, wantInfo) {
			t.Errorf("mountSource(%+v) = %q, not %q (%v)", tc.mount, got, tc.want, err)
		}
		if data, err := os.ReadFile(filepath.Join(got, "admin.token")); err == nil {
			t.Errorf("mountSource(%+v) reaches the host's admin.token: %q", tc.mount, data)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 1 {
		t.Errorf("a subPath made %v outside the volume", entries)
	}
	// The pod's directory goes without emptying what was bound.
	if err := removePodDir(string(files)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(volume, "a/b")); err != nil {
		t.Errorf("removing the pod's directory emptied the claim: %v", err)
	}
}
