package hostprocess

import (
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func buildPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "time-1-build", Namespace: "p",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "build.openshift.io/v1", Kind: "Build", Name: "time-1", UID: "u1"}}},
		Spec: corev1.PodSpec{ServiceAccountName: "builder", Containers: []corev1.Container{{
			Name: "docker-build", Image: "slipway", Command: []string{"slipway", "builder"},
			Env: []corev1.EnvVar{{Name: "BUILD", Value: `{"kind":"Build"}`}},
		}}},
	}
}

// TestSignedPodsOnly: what the controllers signed verifies, and what
// admission adds (volumes, mounts) does not matter; any change an attacker
// would make to run something else on the host, or no signature, or
// another Slipway's key, is refused.
func TestSignedPodsOnly(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key")
	key, err := LoadOrCreateKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 || len(key) != 32 {
		t.Fatalf("key file: %v, %d bytes; want 32 bytes, mode 0600", err, len(key))
	}
	if again, err := LoadOrCreateKey(keyFile); err != nil || string(again) != string(key) {
		t.Fatalf("the key read again differs (%v)", err)
	}
	signer, err := NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	pod := buildPod()
	if err := signer.Sign(pod); err != nil {
		t.Fatal(err)
	}
	admitted := pod.DeepCopy()
	admitted.Spec.Volumes = append(admitted.Spec.Volumes, corev1.Volume{Name: "kube-api-access"})
	admitted.Spec.Containers[0].VolumeMounts = append(admitted.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "kube-api-access", MountPath: "/var/run/secrets"})
	admitted.Spec.NodeName = "node"
	if err := signer.Verify(admitted); err != nil {
		t.Fatalf("the signed pod, as admission and the scheduler leave it: %v", err)
	}

	other, _ := NewSigner([]byte("another slipway's key, 32 bytes long"))
	for name, change := range map[string]func(*corev1.Pod){
		"unsigned":          func(p *corev1.Pod) { delete(p.Annotations, SignatureAnnotation) },
		"garbage signature": func(p *corev1.Pod) { p.Annotations[SignatureAnnotation] = "!!" },
		"env":               func(p *corev1.Pod) { p.Spec.Containers[0].Env[0].Value = `{"kind":"Build","evil":true}` },
		"added env": func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: "PUSH_DOCKERCFG_PATH", Value: "/"})
		},
		"command":           func(p *corev1.Pod) { p.Spec.Containers[0].Command = []string{"slipway", "deployer"} },
		"args":              func(p *corev1.Pod) { p.Spec.Containers[0].Args = []string{"--kubeconfig=/admin.kubeconfig"} },
		"another namespace": func(p *corev1.Pod) { p.Namespace = "victim" },
		"another owner":     func(p *corev1.Pod) { p.OwnerReferences[0].UID = "u2" },
		"another account":   func(p *corev1.Pod) { p.Spec.ServiceAccountName = "deployer" },
		"an init container": func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "x", Command: []string{"slipway", "get", "secrets"}}}
		},
		"another key": func(p *corev1.Pod) {
			if err := other.Sign(p); err != nil {
				t.Fatal(err)
			}
		},
	} {
		p := pod.DeepCopy()
		change(p)
		if err := signer.Verify(p); err == nil {
			t.Errorf("%s: verified", name)
		}
	}

}
