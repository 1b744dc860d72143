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
	if _, err := api.client.CoreV1().Pods(api.ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
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
func TestMountSourceOfClaim(t *testing.T) {
	files := podFiles(t.TempDir())
	volume, outside := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Dir(files.volume("data")), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(volume, files.volume("data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(volume, "escape")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mount corev1.VolumeMount
		want  string
	}{
		{corev1.VolumeMount{Name: "data"}, volume},
		{corev1.VolumeMount{Name: "data", SubPath: "a/b"}, filepath.Join(volume, "a/b")},
		{corev1.VolumeMount{Name: "data", SubPath: "../../etc"}, filepath.Join(volume, "etc")},
		// The link's target is taken inside the volume.
		{corev1.VolumeMount{Name: "data", SubPath: "escape/x"}, filepath.Join(volume, outside, "x")},
		{corev1.VolumeMount{Name: "cache", SubPath: "s"}, filepath.Join(files.volume("cache"), "s")},
	} {
		got, err := mountSource(files, tc.mount)
		if err != nil || got != tc.want {
			t.Errorf("mountSource(%+v) = %q, %v; want %q", tc.mount, got, err, tc.want)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("a subPath made %v outside the volume", entries)
	}
}
