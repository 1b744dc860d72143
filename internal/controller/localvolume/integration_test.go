package localvolume

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/slipway-dev/slipway/internal/testserver"
)

// eventually retries f until it succeeds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestProvisionerOnAPIServer runs the provisioner against the real API
// server and kube-controller-manager (whose persistentvolume-binder hands
// claims to it and binds what it makes): a claim gets a PV and a
// directory, deleting the claim removes both, and a PV claiming to be
// ours with a path outside the root is never deleted.
func TestProvisionerOnAPIServer(t *testing.T) {
	server := testserver.Start(t, testserver.Options{})
	kube := kubernetes.NewForConfigOrDie(server.Admin)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	base := t.TempDir()
	volumes, err := Open(filepath.Join(base, "volumes"), server.NodeName)
	if err != nil {
		t.Fatal(err)
	}
	// No node runs here: the class binds at once instead of waiting for a
	// pod to be scheduled.
	immediate, reclaim := storagev1.VolumeBindingImmediate, corev1.PersistentVolumeReclaimDelete
	class := &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: "local-immediate"},
		Provisioner:       ProvisionerName,
		VolumeBindingMode: &immediate,
		ReclaimPolicy:     &reclaim,
	}
	if _, err := kube.StorageV1().StorageClasses().Create(ctx, class, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(kube, 0)
	c := New(ctx, kube, factory, volumes, 2)
	factory.Start(ctx.Done())
	go func() { _ = c.Run(ctx, 2) }()

	ns := "storage"
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: &class.Name,
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Mi")}},
		},
	}
	if _, err := kube.CoreV1().PersistentVolumeClaims(ns).Create(ctx, claim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pv *corev1.PersistentVolume
	eventually(t, 90*time.Second, func() error {
		got, err := kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got.Status.Phase != corev1.ClaimBound {
			return fmt.Errorf("claim is %s", got.Status.Phase)
		}
		pv, err = kube.CoreV1().PersistentVolumes().Get(ctx, got.Spec.VolumeName, metav1.GetOptions{})
		return err
	})
	dir := filepath.Join(volumes.Root(), pv.Name)
	if pv.Spec.Local == nil || pv.Spec.Local.Path != dir {
		t.Fatalf("PV %s source = %+v, want local %s", pv.Name, pv.Spec.PersistentVolumeSource, dir)
	}
	if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		t.Errorf("reclaim policy %s, want Delete", pv.Spec.PersistentVolumeReclaimPolicy)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("volume directory %s: %v, %v", dir, fi, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data"), []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}

	if err := kube.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, claim.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, func() error {
		if _, err := kube.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("PV %s is still there (%v)", pv.Name, err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("volume directory %s is still there (%v)", dir, err)
		}
		return nil
	})

	// A released PV that says the provisioner made it, with a path it did
	// not make: the deletion is refused and the directory stays.
	outside := filepath.Join(base, "outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "precious"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	crafted := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        "crafted",
			Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": ProvisionerName},
		},
		Spec: corev1.PersistentVolumeSpec{
			StorageClassName:              class.Name,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Mi")},
			PersistentVolumeSource:        corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: outside}},
			// Bound to a claim that is gone: the binder releases it and
			// asks for its deletion.
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: ns, Name: "gone", UID: "00000000-0000-0000-0000-000000000001"},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: hostnameLabel, Operator: corev1.NodeSelectorOpIn, Values: []string{server.NodeName}}},
			}}}},
		},
	}
	if _, err := kube.CoreV1().PersistentVolumes().Create(ctx, crafted, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 90*time.Second, func() error {
		events, err := kube.CoreV1().Events(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
			FieldSelector: fields.AndSelectors(
				fields.OneTermEqualSelector("involvedObject.name", crafted.Name),
				fields.OneTermEqualSelector("reason", "VolumeFailedDelete")).String(),
		})
		if err != nil {
			return err
		}
		if len(events.Items) == 0 {
			return errors.New("no VolumeFailedDelete event for the crafted PV yet")
		}
		t.Logf("crafted PV: %s", events.Items[0].Message)
		return nil
	})
	if _, err := os.Stat(filepath.Join(outside, "precious")); err != nil {
		t.Fatalf("the crafted PV's directory was touched: %v", err)
	}
	if _, err := kube.CoreV1().PersistentVolumes().Get(ctx, crafted.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("the crafted PV: %v", err)
	}
}
