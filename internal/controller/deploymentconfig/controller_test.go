package deploymentconfig

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "github.com/openshift/api/apps/v1"
	appsclient "github.com/openshift/client-go/apps/clientset/versioned"
	appsinformers "github.com/openshift/client-go/apps/informers/externalversions"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	"github.com/slipway-dev/slipway/internal/deployutil"
	"github.com/slipway-dev/slipway/internal/node"
	"github.com/slipway-dev/slipway/internal/testserver"
)

var (
	kube kubernetes.Interface
	apps appsclient.Interface
)

// controllersUser is the identity of Slipway's controllers
// (controlplane.OpenShiftControllersUser).
const controllersUser = "system:openshift-controller-manager"

// TestMain runs the controller against one real API server. No node agent
// runs: tests write the deployer pod's status as the agent would.
func TestMain(m *testing.M) {
	testserver.Main(m, testserver.Options{}, func(s *testserver.Server) {
		kube = kubernetes.NewForConfigOrDie(s.Admin)
		apps = appsclient.NewForConfigOrDie(s.Admin)
		// The controller acts as Slipway's controllers do: only that
		// identity may create deployer pods (host processes).
		cfg := rest.CopyConfig(s.Admin)
		cfg.Impersonate.UserName = controllersUser
		controllerKube := kubernetes.NewForConfigOrDie(cfg)
		controllerApps := appsclient.NewForConfigOrDie(cfg)
		kubeInformers := informers.NewSharedInformerFactory(controllerKube, 0)
		appsInformers := appsinformers.NewSharedInformerFactory(controllerApps, 0)
		c := New(controllerApps, controllerKube, Informers{
			DeploymentConfigs:      appsInformers.Apps().V1().DeploymentConfigs(),
			ReplicationControllers: kubeInformers.Core().V1().ReplicationControllers(),
			Pods:                   kubeInformers.Core().V1().Pods(),
		})
		ctx := context.Background()
		kubeInformers.Start(ctx.Done())
		appsInformers.Start(ctx.Done())
		go func() { _ = c.Run(ctx, 2) }()
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// namespace creates a namespace with the deployer service account the
// deployer pods run as (Slipway's service account controller makes it in a
// real cluster; ServiceAccount admission refuses pods without it).
func namespace(t *testing.T, name string) string {
	t.Helper()
	ctx := context.Background()
	_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	must(t, err)
	_, err = kube.CoreV1().ServiceAccounts(name).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: DeployerServiceAccount}}, metav1.CreateOptions{})
	must(t, err)
	return name
}

func newDC(ns, name string) *appsv1.DeploymentConfig {
	return &appsv1.DeploymentConfig{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}},
		Spec: appsv1.DeploymentConfigSpec{
			Replicas: 2,
			Selector: map[string]string{"app": name},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}, Annotations: map[string]string{"note": "x"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "registry.test/app:1"}}},
			},
		},
	}
}

func createDC(t *testing.T, dc *appsv1.DeploymentConfig) *appsv1.DeploymentConfig {
	t.Helper()
	created, err := apps.AppsV1().DeploymentConfigs(dc.Namespace).Create(context.Background(), dc, metav1.CreateOptions{})
	must(t, err)
	return created
}

// editDC applies edit to the stored DeploymentConfig, retrying conflicts
// with the controller's status writes.
func editDC(t *testing.T, ns, name string, edit func(*appsv1.DeploymentConfig)) {
	t.Helper()
	must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		dc, err := apps.AppsV1().DeploymentConfigs(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		edit(dc)
		_, err = apps.AppsV1().DeploymentConfigs(ns).Update(context.Background(), dc, metav1.UpdateOptions{})
		return err
	}))
}

func editRC(t *testing.T, ns, name string, edit func(*corev1.ReplicationController)) {
	t.Helper()
	must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		rc, err := kube.CoreV1().ReplicationControllers(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		edit(rc)
		_, err = kube.CoreV1().ReplicationControllers(ns).Update(context.Background(), rc, metav1.UpdateOptions{})
		return err
	}))
}

func poll(t *testing.T, what string, cond func(ctx context.Context) error) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		last = cond(ctx)
		return last == nil, nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, last)
	}
}

func waitDC(t *testing.T, ns, name, what string, cond func(*appsv1.DeploymentConfig) bool) *appsv1.DeploymentConfig {
	t.Helper()
	var dc *appsv1.DeploymentConfig
	poll(t, what, func(ctx context.Context) error {
		var err error
		dc, err = apps.AppsV1().DeploymentConfigs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !cond(dc) {
			return fmt.Errorf("status %+v", dc.Status)
		}
		return nil
	})
	return dc
}

func waitRC(t *testing.T, ns, name, what string, cond func(*corev1.ReplicationController) bool) *corev1.ReplicationController {
	t.Helper()
	var rc *corev1.ReplicationController
	poll(t, name+" "+what, func(ctx context.Context) error {
		var err error
		rc, err = kube.CoreV1().ReplicationControllers(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !cond(rc) {
			return fmt.Errorf("annotations %v, replicas %v", rc.Annotations, *rc.Spec.Replicas)
		}
		return nil
	})
	return rc
}

func phase(p appsv1.DeploymentStatus) func(*corev1.ReplicationController) bool {
	return func(rc *corev1.ReplicationController) bool { return deployutil.PhaseFor(rc) == p }
}

func progressing(reason appsv1.DeploymentConditionReason, status corev1.ConditionStatus) func(*appsv1.DeploymentConfig) bool {
	return func(dc *appsv1.DeploymentConfig) bool {
		c := deployutil.Condition(&dc.Status, appsv1.DeploymentProgressing)
		return c != nil && c.Reason == string(reason) && c.Status == status
	}
}

// setPodPhase writes the deployer pod's phase as the node agent would.
func setPodPhase(t *testing.T, ns, name string, p corev1.PodPhase) {
	t.Helper()
	poll(t, "pod "+name+" "+string(p), func(ctx context.Context) error {
		pod, err := kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		pod.Status.Phase = p
		_, err = kube.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	})
}

// complete runs version n of dc "name" to Complete as a deployer would.
func complete(t *testing.T, ns, name string, n int64) {
	t.Helper()
	rc := deployutil.DeploymentName(name, n)
	waitRC(t, ns, rc, "Pending", phase(appsv1.DeploymentStatusPending))
	setPodPhase(t, ns, deployutil.DeployerPodName(rc), corev1.PodSucceeded)
	waitRC(t, ns, rc, "Complete", phase(appsv1.DeploymentStatusComplete))
}

func TestConfigChangeRollout(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "dc-config")
	dc := createDC(t, newDC(ns, "web"))

	dc = waitDC(t, ns, "web", "version 1", func(dc *appsv1.DeploymentConfig) bool { return dc.Status.LatestVersion == 1 })
	if d := dc.Status.Details; d == nil || d.Message != "config change" || len(d.Causes) != 1 || d.Causes[0].Type != appsv1.DeploymentTriggerOnConfigChange {
		t.Errorf("details = %+v, want a config change", d)
	}
	rc := waitRC(t, ns, "web-1", "Pending", phase(appsv1.DeploymentStatusPending))

	wantAnnotations := map[string]string{
		appsv1.DeploymentConfigAnnotation:       "web",
		appsv1.DeploymentVersionAnnotation:      "1",
		appsv1.DesiredReplicasAnnotation:        "2",
		deployutil.DeploymentReplicasAnnotation: "0",
		appsv1.DeploymentPodAnnotation:          "web-1-deploy",
		appsv1.DeploymentStatusReasonAnnotation: "config change",
	}
	for k, v := range wantAnnotations {
		if rc.Annotations[k] != v {
			t.Errorf("RC annotation %s = %q, want %q", k, rc.Annotations[k], v)
		}
	}
	encoded, err := deployutil.DecodeConfig(rc)
	must(t, err)
	if encoded.Name != "web" || encoded.Status.LatestVersion != 1 || encoded.Spec.Template.Spec.Containers[0].Image != "registry.test/app:1" {
		t.Errorf("encoded config = %s v%d", encoded.Name, encoded.Status.LatestVersion)
	}
	if rc.Labels["app"] != "web" || rc.Labels[appsv1.DeploymentConfigAnnotation] != "web" {
		t.Errorf("RC labels = %v", rc.Labels)
	}
	if rc.Spec.Selector["deploymentconfig"] != "web" || rc.Spec.Selector["deployment"] != "web-1" || rc.Spec.Selector["app"] != "web" {
		t.Errorf("RC selector = %v", rc.Spec.Selector)
	}
	tmpl := rc.Spec.Template
	if tmpl.Labels["deployment"] != "web-1" || tmpl.Labels["deploymentconfig"] != "web" || tmpl.Annotations["note"] != "x" ||
		tmpl.Annotations[appsv1.DeploymentAnnotation] != "web-1" || tmpl.Annotations[appsv1.DeploymentVersionAnnotation] != "1" ||
		tmpl.Annotations[appsv1.DeploymentConfigAnnotation] != "web" {
		t.Errorf("pod template metadata = %+v", tmpl.ObjectMeta)
	}
	if *rc.Spec.Replicas != 0 {
		t.Errorf("RC starts at %d replicas, want 0", *rc.Spec.Replicas)
	}
	if ref := metav1.GetControllerOf(rc); ref == nil || ref.UID != dc.UID || ref.Kind != "DeploymentConfig" {
		t.Errorf("RC controller = %+v", ref)
	}

	pod, err := kube.CoreV1().Pods(ns).Get(ctx, "web-1-deploy", metav1.GetOptions{})
	must(t, err)
	container := pod.Spec.Containers[0]
	env := map[string]string{}
	for _, e := range container.Env {
		env[e.Name] = e.Value
	}
	switch {
	case pod.Spec.ServiceAccountName != "deployer":
		t.Errorf("deployer SA = %q", pod.Spec.ServiceAccountName)
	case pod.Labels[appsv1.DeployerPodForDeploymentLabel] != "web-1":
		t.Errorf("deployer labels = %v", pod.Labels)
	case pod.Annotations[appsv1.DeploymentAnnotation] != "web-1" || pod.Annotations[node.HostProcessAnnotation] != "true":
		t.Errorf("deployer annotations = %v", pod.Annotations)
	case env["OPENSHIFT_DEPLOYMENT_NAME"] != "web-1" || env["OPENSHIFT_DEPLOYMENT_NAMESPACE"] != ns:
		t.Errorf("deployer env = %v", env)
	case !slices.Equal(container.Command, []string{"slipway", "deployer"}):
		t.Errorf("deployer command = %v", container.Command)
	case pod.Spec.RestartPolicy != corev1.RestartPolicyNever || pod.Spec.ActiveDeadlineSeconds == nil || *pod.Spec.ActiveDeadlineSeconds != 21600:
		t.Errorf("deployer restart %s deadline %v", pod.Spec.RestartPolicy, pod.Spec.ActiveDeadlineSeconds)
	case len(pod.OwnerReferences) != 1 || pod.OwnerReferences[0].UID != rc.UID:
		t.Errorf("deployer owners = %+v", pod.OwnerReferences)
	}
	waitDC(t, ns, "web", "Progressing Unknown while pending", func(dc *appsv1.DeploymentConfig) bool {
		c := deployutil.Condition(&dc.Status, appsv1.DeploymentProgressing)
		return c != nil && c.Status == corev1.ConditionUnknown
	})

	// The deployer runs, then succeeds: Complete, and the DC says so.
	setPodPhase(t, ns, "web-1-deploy", corev1.PodRunning)
	waitRC(t, ns, "web-1", "Running", phase(appsv1.DeploymentStatusRunning))
	setPodPhase(t, ns, "web-1-deploy", corev1.PodSucceeded)
	rc = waitRC(t, ns, "web-1", "Complete", phase(appsv1.DeploymentStatusComplete))
	if rc.Annotations[deployutil.DeploymentReplicasAnnotation] != "2" || rc.Annotations[appsv1.DesiredReplicasAnnotation] != "" {
		t.Errorf("complete RC replica annotations = %v", rc.Annotations)
	}
	dc = waitDC(t, ns, "web", "NewReplicationControllerAvailable", progressing(appsv1.NewReplicationControllerAvailableReason, corev1.ConditionTrue))
	if c := deployutil.Condition(&dc.Status, appsv1.DeploymentAvailable); c == nil || c.Status != corev1.ConditionFalse {
		t.Errorf("Available = %+v before any pod is available", c)
	}
	// The active deployment follows the config's replicas...
	waitRC(t, ns, "web-1", "at 2 replicas", func(rc *corev1.ReplicationController) bool { return *rc.Spec.Replicas == 2 })
	// ...and its pods' availability makes the config Available.
	rc, err = kube.CoreV1().ReplicationControllers(ns).Get(ctx, "web-1", metav1.GetOptions{})
	must(t, err)
	rc.Status = corev1.ReplicationControllerStatus{Replicas: 2, ReadyReplicas: 2, AvailableReplicas: 2, FullyLabeledReplicas: 2, ObservedGeneration: rc.Generation}
	_, err = kube.CoreV1().ReplicationControllers(ns).UpdateStatus(ctx, rc, metav1.UpdateOptions{})
	must(t, err)
	waitDC(t, ns, "web", "Available", func(dc *appsv1.DeploymentConfig) bool {
		c := deployutil.Condition(&dc.Status, appsv1.DeploymentAvailable)
		return c != nil && c.Status == corev1.ConditionTrue && dc.Status.AvailableReplicas == 2 && dc.Status.ReadyReplicas == 2 &&
			dc.Status.Replicas == 2 && dc.Status.UpdatedReplicas == 2 && dc.Status.UnavailableReplicas == 0 && dc.Status.ObservedGeneration == dc.Generation
	})

	// Scaling the config (no rollout running) scales the active deployment.
	editDC(t, ns, "web", func(dc *appsv1.DeploymentConfig) { dc.Spec.Replicas = 3 })
	waitRC(t, ns, "web-1", "at 3 replicas", func(rc *corev1.ReplicationController) bool { return *rc.Spec.Replicas == 3 })
	if dc := waitDC(t, ns, "web", "observed", func(dc *appsv1.DeploymentConfig) bool { return dc.Status.ObservedGeneration == dc.Generation }); dc.Status.LatestVersion != 1 {
		t.Errorf("a scale rolled out version %d", dc.Status.LatestVersion)
	}

	// A template edit rolls out version 2.
	editDC(t, ns, "web", func(dc *appsv1.DeploymentConfig) {
		dc.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "1"}}
	})
	dc = waitDC(t, ns, "web", "version 2", func(dc *appsv1.DeploymentConfig) bool { return dc.Status.LatestVersion == 2 })
	if d := dc.Status.Details; d == nil || d.Causes[0].Type != appsv1.DeploymentTriggerOnConfigChange {
		t.Errorf("version 2 details = %+v", d)
	}
	waitRC(t, ns, "web-2", "Pending", phase(appsv1.DeploymentStatusPending))
	waitDC(t, ns, "web", "Progressing Unknown for web-2", func(dc *appsv1.DeploymentConfig) bool {
		c := deployutil.Condition(&dc.Status, appsv1.DeploymentProgressing)
		return c != nil && c.Status == corev1.ConditionUnknown && dc.Status.UpdatedReplicas == 0
	})

	// A new image while version 2 runs: version 3 with cause ImageChange,
	// and version 2 is cancelled for it.
	editDC(t, ns, "web", func(dc *appsv1.DeploymentConfig) {
		dc.Spec.Template.Spec.Containers[0].Image = "registry.test/app@sha256:" + fmt.Sprintf("%064d", 2)
	})
	dc = waitDC(t, ns, "web", "version 3", func(dc *appsv1.DeploymentConfig) bool { return dc.Status.LatestVersion == 3 })
	if d := dc.Status.Details; d == nil || d.Message != "image change" || len(d.Causes) != 1 || d.Causes[0].Type != appsv1.DeploymentTriggerOnImageChange ||
		d.Causes[0].ImageTrigger == nil || d.Causes[0].ImageTrigger.From.Name != dc.Spec.Template.Spec.Containers[0].Image {
		t.Errorf("version 3 details = %+v", d)
	}
	old := waitRC(t, ns, "web-2", "cancelled and Failed", phase(appsv1.DeploymentStatusFailed))
	if !deployutil.IsCancelled(old) || deployutil.StatusReasonFor(old) != deployutil.ReasonCancelledNewerExists {
		t.Errorf("web-2 annotations = %v", old.Annotations)
	}
	if _, err := kube.CoreV1().Pods(ns).Get(ctx, "web-2-deploy", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("web-2's deployer pod still there: %v", err)
	}
	waitRC(t, ns, "web-3", "Pending", phase(appsv1.DeploymentStatusPending))
}

func TestPausedAndImageTriggers(t *testing.T) {
	ns := namespace(t, "dc-paused")
	dc := newDC(ns, "app")
	dc.Spec.Paused = true
	createDC(t, dc)
	waitDC(t, ns, "app", "Paused condition", progressing(appsv1.DeploymentConfigPausedReason, corev1.ConditionUnknown))
	time.Sleep(500 * time.Millisecond)
	if got := waitDC(t, ns, "app", "observed", func(*appsv1.DeploymentConfig) bool { return true }); got.Status.LatestVersion != 0 {
		t.Fatalf("paused DC rolled out version %d", got.Status.LatestVersion)
	}

	// Resumed, with an image trigger that has not resolved: still waits.
	editDC(t, ns, "app", func(dc *appsv1.DeploymentConfig) {
		dc.Spec.Paused = false
		dc.Spec.Template.Spec.Containers[0].Image = " "
		dc.Spec.Triggers = append(dc.Spec.Triggers, appsv1.DeploymentTriggerPolicy{
			Type: appsv1.DeploymentTriggerOnImageChange,
			ImageChangeParams: &appsv1.DeploymentTriggerImageChangeParams{
				Automatic: true, ContainerNames: []string{"app"},
				From: corev1.ObjectReference{Kind: "ImageStreamTag", Name: "app:latest"},
			},
		})
	})
	waitDC(t, ns, "app", "resumed", progressing(appsv1.DeploymentConfigResumedReason, corev1.ConditionUnknown))
	time.Sleep(500 * time.Millisecond)
	if got := waitDC(t, ns, "app", "observed", func(*appsv1.DeploymentConfig) bool { return true }); got.Status.LatestVersion != 0 {
		t.Fatalf("rolled out version %d before the image trigger resolved", got.Status.LatestVersion)
	}

	// The image trigger resolves (as the image trigger controller writes it).
	image := "registry.test/app@sha256:" + fmt.Sprintf("%064d", 1)
	editDC(t, ns, "app", func(dc *appsv1.DeploymentConfig) {
		dc.Spec.Template.Spec.Containers[0].Image = image
		dc.Spec.Triggers[1].ImageChangeParams.LastTriggeredImage = image
	})
	waitDC(t, ns, "app", "version 1", func(dc *appsv1.DeploymentConfig) bool { return dc.Status.LatestVersion == 1 })
	waitRC(t, ns, "app-1", "Pending", phase(appsv1.DeploymentStatusPending))
}

func TestDeployerPodGone(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "dc-gone")
	createDC(t, newDC(ns, "svc"))
	waitRC(t, ns, "svc-1", "Pending", phase(appsv1.DeploymentStatusPending))
	setPodPhase(t, ns, "svc-1-deploy", corev1.PodRunning)
	waitRC(t, ns, "svc-1", "Running", phase(appsv1.DeploymentStatusRunning))
	must(t, kube.CoreV1().Pods(ns).Delete(ctx, "svc-1-deploy", metav1.DeleteOptions{}))
	rc := waitRC(t, ns, "svc-1", "Failed", phase(appsv1.DeploymentStatusFailed))
	if got := deployutil.StatusReasonFor(rc); got != deployutil.ReasonDeployerPodGone {
		t.Errorf("status reason = %q", got)
	}
	waitDC(t, ns, "svc", "ProgressDeadlineExceeded", progressing(appsv1.ProgressDeadlineExceededReason, corev1.ConditionFalse))
}

// A deployer pod the node lost when slipway server stopped fails the
// deployment with that reason, not the cause the annotation held.
func TestDeployerPodLostWithTheNode(t *testing.T) {
	ns := namespace(t, "dc-lost")
	createDC(t, newDC(ns, "svc"))
	waitRC(t, ns, "svc-1", "Pending", phase(appsv1.DeploymentStatusPending))
	setPodPhase(t, ns, "svc-1-deploy", corev1.PodRunning)
	waitRC(t, ns, "svc-1", "Running", phase(appsv1.DeploymentStatusRunning))
	poll(t, "pod svc-1-deploy lost", func(ctx context.Context) error {
		pod, err := kube.CoreV1().Pods(ns).Get(ctx, "svc-1-deploy", metav1.GetOptions{})
		if err != nil {
			return err
		}
		pod.Status.Phase, pod.Status.Reason = corev1.PodFailed, "NodeLost"
		_, err = kube.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	})
	rc := waitRC(t, ns, "svc-1", "Failed", phase(appsv1.DeploymentStatusFailed))
	if got := deployutil.StatusReasonFor(rc); got != deployutil.ReasonDeployerPodLost {
		t.Errorf("status reason = %q, want %q", got, deployutil.ReasonDeployerPodLost)
	}
	dc := waitDC(t, ns, "svc", "ProgressDeadlineExceeded", progressing(appsv1.ProgressDeadlineExceededReason, corev1.ConditionFalse))
	if cond := deployutil.Condition(&dc.Status, appsv1.DeploymentProgressing); !strings.Contains(cond.Message, deployutil.ReasonDeployerPodLost) {
		t.Errorf("Progressing condition message %q does not say the deployer pod was lost", cond.Message)
	}
}

func TestCancel(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "dc-cancel")
	createDC(t, newDC(ns, "job"))
	waitRC(t, ns, "job-1", "Pending", phase(appsv1.DeploymentStatusPending))
	// `rollout cancel`.
	editRC(t, ns, "job-1", deployutil.SetCancelledByUser)
	rc := waitRC(t, ns, "job-1", "Failed", phase(appsv1.DeploymentStatusFailed))
	if got := deployutil.StatusReasonFor(rc); got != deployutil.ReasonCancelledByUser {
		t.Errorf("status reason = %q", got)
	}
	if _, err := kube.CoreV1().Pods(ns).Get(ctx, "job-1-deploy", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("deployer pod of a cancelled rollout: %v", err)
	}
	waitDC(t, ns, "job", "RolloutCancelled", progressing(appsv1.RolloutCancelledReason, corev1.ConditionFalse))
}

func TestRevisionHistoryLimit(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "dc-history")
	dc := newDC(ns, "api")
	limit := int32(1)
	dc.Spec.RevisionHistoryLimit = &limit
	createDC(t, dc)
	for n := int64(1); n <= 3; n++ {
		complete(t, ns, "api", n)
		if n < 3 {
			editDC(t, ns, "api", func(dc *appsv1.DeploymentConfig) {
				dc.Spec.Template.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "N", Value: fmt.Sprint(n)}}
			})
		}
	}
	poll(t, "api-1 pruned", func(ctx context.Context) error {
		list, err := kube.CoreV1().ReplicationControllers(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		var names []string
		for _, rc := range list.Items {
			names = append(names, rc.Name)
		}
		slices.Sort(names)
		if !slices.Equal(names, []string{"api-2", "api-3"}) {
			return fmt.Errorf("deployments %v, want api-2 and api-3", names)
		}
		return nil
	})
	if _, err := kube.CoreV1().Pods(ns).Get(ctx, "api-1-deploy", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("deployer pod of the pruned deployment: %v", err)
	}
	waitRC(t, ns, "api-2", "scaled down", func(rc *corev1.ReplicationController) bool { return *rc.Spec.Replicas == 0 })
	waitRC(t, ns, "api-3", "scaled up", func(rc *corev1.ReplicationController) bool { return *rc.Spec.Replicas == 2 })
}
