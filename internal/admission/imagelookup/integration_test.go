package imagelookup_test

import (
	"context"
	"testing"
	"time"

	appsv1 "github.com/openshift/api/apps/v1"
	imagev1 "github.com/openshift/api/image/v1"
	appsclient "github.com/openshift/client-go/apps/clientset/versioned"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	kappsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/slipway-dev/slipway/internal/testserver"
)

// TestServerResolvesLocalNames runs the plugin inside the real API server:
// a Pod and a DeploymentConfig naming "mytime:latest" are stored with the
// pull spec the internal registry mapped into the stream, and a stream
// tagged with a DockerImage reference resolves to that reference.
func TestServerResolvesLocalNames(t *testing.T) {
	s := testserver.Start(t, testserver.Options{RegistryHostname: "registry.test:5000"})
	ctx := context.Background()
	kube := kubernetes.NewForConfigOrDie(s.Admin)
	images := imageclient.NewForConfigOrDie(s.Admin)
	apps := appsclient.NewForConfigOrDie(s.Admin)
	const ns = "lookup"
	for _, name := range []string{ns, "elsewhere"} {
		if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// Pods need the namespaces' default service accounts, which
	// kube-controller-manager makes a moment after the namespaces.
	for _, name := range []string{ns, "elsewhere"} {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			_, err := kube.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
			return err == nil, nil
		})
		if err != nil {
			t.Fatalf("no default service account in %s: %v", name, err)
		}
	}
	for _, name := range []string{"mytime", "external"} {
		is := &imagev1.ImageStream{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       imagev1.ImageStreamSpec{LookupPolicy: imagev1.ImageLookupPolicy{Local: true}},
		}
		if _, err := images.ImageV1().ImageStreams(ns).Create(ctx, is, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// What the internal registry posts when mytime:latest is pushed.
	const digest = "sha256:3f1b5c1e9a0d3c4e2b7a6f5d4c3b2a1908f7e6d5c4b3a29181706f5e4d3c2b1a"
	pushed := "registry.test:5000/" + ns + "/mytime@" + digest
	mapping := &imagev1.ImageStreamMapping{
		ObjectMeta: metav1.ObjectMeta{Name: "mytime", Namespace: ns},
		Image:      imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: digest}, DockerImageReference: pushed},
		Tag:        "latest",
	}
	if _, err := images.ImageV1().ImageStreamMappings(ns).Create(ctx, mapping, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// `oc tag --reference docker.io/library/busybox:1.36 external:v1`.
	const external = "docker.io/library/busybox:1.36"
	istag := &imagev1.ImageStreamTag{
		ObjectMeta: metav1.ObjectMeta{Name: "external:v1"},
		Tag: &imagev1.TagReference{
			Name:      "v1",
			From:      &corev1.ObjectReference{Kind: "DockerImage", Name: external},
			Reference: true,
		},
	}
	if _, err := images.ImageV1().ImageStreamTags(ns).Create(ctx, istag, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	noToken := false
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Spec: corev1.PodSpec{
			// The namespace's default service account may not exist yet.
			AutomountServiceAccountToken: &noToken,
			InitContainers:               []corev1.Container{{Name: "init", Image: "external:v1"}},
			Containers: []corev1.Container{
				{Name: "app", Image: "mytime:latest"},
				{Name: "other", Image: "busybox"},
			},
		},
	}
	created, err := kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := kube.CoreV1().Pods(ns).Get(ctx, created.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := stored.Spec.Containers[0].Image; got != pushed {
		t.Errorf("stored pod image = %q, want %q", got, pushed)
	}
	if got := stored.Spec.InitContainers[0].Image; got != external {
		t.Errorf("stored init container image = %q, want %q", got, external)
	}
	if got := stored.Spec.Containers[1].Image; got != "busybox" {
		t.Errorf("image of no stream = %q, want busybox unchanged", got)
	}

	// Another namespace does not see the streams.
	elsewhere, err := kube.CoreV1().Pods("elsewhere").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := elsewhere.Spec.Containers[0].Image; got != "mytime:latest" {
		t.Errorf("pod in another namespace: image = %q, want it unchanged", got)
	}

	// Kubernetes' workloads go through the webhook the server registers.
	replicas := int32(0)
	deployment := &kappsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Spec: kappsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "app"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "app"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "mytime:latest"}, {Name: "other", Image: "busybox"}}},
			},
		},
	}
	storedDeployment, err := kube.AppsV1().Deployments(ns).Create(ctx, deployment, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := storedDeployment.Spec.Template.Spec.Containers[0].Image; got != pushed {
		t.Errorf("stored Deployment template image = %q, want %q", got, pushed)
	}
	if got := storedDeployment.Spec.Template.Spec.Containers[1].Image; got != "busybox" {
		t.Errorf("Deployment image of no stream = %q, want busybox unchanged", got)
	}

	dc := &appsv1.DeploymentConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Spec: appsv1.DeploymentConfigSpec{
			Replicas: 1,
			Selector: map[string]string{"app": "app"},
			Triggers: []appsv1.DeploymentTriggerPolicy{{Type: appsv1.DeploymentTriggerOnConfigChange}},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "app"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "mytime"}}},
			},
		},
	}
	storedDC, err := apps.AppsV1().DeploymentConfigs(ns).Create(ctx, dc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := storedDC.Spec.Template.Spec.Containers[0].Image; got != pushed {
		t.Errorf("stored DC template image = %q, want %q", got, pushed)
	}
}
