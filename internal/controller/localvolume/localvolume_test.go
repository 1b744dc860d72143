package localvolume

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/sig-storage-lib-external-provisioner/v13/controller"
)

func localPV(name, path string) *corev1.PersistentVolume {
	pv := &corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{
		PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: path}},
	}}
	pv.Name = name
	return pv
}

// TestDeleteStaysInsideRoot: a PV's path is whatever its writer put there;
// Delete removes only a volume directory directly inside the root, and a
// link there loses only itself.
func TestDeleteStaysInsideRoot(t *testing.T) {
	base := t.TempDir()
	volumes, err := Open(filepath.Join(base, "volumes"), "node")
	if err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(base, "outside")
	if err := os.MkdirAll(filepath.Join(outside, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(volumes.Root(), "pvc-link")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		refused    bool
	}{
		{"the root itself", volumes.Root(), true},
		{"the root's parent", filepath.Join(volumes.Root(), ".."), true},
		{"backsteps out of the root", volumes.Root() + "/pvc-a/../../outside", true},
		{"outside", outside, true},
		{"a directory in a volume", filepath.Join(volumes.Root(), "pvc-a", "data"), true},
		{"relative", "pvc-a", true},
		{"a link to outside", filepath.Join(volumes.Root(), "pvc-link"), false},
		{"a volume", filepath.Join(volumes.Root(), "pvc-a"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.MkdirAll(filepath.Join(volumes.Root(), "pvc-a", "data"), 0o700); err != nil {
				t.Fatal(err)
			}
			err := volumes.Delete(context.Background(), localPV("pv", tc.path))
			if tc.refused != (err != nil) {
				t.Fatalf("Delete(%s) = %v, refused %v", tc.path, err, tc.refused)
			}
			if _, err := os.Stat(filepath.Join(outside, "data")); err != nil {
				t.Fatalf("Delete(%s) reached outside the root: %v", tc.path, err)
			}
		})
	}
	if _, err := os.Lstat(filepath.Join(volumes.Root(), "pvc-link")); !os.IsNotExist(err) {
		t.Errorf("the link in the root is still there: %v", err)
	}
	err = volumes.Delete(context.Background(), &corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{
		PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: outside}},
	}})
	if _, ignored := err.(*controller.IgnoredError); !ignored {
		t.Errorf("Delete of a hostPath volume = %v, want it ignored", err)
	}
}

func TestProvision(t *testing.T) {
	volumes, err := Open(filepath.Join(t.TempDir(), "volumes"), "node-a")
	if err != nil {
		t.Fatal(err)
	}
	retain := corev1.PersistentVolumeReclaimRetain
	claim := &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}}
	for _, tc := range []struct {
		name   string
		opts   controller.ProvisionOptions
		state  controller.ProvisioningState
		failed bool
	}{
		{"on this node", controller.ProvisionOptions{PVName: "pvc-1", PVC: claim, SelectedNodeName: "node-a", StorageClass: &storagev1.StorageClass{ReclaimPolicy: &retain}}, controller.ProvisioningFinished, false},
		{"no node selected", controller.ProvisionOptions{PVName: "pvc-2", PVC: claim}, controller.ProvisioningFinished, false},
		{"another node", controller.ProvisionOptions{PVName: "pvc-3", PVC: claim, SelectedNodeName: "node-b"}, controller.ProvisioningReschedule, true},
		{"a name with a slash", controller.ProvisionOptions{PVName: "../pvc-4", PVC: claim}, controller.ProvisioningFinished, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pv, state, err := volumes.Provision(context.Background(), tc.opts)
			if state != tc.state || tc.failed != (err != nil) {
				t.Fatalf("Provision = %s, %v; want %s, failed %v", state, err, tc.state, tc.failed)
			}
			if err != nil {
				return
			}
			dir := filepath.Join(volumes.Root(), tc.opts.PVName)
			if pv.Spec.Local == nil || pv.Spec.Local.Path != dir {
				t.Errorf("PV source = %+v, want local %s", pv.Spec.PersistentVolumeSource, dir)
			}
			if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 || !fi.IsDir() {
				t.Errorf("volume directory: %v, %v", fi, err)
			}
			want := corev1.PersistentVolumeReclaimDelete
			if tc.opts.StorageClass != nil && tc.opts.StorageClass.ReclaimPolicy != nil {
				want = *tc.opts.StorageClass.ReclaimPolicy
			}
			if pv.Spec.PersistentVolumeReclaimPolicy != want {
				t.Errorf("reclaim policy %s, want %s", pv.Spec.PersistentVolumeReclaimPolicy, want)
			}
			terms := pv.Spec.NodeAffinity.Required.NodeSelectorTerms
			if len(terms) != 1 || terms[0].MatchExpressions[0].Values[0] != "node-a" {
				t.Errorf("node affinity %+v, want node-a", terms)
			}
		})
	}
}
