package server

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	appsclient "github.com/openshift/client-go/apps/clientset/versioned"
	buildclient "github.com/openshift/client-go/build/clientset/versioned"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	projectclient "github.com/openshift/client-go/project/clientset/versioned"
	kappsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	"github.com/slipway-dev/slipway/internal/controlplane"
	"github.com/slipway-dev/slipway/internal/testserver"
)

// TestOnlyControllersMakeHostProcessPods reproduces an attack: a project's
// service account with edit rights creates a pod annotated to run as a host
// process of the node (outside any container, next to the server's data
// directory). The policy the server installs refuses it; Slipway's
// controllers' identity may.
func TestOnlyControllersMakeHostProcessPods(t *testing.T) {
	const ns = "attacker"
	s, admin := serverWithNamespace(t, ns)
	ctx := context.Background()
	sa := editor(t, s, admin, ns)

	pod := func(name string, annotations map[string]string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "x", Image: "busybox", Command: []string{"slipway", "--kubeconfig=../../../../admin.kubeconfig", "get", "secrets", "-A"},
			}}},
		}
	}
	hostProcess := map[string]string{"slipway.dev/host-process": "true"}
	// The policy may take a moment to be enforced after the server starts.
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := sa.CoreV1().Pods(ns).Create(ctx, pod("escape", hostProcess), metav1.CreateOptions{})
		if err == nil {
			_ = admin.CoreV1().Pods(ns).Delete(ctx, "escape", metav1.DeleteOptions{})
			return false, nil
		}
		return apierrors.IsForbidden(err) && strings.Contains(err.Error(), "host processes"), nil
	})
	if err != nil {
		t.Fatalf("a service account could create a host-process pod: %v", err)
	}
	// Adding the annotation later is refused as well.
	if _, err := sa.CoreV1().Pods(ns).Create(ctx, pod("plain", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal("a plain pod:", err)
	}
	// The scheduler may bind the pod meanwhile: update the latest copy.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		plain, err := sa.CoreV1().Pods(ns).Get(ctx, "plain", metav1.GetOptions{})
		if err != nil {
			return err
		}
		plain.Annotations = hostProcess
		_, err = sa.CoreV1().Pods(ns).Update(ctx, plain, metav1.UpdateOptions{})
		return err
	})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("annotating a pod as host process: %v, want 403", err)
	}
	// Slipway's controllers' identity may.
	controllers := kubernetes.NewForConfigOrDie(s.ClientConfig(t, controlplane.OpenShiftControllersUser))
	if _, err := controllers.CoreV1().Pods(ns).Create(ctx, pod("build", hostProcess), metav1.CreateOptions{}); err != nil {
		t.Fatalf("the controllers creating a host-process pod: %v", err)
	}
}

// editor returns a client acting as the default service account of ns,
// given edit there: what a project's workloads hold.
func editor(t *testing.T, s *testserver.Server, admin kubernetes.Interface, ns string) kubernetes.Interface {
	return kubernetes.NewForConfigOrDie(editorConfig(t, s, admin, ns))
}

// editorConfig is editor's client configuration.
func editorConfig(t *testing.T, s *testserver.Server, admin kubernetes.Interface, ns string) *rest.Config {
	t.Helper()
	ctx := context.Background()
	edit := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "default-edit", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "default", Namespace: ns}},
	}
	if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, edit, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	expiry := int64(600)
	tr, err := admin.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "default", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	saConfig := rest.AnonymousClientConfig(s.Admin)
	saConfig.BearerToken = tr.Status.Token
	return saConfig
}

// TestServiceAccountsKeepTheirProject reproduces an attack on the old core:
// a project's service account (here even with edit) deleted its own
// project, or finalized its namespace so that the cleanup of what was in
// it was skipped. Neither the namespace, the project nor the finalize
// subresource is an editor's to change.
func TestServiceAccountsKeepTheirProject(t *testing.T) {
	const ns = "victim"
	s, admin := serverWithNamespace(t, ns)
	ctx := context.Background()
	cfg := editorConfig(t, s, admin, ns)
	sa := kubernetes.NewForConfigOrDie(cfg)
	eventuallyAllowed(t, func() error {
		_, err := sa.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		return err
	})
	if err := sa.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("an editor deleting its namespace: %v, want 403", err)
	}
	if err := projectclient.NewForConfigOrDie(cfg).ProjectV1().Projects().Delete(ctx, ns, metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("an editor deleting its project: %v, want 403", err)
	}
	current, err := admin.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	current.Spec.Finalizers = nil
	if _, err := sa.CoreV1().Namespaces().Finalize(ctx, current, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("an editor finalizing its namespace: %v, want 403", err)
	}
	if got, err := admin.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil || got.DeletionTimestamp != nil || len(got.Spec.Finalizers) == 0 {
		t.Errorf("the namespace after the attempts: %+v, %v; want it untouched", got, err)
	}
}

// eventuallyAllowed waits until f, a request a new RoleBinding allows,
// is no longer refused (RBAC's caches take a moment).
func eventuallyAllowed(t *testing.T, f func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err = f(); err == nil {
			return
		}
	}
	t.Fatalf("the binding never took effect: %v", err)
}

// TestOnlyAdminsSetExternalIPs reproduces an attack: a project's editor
// gives a Service externalIPs (the node would answer on any address it
// names, another project's or the host's). Refused; a cluster admin may,
// and the editor may still change such a Service if the list stays.
func TestOnlyAdminsSetExternalIPs(t *testing.T) {
	const ns = "ips"
	s, admin := serverWithNamespace(t, ns)
	ctx := context.Background()
	sa := editor(t, s, admin, ns)
	service := func(name string, ips ...string) *corev1.Service {
		return &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name}, ExternalIPs: ips,
				Ports: []corev1.ServicePort{{Port: 8080}}},
		}
	}
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := sa.CoreV1().Services(ns).Create(ctx, service("grab", "192.168.1.10"), metav1.CreateOptions{})
		if err == nil {
			_ = admin.CoreV1().Services(ns).Delete(ctx, "grab", metav1.DeleteOptions{})
			return false, nil
		}
		return apierrors.IsForbidden(err) && strings.Contains(err.Error(), "externalIPs"), nil
	})
	if err != nil {
		t.Fatalf("a project's editor gave a Service externalIPs: %v", err)
	}
	if _, err := sa.CoreV1().Services(ns).Create(ctx, service("plain"), metav1.CreateOptions{}); err != nil {
		t.Fatal("a Service without externalIPs:", err)
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		plain, err := sa.CoreV1().Services(ns).Get(ctx, "plain", metav1.GetOptions{})
		if err != nil {
			return err
		}
		plain.Spec.ExternalIPs = []string{"10.0.0.1"}
		_, err = sa.CoreV1().Services(ns).Update(ctx, plain, metav1.UpdateOptions{})
		return err
	})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("adding externalIPs to a Service: %v, want 403", err)
	}
	if _, err := admin.CoreV1().Services(ns).Create(ctx, service("granted", "10.0.0.2"), metav1.CreateOptions{}); err != nil {
		t.Fatal("the admin setting externalIPs:", err)
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		granted, err := sa.CoreV1().Services(ns).Get(ctx, "granted", metav1.GetOptions{})
		if err != nil {
			return err
		}
		granted.Labels = map[string]string{"changed": "by-the-editor"}
		_, err = sa.CoreV1().Services(ns).Update(ctx, granted, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("the editor changing a Service whose externalIPs the admin set: %v", err)
	}
}

// TestPodSecurityBaselineByDefault: a namespace's pods may not reach the
// host (hostPath, privileged, host namespaces) unless a cluster admin
// labels the namespace privileged.
func TestPodSecurityBaselineByDefault(t *testing.T) {
	const ns = "hostile"
	_, admin := serverWithNamespace(t, ns)
	ctx := context.Background()
	privileged := true
	pods := map[string]corev1.PodSpec{
		"hostpath": {
			Volumes:    []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}},
			Containers: []corev1.Container{{Name: "x", Image: "busybox", VolumeMounts: []corev1.VolumeMount{{Name: "root", MountPath: "/host"}}}},
		},
		"privileged":  {Containers: []corev1.Container{{Name: "x", Image: "busybox", SecurityContext: &corev1.SecurityContext{Privileged: &privileged}}}},
		"hostnetwork": {HostNetwork: true, Containers: []corev1.Container{{Name: "x", Image: "busybox"}}},
		// A host port DNATs the host's traffic to it (the internal
		// registry's, with the tokens pushes carry).
		"hostport": {Containers: []corev1.Container{{Name: "x", Image: "busybox", Ports: []corev1.ContainerPort{{ContainerPort: 5000, HostPort: 5000}}}}},
	}
	for name, spec := range pods {
		_, err := admin.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}, metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "PodSecurity") {
			t.Errorf("%s pod: %v, want refused by PodSecurity", name, err)
		}
	}
	nsObj, err := admin.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nsObj.Labels["pod-security.kubernetes.io/enforce"] = "privileged"
	if _, err := admin.CoreV1().Namespaces().Update(ctx, nsObj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Pod Security reads the namespace's labels from its cache: a moment.
	var lastErr error
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 15*time.Second, true, func(ctx context.Context) (bool, error) {
		_, lastErr = admin.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hostpath"}, Spec: pods["hostpath"]}, metav1.CreateOptions{})
		return lastErr == nil, nil
	}); err != nil {
		t.Fatalf("a hostPath pod in a namespace the admin made privileged: %v", lastErr)
	}
}

// serverWithNamespace starts a test server with namespace ns, once its
// default service account (kube-controller-manager's) exists, and returns
// the server and an admin client.
func serverWithNamespace(t *testing.T, ns string) (*testserver.Server, kubernetes.Interface) {
	t.Helper()
	s := testserver.Start(t, testserver.Options{})
	ctx := context.Background()
	admin := kubernetes.NewForConfigOrDie(s.Admin)
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := admin.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		t.Fatal("no default service account:", err)
	}
	return s, admin
}

// TestCrossProjectTagNeedsReadAccess reproduces an attack: a project's
// editor tags another project's image into its own stream (from
// ImageStreamTag victim/app:latest) and gets its metadata and pull spec.
// As OpenShift, the requester must be allowed imagestreams/layers in the
// source namespace (system:image-puller gives it).
func TestCrossProjectTagNeedsReadAccess(t *testing.T) {
	const ns, victim = "attacker", "victim"
	s, admin := serverWithNamespace(t, ns)
	ctx := context.Background()
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: victim}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	adminImages := imageclient.NewForConfigOrDie(s.Admin).ImageV1()
	secret := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{
		Name: "latest", Reference: true, From: &corev1.ObjectReference{Kind: "DockerImage", Name: "registry.victim.example/secret/app@sha256:" + strings.Repeat("a", 64)},
	}}}}
	if _, err := adminImages.ImageStreams(victim).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	editorCfg := editorConfig(t, s, admin, ns)
	images := imageclient.NewForConfigOrDie(editorCfg).ImageV1()
	steal := func(name string) (*imagev1.ImageStream, error) {
		return images.ImageStreams(ns).Create(ctx, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{
			Name: "latest", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Namespace: victim, Name: "app:latest"},
		}}}}, metav1.CreateOptions{})
	}
	eventuallyAllowed(t, func() error {
		_, err := images.ImageStreams(ns).List(ctx, metav1.ListOptions{})
		return err
	})
	if got, err := steal("loot"); err == nil {
		t.Fatalf("an editor tagged another project's image into its stream: %+v", got.Status.Tags)
	} else if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), victim+"/app") {
		t.Fatalf("tagging another project's image: %v; want it refused naming %s/app", err, victim)
	}
	// Builds and rollouts that follow the victim's image are refused too.
	victimTag := &corev1.ObjectReference{Kind: "ImageStreamTag", Namespace: victim, Name: "app:latest"}
	bc := &buildv1.BuildConfig{ObjectMeta: metav1.ObjectMeta{Name: "follow"}, Spec: buildv1.BuildConfigSpec{CommonSpec: buildv1.CommonSpec{
		Source:   buildv1.BuildSource{Type: buildv1.BuildSourceDockerfile, Dockerfile: ptrString("FROM scratch")},
		Strategy: buildv1.BuildStrategy{Type: buildv1.DockerBuildStrategyType, DockerStrategy: &buildv1.DockerBuildStrategy{From: victimTag}},
	}}}
	if _, err := buildclient.NewForConfigOrDie(editorCfg).BuildV1().BuildConfigs(ns).Create(ctx, bc, metav1.CreateOptions{}); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), victim+"/app") {
		t.Errorf("a build config from another project's image: %v; want 403 naming %s/app", err, victim)
	}
	dc := &appsv1.DeploymentConfig{ObjectMeta: metav1.ObjectMeta{Name: "follow"}, Spec: appsv1.DeploymentConfigSpec{
		Replicas: 1, Selector: map[string]string{"app": "follow"},
		Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "follow"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}}},
		Triggers: appsv1.DeploymentTriggerPolicies{{Type: appsv1.DeploymentTriggerOnImageChange, ImageChangeParams: &appsv1.DeploymentTriggerImageChangeParams{
			Automatic: true, ContainerNames: []string{"app"}, From: *victimTag}}},
	}}
	if _, err := appsclient.NewForConfigOrDie(editorCfg).AppsV1().DeploymentConfigs(ns).Create(ctx, dc, metav1.CreateOptions{}); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), victim+"/app") {
		t.Errorf("a deployment config following another project's image: %v; want 403 naming %s/app", err, victim)
	}
	// So is a Kubernetes Deployment whose trigger annotation follows it.
	deployment := func(name string) *kappsv1.Deployment {
		labels := map[string]string{"app": name}
		return &kappsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{
				"image.openshift.io/triggers": `[{"from":{"kind":"ImageStreamTag","name":"app:latest","namespace":"` + victim + `"},"fieldPath":"spec.template.spec.containers[?(@.name==\"app\")].image"}]`,
			}},
			Spec: kappsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}}}},
		}
	}
	editorKube := kubernetes.NewForConfigOrDie(editorCfg)
	if _, err := editorKube.AppsV1().Deployments(ns).Create(ctx, deployment("follow"), metav1.CreateOptions{}); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), victim+"/app") {
		t.Errorf("a deployment whose trigger follows another project's image: %v; want 403 naming %s/app", err, victim)
	}
	plain := deployment("later")
	delete(plain.Annotations, "image.openshift.io/triggers")
	if _, err := editorKube.AppsV1().Deployments(ns).Create(ctx, plain, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	plain.Annotations = deployment("later").Annotations
	if _, err := editorKube.AppsV1().Deployments(ns).Update(ctx, plain, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("adding such a trigger to a deployment: %v; want 403", err)
	}

	// Given pull rights in the victim's project, the same tag is fine.
	puller := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "attacker-puller", Namespace: victim},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:image-puller"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "default", Namespace: ns}},
	}
	if _, err := admin.RbacV1().RoleBindings(victim).Create(ctx, puller, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var shared *imagev1.ImageStream
	eventuallyAllowed(t, func() error {
		var err error
		shared, err = steal("shared")
		return err
	})
	if len(shared.Status.Tags) != 1 || len(shared.Status.Tags[0].Items) != 1 {
		t.Errorf("the allowed tag was not resolved: %+v", shared.Status.Tags)
	}
	if _, err := buildclient.NewForConfigOrDie(editorCfg).BuildV1().BuildConfigs(ns).Create(ctx, bc, metav1.CreateOptions{}); err != nil {
		t.Errorf("a build config from an image the editor may pull: %v", err)
	}
	if _, err := editorKube.AppsV1().Deployments(ns).Create(ctx, deployment("follow"), metav1.CreateOptions{}); err != nil {
		t.Errorf("a deployment following an image the editor may pull: %v", err)
	}
	// The openshift namespace's streams are everyone's, as on OpenShift.
	builder := secret.DeepCopy()
	builder.Name = "builder-image"
	if _, err := adminImages.ImageStreams("openshift").Create(ctx, builder, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := images.ImageStreams(ns).Create(ctx, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "base"}, Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{
		Name: "latest", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Namespace: "openshift", Name: "builder-image:latest"},
	}}}}, metav1.CreateOptions{}); err != nil {
		t.Errorf("tagging an image of the openshift namespace: %v", err)
	}
}

func ptrString(s string) *string { return &s }
