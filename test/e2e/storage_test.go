package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/slipway-dev/slipway/internal/builder/build/buildtest"
)

// TestStatefulSetKeepsItsVolume: a StatefulSet's volumeClaimTemplate gets a
// volume from the default StorageClass (local, provisioned once the pod is
// scheduled), the pod writes into it, and the pod the StatefulSet
// controller makes after the first is deleted finds what it wrote.
// Deleting the claim removes the volume and its directory.
func TestStatefulSetKeepsItsVolume(t *testing.T) {
	requireAppPods(t)
	for _, bin := range []string{"runc", "docker-registry", "htpasswd", "busybox"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (hack/install-deps.sh)", bin)
		}
	}
	hub := buildtest.StartRegistry(t, hubUser, hubPassword)
	busybox := buildtest.PushBusybox(t, hub)
	s := startServer(t, "--registry-ca", hub.Host+"="+hub.CAFile)
	c := s.newCLI()
	kube := kubernetes.NewForConfigOrDie(s.restConfig())
	ctx := context.Background()
	ns, name := "storage", "web"
	c.run("new-project", ns)
	c.run("create", "secret", "docker-registry", "dockerhub", "--docker-server="+hub.Host,
		"--docker-username="+hubUser, "--docker-password="+hubPassword)
	c.run("secrets", "link", "default", "dockerhub", "--for=pull")

	class, err := kube.StorageV1().StorageClasses().Get(ctx, "local", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if class.Annotations["storageclass.kubernetes.io/is-default-class"] != "true" || class.Provisioner != "slipway.dev/local" {
		t.Fatalf("StorageClass local is not the default local one: %+v", class)
	}

	labels := map[string]string{"app": name}
	replicas := int32(1)
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    &replicas,
			ServiceName: name,
			Selector:    &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					// Not root: restricted-v2 runs the pod as the project's
					// UID with its fsGroup, through which the volume is
					// writable.
					Containers: []corev1.Container{{
						Name:  "web",
						Image: busybox,
						// The first pod writes a token; every pod serves the
						// volume on :8080.
						Command: []string{"sh", "-c", "[ -f /data/token ] || cat /proc/sys/kernel/random/uuid > /data/token; echo $HOSTNAME >> /data/starts; exec httpd -f -p 8080 -h /data"},
						Ports:   []corev1.ContainerPort{{ContainerPort: 8080}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/token", Port: intstr.FromInt32(8080)}},
							PeriodSeconds: 1,
						},
						VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
					}},
				},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("64Mi")}},
				},
			}},
		},
	}
	if _, err := kube.AppsV1().StatefulSets(ns).Create(ctx, sts, createOpts); err != nil {
		t.Fatal(err)
	}
	pod := name + "-0"
	first, token := serveToken(t, kube, ns, pod, "", 3*time.Minute)
	t.Logf("pod %s (%s) wrote token %q", pod, first, token)

	claim, err := kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data-"+pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if claim.Spec.StorageClassName == nil || *claim.Spec.StorageClassName != "local" {
		t.Errorf("claim %s has class %v, want the default, local", claim.Name, claim.Spec.StorageClassName)
	}
	pv, err := kube.CoreV1().PersistentVolumes().Get(ctx, claim.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(s.dataDir, "volumes", pv.Name)
	if pv.Spec.Local == nil || pv.Spec.Local.Path != dir {
		t.Fatalf("PV %s source %+v, want local %s", pv.Name, pv.Spec.PersistentVolumeSource, dir)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "token")); err != nil || strings.TrimSpace(string(b)) != token {
		t.Errorf("%s/token = %q, %v; want %q", dir, b, err, token)
	}

	if err := kube.CoreV1().Pods(ns).Delete(ctx, pod, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	second, again := serveToken(t, kube, ns, pod, first, 3*time.Minute)
	if again != token {
		t.Fatalf("the recreated pod %s (%s) serves token %q, want %q: the volume did not survive", pod, second, again, token)
	}
	starts, err := httpGetPod(t, kube, ns, pod, "/starts")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(starts, pod); n != 2 {
		t.Errorf("the volume saw %d starts, want 2:\n%s", n, starts)
	}

	// Claims outlive their StatefulSet; deleting the claim deletes the
	// volume (reclaim policy Delete) and its directory.
	if err := kube.AppsV1().StatefulSets(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, func() error {
		_, err := kube.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("pod %s is still there (%v)", pod, err)
		}
		return nil
	})
	if err := kube.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, claim.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, func() error {
		if _, err := kube.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("PV %s is still there (%v)", pv.Name, err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s is still there (%v)", dir, err)
		}
		return nil
	})
}

// serveToken waits for pod name, other than the one with UID not, to be
// Ready and returns its UID and the token it serves.
func serveToken(t *testing.T, kube kubernetes.Interface, ns, name string, not types.UID, timeout time.Duration) (types.UID, string) {
	t.Helper()
	var uid types.UID
	var token string
	eventually(t, timeout, func() error {
		p, err := kube.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.UID == not {
			return fmt.Errorf("pod %s is still the deleted one", name)
		}
		ready := false
		for _, c := range p.Status.Conditions {
			ready = ready || (c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue)
		}
		if !ready || p.DeletionTimestamp != nil {
			return fmt.Errorf("pod %s is not ready: %s %+v", name, p.Status.Phase, p.Status.Conditions)
		}
		got, err := httpGet("http://" + net.JoinHostPort(p.Status.PodIP, "8080") + "/token")
		if err != nil {
			return err
		}
		uid, token = p.UID, strings.TrimSpace(got)
		return nil
	})
	return uid, token
}

// httpGetPod answers GET path on pod name's :8080.
func httpGetPod(t *testing.T, kube kubernetes.Interface, ns, name, path string) (string, error) {
	t.Helper()
	p, err := kube.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	return httpGet("http://" + net.JoinHostPort(p.Status.PodIP, "8080") + path)
}
