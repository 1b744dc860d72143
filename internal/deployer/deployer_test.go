package deployer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "github.com/openshift/api/apps/v1"
	appsclient "github.com/openshift/client-go/apps/clientset/versioned"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"

	"github.com/slipway-dev/slipway/internal/deployutil"
	"github.com/slipway-dev/slipway/internal/testserver"
)

var server *testserver.Server

func TestMain(m *testing.M) {
	retryDelay = 100 * time.Millisecond
	testserver.Main(m, testserver.Options{}, func(s *testserver.Server) { server = s })
}

// cluster plays the node for a namespace, through the API: the real
// replication controller (kube-controller-manager's) makes the pods of an
// RC and counts them; the cluster marks them Running and Ready at once
// (except those of RCs listed in unready), and hook pods end in the phase
// hookPhase names for their type (Succeeded by default). It records what
// happened, in order, in events.
type cluster struct {
	t         *testing.T
	kube      kubernetes.Interface
	namespace string

	mu        sync.Mutex
	unready   map[string]bool
	hookPhase map[string]corev1.PodPhase
	events    []string
	// minAvailable is the fewest available pods of all RCs seen after
	// the first complete rollout had its pods.
	minAvailable int32
	watching     bool
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	kube := kubernetes.NewForConfigOrDie(server.Admin)
	ns := fmt.Sprintf("deployer-%d", time.Now().UnixNano())
	if _, err := kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Pods run as the namespace's default service account, which
	// Kubernetes' service account controller makes; admission refuses
	// pods before it exists.
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := kube.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("namespace %s got no default service account: %v", ns, err)
	}
	c := &cluster{t: t, kube: kube, namespace: ns, unready: map[string]bool{}, hookPhase: map[string]corev1.PodPhase{}, minAvailable: 1 << 30}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	factory := informers.NewSharedInformerFactoryWithOptions(kube, 0, informers.WithNamespace(ns))
	rcs := factory.Core().V1().ReplicationControllers().Informer()
	rcs.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.syncRC(ctx, nil, obj.(*corev1.ReplicationController)) },
		UpdateFunc: func(old, obj any) {
			c.syncRC(ctx, old.(*corev1.ReplicationController), obj.(*corev1.ReplicationController))
		},
	})
	pods := factory.Core().V1().Pods().Informer()
	pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.runPod(ctx, obj.(*corev1.Pod)) },
	})
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return c
}

func (c *cluster) record(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, fmt.Sprintf(format, args...))
}

func (c *cluster) history() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.events...)
}

// syncRC records scaling and, once the replication controller has
// counted the pods, the availability.
func (c *cluster) syncRC(ctx context.Context, old, rc *corev1.ReplicationController) {
	want := replicas(rc)
	if old != nil && replicas(old) != want {
		c.record("scale %s %d", rc.Name, want)
	}
	c.checkAvailability(ctx)
}

// checkAvailability records the total of available pods once the status of
// every RC is up to date.
func (c *cluster) checkAvailability(ctx context.Context) {
	list, err := c.kube.CoreV1().ReplicationControllers(c.namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	var total int32
	for _, rc := range list.Items {
		if rc.Status.ObservedGeneration != rc.Generation {
			return
		}
		total += rc.Status.AvailableReplicas
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.watching {
		c.minAvailable = min(c.minAvailable, total)
	}
}

// runPod plays the node for a new pod: a hook pod ends in its phase, an
// RC's pod runs and becomes Ready unless its RC is unready.
func (c *cluster) runPod(ctx context.Context, pod *corev1.Pod) {
	if pod.Status.Phase != "" && pod.Status.Phase != corev1.PodPending {
		return
	}
	kind := pod.Labels[HookPodTypeLabel]
	if kind == "" {
		c.runRCPod(ctx, pod)
		return
	}
	c.mu.Lock()
	phase := c.hookPhase[kind]
	c.mu.Unlock()
	if phase == "" {
		phase = corev1.PodSucceeded
	}
	c.record("%s %s", kind, phase)
	code := int32(0)
	if phase == corev1.PodFailed {
		code = 3
	}
	c.setPodStatus(ctx, pod.Name, func(pod *corev1.Pod) {
		pod.Status.Phase = phase
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: hookContainerName, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}}}
	})
}

func (c *cluster) runRCPod(ctx context.Context, pod *corev1.Pod) {
	owner := metav1.GetControllerOf(pod)
	if owner == nil || owner.Kind != "ReplicationController" {
		return
	}
	c.mu.Lock()
	unready := c.unready[owner.Name]
	c.mu.Unlock()
	if unready {
		return
	}
	c.setPodStatus(ctx, pod.Name, func(pod *corev1.Pod) {
		now := metav1.Now()
		pod.Status.Phase = corev1.PodRunning
		pod.Status.StartTime = &now
		pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now})
	})
}

// setPodStatus writes the status edit makes, retrying when the scheduler
// (which finds no node here) wrote its condition in between.
func (c *cluster) setPodStatus(ctx context.Context, name string, edit func(*corev1.Pod)) {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod, err := c.kube.CoreV1().Pods(c.namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		edit(pod)
		_, err = c.kube.CoreV1().Pods(c.namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	})
	if err != nil && ctx.Err() == nil && !apierrors.IsNotFound(err) {
		c.t.Errorf("setting the status of pod %s: %v", name, err)
	}
}

// testConfig creates the deployment config in the API: its RCs are owned
// by it, and Kubernetes' garbage collector removes RCs whose owner is gone.
func testConfig(c *cluster, strategy appsv1.DeploymentStrategy, replicas int32) *appsv1.DeploymentConfig {
	c.t.Helper()
	dc, err := appsclient.NewForConfigOrDie(server.Admin).AppsV1().DeploymentConfigs(c.namespace).Create(context.Background(), newConfig(c, strategy, replicas), metav1.CreateOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	return dc
}

func newConfig(c *cluster, strategy appsv1.DeploymentStrategy, replicas int32) *appsv1.DeploymentConfig {
	return &appsv1.DeploymentConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "mytime", Namespace: c.namespace},
		Spec: appsv1.DeploymentConfigSpec{
			Replicas: replicas,
			Selector: map[string]string{"app": "mytime"},
			Strategy: strategy,
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "mytime"}},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "app", Image: "busybox", Env: []corev1.EnvVar{{Name: "A", Value: "1"}}}},
				},
			},
		},
	}
}

// deploy creates version of dc as an RC in phase; a Complete one has
// replicas pods.
func (c *cluster) deploy(dc *appsv1.DeploymentConfig, version int64, phase appsv1.DeploymentStatus, replicas int32) *corev1.ReplicationController {
	c.t.Helper()
	dc = dc.DeepCopy()
	dc.Status.LatestVersion = version
	rc, err := deployutil.MakeDeployment(dc)
	if err != nil {
		c.t.Fatal(err)
	}
	rc.Annotations[appsv1.DeploymentStatusAnnotation] = string(phase)
	rc.Spec.Replicas = &replicas
	created, err := c.kube.CoreV1().ReplicationControllers(c.namespace).Create(context.Background(), rc, metav1.CreateOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	c.waitAvailable(created.Name, replicas)
	return created
}

func (c *cluster) waitAvailable(name string, n int32) {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		rc, err := c.kube.CoreV1().ReplicationControllers(c.namespace).Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && rc.Status.Replicas == n && (c.unready[name] || rc.Status.AvailableReplicas == n) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("%s never had %d pods", name, n)
}

func (c *cluster) replicasOf(name string) int32 {
	c.t.Helper()
	rc, err := c.kube.CoreV1().ReplicationControllers(c.namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	return replicas(rc)
}

func (c *cluster) run(ctx context.Context, name string) (string, error) {
	c.mu.Lock()
	c.watching = true
	c.mu.Unlock()
	var out bytes.Buffer
	d := &Deployer{Kube: c.kube, Images: imageclient.NewForConfigOrDie(server.Admin), Namespace: c.namespace, Name: name, Out: &out}
	err := d.Run(ctx)
	c.t.Logf("deployer log:\n%s", out.String())
	return out.String(), err
}

func hookPolicy(policy appsv1.LifecycleHookFailurePolicy) *appsv1.LifecycleHook {
	return &appsv1.LifecycleHook{FailurePolicy: policy, ExecNewPod: &appsv1.ExecNewPodHook{ContainerName: "app", Command: []string{"/bin/true"}, Env: []corev1.EnvVar{{Name: "B", Value: "2"}}}}
}

func int64p(v int64) *int64 { return &v }

func TestRecreateOrder(t *testing.T) {
	c := newCluster(t)
	dc := testConfig(c, appsv1.DeploymentStrategy{Type: appsv1.DeploymentStrategyTypeRecreate, RecreateParams: &appsv1.RecreateDeploymentStrategyParams{
		TimeoutSeconds: int64p(20),
		Pre:            hookPolicy(appsv1.LifecycleHookFailurePolicyAbort),
		Mid:            hookPolicy(appsv1.LifecycleHookFailurePolicyAbort),
		Post:           hookPolicy(appsv1.LifecycleHookFailurePolicyAbort),
	}}, 2)
	c.deploy(dc, 1, appsv1.DeploymentStatusComplete, 2)
	c.deploy(dc, 2, appsv1.DeploymentStatusRunning, 0)

	out, err := c.run(context.Background(), "mytime-2")
	if err != nil {
		t.Fatalf("deployer: %v", err)
	}
	want := []string{"hook-pre Succeeded", "scale mytime-1 0", "hook-mid Succeeded", "scale mytime-2 2", "hook-post Succeeded"}
	if got := c.history(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("events = %q, want %q", got, want)
	}
	for _, line := range []string{"--> Scaling mytime-1 down to zero", "--> Scaling mytime-2 to 2", "--> Success"} {
		if !strings.Contains(out, line) {
			t.Errorf("log lacks %q", line)
		}
	}
	// The hook pod runs the template container's image with the hook's
	// command and env on top of the container's.
	pod, err := c.kube.CoreV1().Pods(c.namespace).Get(context.Background(), "mytime-2-hook-pre", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hc := pod.Spec.Containers[0]
	if hc.Image != "busybox" || hc.Command[0] != "/bin/true" || len(hc.Env) != 2 || pod.Labels[appsv1.DeployerPodForDeploymentLabel] != "mytime-2" || pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("hook pod = %+v", pod)
	}
}

func TestRollingOrderKeepsAvailability(t *testing.T) {
	c := newCluster(t)
	surge, unavailable := intstr.FromInt32(1), intstr.FromInt32(0)
	dc := testConfig(c, appsv1.DeploymentStrategy{Type: appsv1.DeploymentStrategyTypeRolling, RollingParams: &appsv1.RollingDeploymentStrategyParams{
		UpdatePeriodSeconds: int64p(1), TimeoutSeconds: int64p(20), MaxSurge: &surge, MaxUnavailable: &unavailable,
	}}, 2)
	c.deploy(dc, 1, appsv1.DeploymentStatusComplete, 2)
	c.deploy(dc, 2, appsv1.DeploymentStatusRunning, 0)

	out, err := c.run(context.Background(), "mytime-2")
	if err != nil {
		t.Fatalf("deployer: %v", err)
	}
	want := []string{"scale mytime-2 1", "scale mytime-1 1", "scale mytime-2 2", "scale mytime-1 0"}
	if got := c.history(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("events = %q, want %q", got, want)
	}
	if !strings.Contains(out, "--> Scaling up mytime-2 from 0 to 2, scaling down mytime-1 from 2 to 0 (keep 2 pods available, don't exceed 3 pods)") {
		t.Errorf("log lacks the rolling summary")
	}
	if c.minAvailable < 2 {
		t.Errorf("available pods dropped to %d during the rollout, want at least 2", c.minAvailable)
	}
}

func TestRollingFirstDeploymentScalesAtOnce(t *testing.T) {
	c := newCluster(t)
	dc := testConfig(c, appsv1.DeploymentStrategy{Type: appsv1.DeploymentStrategyTypeRolling, RollingParams: &appsv1.RollingDeploymentStrategyParams{
		TimeoutSeconds: int64p(20), Post: hookPolicy(appsv1.LifecycleHookFailurePolicyAbort),
	}}, 3)
	c.deploy(dc, 1, appsv1.DeploymentStatusRunning, 0)
	if _, err := c.run(context.Background(), "mytime-1"); err != nil {
		t.Fatalf("deployer: %v", err)
	}
	want := []string{"scale mytime-1 3", "hook-post Succeeded"}
	if got := c.history(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("events = %q, want %q", got, want)
	}
}

func TestRollingTimeoutFailsAndKeepsOldServing(t *testing.T) {
	c := newCluster(t)
	c.unready["mytime-2"] = true
	dc := testConfig(c, appsv1.DeploymentStrategy{Type: appsv1.DeploymentStrategyTypeRolling, RollingParams: &appsv1.RollingDeploymentStrategyParams{
		UpdatePeriodSeconds: int64p(1), TimeoutSeconds: int64p(2),
	}}, 1)
	c.deploy(dc, 1, appsv1.DeploymentStatusComplete, 1)
	c.deploy(dc, 2, appsv1.DeploymentStatusRunning, 0)

	start := time.Now()
	_, err := c.run(context.Background(), "mytime-2")
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("deployer err = %v, want a timeout", err)
	}
	if took := time.Since(start); took < 2*time.Second || took > 15*time.Second {
		t.Errorf("failed after %s, want about timeoutSeconds", took)
	}
	if n := c.replicasOf("mytime-1"); n != 1 {
		t.Errorf("old deployment has %d replicas, want 1 (still serving)", n)
	}
}

func TestHookFailurePolicies(t *testing.T) {
	for _, tc := range []struct {
		policy  appsv1.LifecycleHookFailurePolicy
		wantErr bool
		want    []string
	}{
		{appsv1.LifecycleHookFailurePolicyAbort, true, []string{"hook-pre Failed"}},
		{appsv1.LifecycleHookFailurePolicyIgnore, false, []string{"hook-pre Failed", "scale mytime-1 0", "scale mytime-2 1"}},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			c := newCluster(t)
			c.hookPhase[deployutil.PreHookPodSuffix] = corev1.PodFailed
			dc := testConfig(c, appsv1.DeploymentStrategy{Type: appsv1.DeploymentStrategyTypeRecreate, RecreateParams: &appsv1.RecreateDeploymentStrategyParams{
				TimeoutSeconds: int64p(20), Pre: hookPolicy(tc.policy),
			}}, 1)
			c.deploy(dc, 1, appsv1.DeploymentStatusComplete, 1)
			c.deploy(dc, 2, appsv1.DeploymentStatusRunning, 0)
			_, err := c.run(context.Background(), "mytime-2")
			if (err != nil) != tc.wantErr {
				t.Fatalf("deployer err = %v, want error: %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "pre hook failed") {
				t.Errorf("err = %v, want the pre hook named", err)
			}
			if got := c.history(); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("events = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHookRetryRunsAgain(t *testing.T) {
	c := newCluster(t)
	c.hookPhase[deployutil.PreHookPodSuffix] = corev1.PodFailed
	dc := testConfig(c, appsv1.DeploymentStrategy{Type: appsv1.DeploymentStrategyTypeRecreate, RecreateParams: &appsv1.RecreateDeploymentStrategyParams{
		TimeoutSeconds: int64p(20), Pre: hookPolicy(appsv1.LifecycleHookFailurePolicyRetry),
	}}, 1)
	c.deploy(dc, 1, appsv1.DeploymentStatusRunning, 0)
	done := make(chan error, 1)
	go func() { _, err := c.run(context.Background(), "mytime-1"); done <- err }()
	deadline := time.Now().Add(10 * time.Second)
	for len(c.history()) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	c.mu.Lock()
	c.hookPhase[deployutil.PreHookPodSuffix] = corev1.PodSucceeded
	c.mu.Unlock()
	if err := <-done; err != nil {
		t.Fatalf("deployer: %v", err)
	}
	got := c.history()
	if len(got) < 3 || got[0] != "hook-pre Failed" || got[len(got)-2] != "hook-pre Succeeded" || got[len(got)-1] != "scale mytime-1 1" {
		t.Errorf("events = %q, want failed attempts, a success, then the scale", got)
	}
}

func TestCancellationStopsTheDeployer(t *testing.T) {
	c := newCluster(t)
	c.unready["mytime-2"] = true
	dc := testConfig(c, appsv1.DeploymentStrategy{Type: appsv1.DeploymentStrategyTypeRecreate, RecreateParams: &appsv1.RecreateDeploymentStrategyParams{TimeoutSeconds: int64p(60)}}, 1)
	c.deploy(dc, 1, appsv1.DeploymentStatusComplete, 1)
	c.deploy(dc, 2, appsv1.DeploymentStatusRunning, 0)

	done := make(chan error, 1)
	go func() { _, err := c.run(context.Background(), "mytime-2"); done <- err }()
	// Cancel once the deployer waits for the new pods.
	deadline := time.Now().Add(10 * time.Second)
	for !contains(c.history(), "scale mytime-2 1") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	// As `rollout cancel` does: the deployer writes the RC too meanwhile.
	rcs := c.kube.CoreV1().ReplicationControllers(c.namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		rc, err := rcs.Get(context.Background(), "mytime-2", metav1.GetOptions{})
		if err != nil {
			return err
		}
		deployutil.SetCancelledByUser(rc)
		_, err = rcs.Update(context.Background(), rc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrCancelled) || !strings.Contains(err.Error(), deployutil.ReasonCancelledByUser) {
			t.Errorf("deployer err = %v, want ErrCancelled with the reason", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the deployer did not stop on cancellation")
	}
}

func contains(events []string, s string) bool {
	for _, e := range events {
		if e == s {
			return true
		}
	}
	return false
}
