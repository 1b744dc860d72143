package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "github.com/openshift/api/apps/v1"
	appsclient "github.com/openshift/client-go/apps/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/slipway-dev/slipway/internal/builder/build/buildtest"
)

// webImage pushes busybox answering "<version>\n" on :8080 with busybox
// httpd to hub as veer/web:<version> and returns its pull spec by digest.
func webImage(t *testing.T, hub *buildtest.Registry, version string) string {
	t.Helper()
	return hub.Ref("veer/web@" + servingImage(t, hub, "veer/web:"+version, version))
}

// webDC is a Rolling DeploymentConfig of replicas pods of image, ready when
// GET / on :8080 answers.
func webDC(name, image string, replicas int32) *appsv1.DeploymentConfig {
	labels := map[string]string{"app": name}
	maxUnavailable, maxSurge := intstr.FromString("25%"), intstr.FromInt32(1)
	timeout, interval, period := int64(60), int64(1), int64(1)
	return &appsv1.DeploymentConfig{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentConfigSpec{
			Replicas: replicas,
			Selector: labels,
			Triggers: appsv1.DeploymentTriggerPolicies{{Type: appsv1.DeploymentTriggerOnConfigChange}},
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.DeploymentStrategyTypeRolling,
				RollingParams: &appsv1.RollingDeploymentStrategyParams{
					MaxUnavailable: &maxUnavailable, MaxSurge: &maxSurge,
					TimeoutSeconds: &timeout, IntervalSeconds: &interval, UpdatePeriodSeconds: &period,
				},
			},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "web",
					Image: image,
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
					ReadinessProbe: &corev1.Probe{
						ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(8080)}},
						PeriodSeconds: 1,
					},
				}}},
			},
		},
	}
}

// readyPods lists the DC's pods that are Ready and not being deleted.
func readyPods(ctx context.Context, kube kubernetes.Interface, ns, dc string) ([]corev1.Pod, error) {
	pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "deploymentconfig=" + dc})
	if err != nil {
		return nil, err
	}
	var ready []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready = append(ready, p)
			}
		}
	}
	return ready, nil
}

// waitServing waits until the DC has want Ready pods, all of RC rc, each
// answering body on its pod IP, and returns them.
func waitServing(t *testing.T, kube kubernetes.Interface, ns, dc, rc string, want int, body string, timeout time.Duration) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	eventually(t, timeout, func() error {
		var err error
		if pods, err = readyPods(context.Background(), kube, ns, dc); err != nil {
			return err
		}
		if len(pods) != want {
			return fmt.Errorf("%d ready pods of dc/%s, want %d", len(pods), dc, want)
		}
		for _, p := range pods {
			if got := p.Labels["deployment"]; got != rc {
				return fmt.Errorf("ready pod %s belongs to %s, want %s", p.Name, got, rc)
			}
			if err := podAnswers(p, body); err != nil {
				return err
			}
		}
		return nil
	})
	return pods
}

// readyWatch polls the DC's Ready pods through the API until stopped and
// remembers the fewest it saw, and when.
type readyWatch struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	min  int
	seen []string
	err  error
}

func watchReady(kube kubernetes.Interface, ns, dc string) *readyWatch {
	w := &readyWatch{stop: make(chan struct{}), done: make(chan struct{}), min: -1}
	start := time.Now()
	go func() {
		defer close(w.done)
		for {
			pods, err := readyPods(context.Background(), kube, ns, dc)
			w.mu.Lock()
			if err != nil {
				w.err = err
			} else {
				var names []string
				for _, p := range pods {
					names = append(names, p.Name)
				}
				slices.Sort(names)
				line := fmt.Sprintf("%6s %v", time.Since(start).Round(10*time.Millisecond), names)
				if len(w.seen) == 0 || !strings.HasSuffix(w.seen[len(w.seen)-1], fmt.Sprint(names)) {
					w.seen = append(w.seen, line)
				}
				if w.min < 0 || len(pods) < w.min {
					w.min = len(pods)
				}
			}
			w.mu.Unlock()
			select {
			case <-w.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return w
}

// finish stops the watch and returns the fewest Ready pods seen and the
// sequence of Ready pod sets.
func (w *readyWatch) finish() (int, []string, error) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.min, w.seen, w.err
}

// runcContainers is `runc list` of the server's runc root: container ID to
// its init PID.
func runcContainers(t *testing.T, dataDir string) map[string]int {
	t.Helper()
	root := filepath.Join(dataDir, "runc")
	out, err := exec.Command("runc", "--root", root, "list", "-q").Output()
	if err != nil {
		t.Fatalf("runc --root %s list: %v", root, err)
	}
	ids := map[string]int{}
	for _, id := range strings.Fields(string(out)) {
		state, err := exec.Command("runc", "--root", root, "state", id).Output()
		if err != nil {
			// Deleted between list and state.
			continue
		}
		var s struct {
			Pid int `json:"pid"`
		}
		mustJSON(t, string(state), &s)
		ids[id] = s.Pid
	}
	return ids
}

// processAlive reports whether pid still runs (a zombie does not count).
func processAlive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command's closing parenthesis.
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// TestRollingRollout rolls a two-replica DC from v1 to v2 watching that
// Ready pods never drop below replicas-maxUnavailable, rolls out a v3 whose
// readiness probe never passes and sees it fail after timeoutSeconds with
// v2 still serving, undoes to v2, then kills the server hard and starts it
// again: no container of the old run is left and the pods run again.
func TestRollingRollout(t *testing.T) {
	requireAppPods(t)
	for _, bin := range []string{"runc", "docker-registry", "htpasswd", "busybox"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (hack/install-deps.sh)", bin)
		}
	}
	hub := buildtest.StartRegistry(t, hubUser, hubPassword)
	buildtest.PushBusybox(t, hub)
	v1, v2, v3 := webImage(t, hub, "v1"), webImage(t, hub, "v2"), webImage(t, hub, "v3")
	s := startServer(t, "--registry-ca", hub.Host+"="+hub.CAFile)
	c := s.newCLI()
	cfg := s.restConfig()
	// DeploymentConfigs are deprecated: every call warns.
	cfg.WarningHandler = rest.NoWarnings{}
	kube := kubernetes.NewForConfigOrDie(cfg)
	apps := appsclient.NewForConfigOrDie(cfg)
	b := &buildServer{server: s, c: c, hub: hub, kube: kube}
	ctx := context.Background()
	ns, name := "rollout", "web"
	c.run("new-project", ns)
	c.run("create", "secret", "docker-registry", "dockerhub", "--docker-server="+hub.Host,
		"--docker-username="+hubUser, "--docker-password="+hubPassword)
	c.run("secrets", "link", "default", "dockerhub", "--for=pull")

	const replicas = 2
	dc := webDC(name, v1, replicas)
	if _, err := apps.AppsV1().DeploymentConfigs(ns).Create(ctx, dc, createOpts); err != nil {
		t.Fatal(err)
	}
	waitRollout(t, apps, b, ns, name, 1, 2*time.Minute)
	waitServing(t, kube, ns, name, name+"-1", replicas, "v1\n", time.Minute)

	// v1 -> v2 under watch. Kubernetes rounds maxUnavailable down.
	maxUnavailable, err := intstr.GetScaledValueFromIntOrPercent(dc.Spec.Strategy.RollingParams.MaxUnavailable, replicas, false)
	if err != nil {
		t.Fatal(err)
	}
	minReady := replicas - maxUnavailable
	watch := watchReady(kube, ns, name)
	update(t, apps, ns, name, func(dc *appsv1.DeploymentConfig) { dc.Spec.Template.Spec.Containers[0].Image = v2 })
	waitRollout(t, apps, b, ns, name, 2, 2*time.Minute)
	fewest, seen, err := watch.finish()
	if err != nil {
		t.Errorf("watching ready pods: %v", err)
	}
	if fewest < minReady {
		t.Errorf("ready pods dropped to %d during the rollout, want at least %d (replicas %d, maxUnavailable 25%%); ready pods seen:\n%s",
			fewest, minReady, replicas, strings.Join(seen, "\n"))
	} else {
		t.Logf("ready pods during the rollout (never below %d):\n%s", minReady, strings.Join(seen, "\n"))
	}
	waitServing(t, kube, ns, name, name+"-2", replicas, "v2\n", time.Minute)

	// v3 never gets ready: the rollout fails after timeoutSeconds and
	// version 2 keeps serving.
	const timeoutSeconds = 10
	changed := time.Now()
	update(t, apps, ns, name, func(dc *appsv1.DeploymentConfig) {
		c := &dc.Spec.Template.Spec.Containers[0]
		c.Image = v3
		c.ReadinessProbe.HTTPGet.Path = "/not-served"
		timeout := int64(timeoutSeconds)
		dc.Spec.Strategy.RollingParams.TimeoutSeconds = &timeout
	})
	var failed time.Duration
	eventually(t, 2*time.Minute, func() error {
		rc, err := kube.CoreV1().ReplicationControllers(ns).Get(ctx, name+"-3", getOpts)
		if err != nil {
			return err
		}
		switch phase := rc.Annotations["openshift.io/deployment.phase"]; phase {
		case "Failed":
			failed = time.Since(changed)
			return nil
		case "Complete":
			t.Fatalf("%s completed with a readiness probe that cannot pass", rc.Name)
		default:
			return fmt.Errorf("%s is %s", rc.Name, phase)
		}
		return nil
	})
	// The deployer starts its clock once it runs; allow for the deployer
	// pod's start and the controllers' passes around it.
	if failed < timeoutSeconds*time.Second || failed > (timeoutSeconds+30)*time.Second {
		t.Errorf("%s-3 failed %s after the change, want about timeoutSeconds (%ds)", name, failed.Round(time.Millisecond), timeoutSeconds)
	} else {
		t.Logf("%s-3 failed %s after the change (timeoutSeconds %d)", name, failed.Round(time.Millisecond), timeoutSeconds)
	}
	eventually(t, 30*time.Second, func() error {
		got, err := apps.AppsV1().DeploymentConfigs(ns).Get(ctx, name, getOpts)
		if err != nil {
			return err
		}
		for _, cond := range got.Status.Conditions {
			if cond.Type == appsv1.DeploymentProgressing && cond.Status == corev1.ConditionFalse && cond.Reason == string(appsv1.ProgressDeadlineExceededReason) {
				return nil
			}
		}
		return fmt.Errorf("dc/%s conditions %+v, want Progressing False %s", name, got.Status.Conditions, appsv1.ProgressDeadlineExceededReason)
	})
	waitServing(t, kube, ns, name, name+"-2", replicas, "v2\n", 30*time.Second)

	// rollout undo: back to the previous good image, in new pods.
	c.run("rollout", "undo", "dc/"+name)
	got := waitRollout(t, apps, b, ns, name, 4, 2*time.Minute)
	if img := got.Spec.Template.Spec.Containers[0].Image; img != v2 {
		t.Errorf("after undo dc/%s runs %s, want v2 %s", name, img, v2)
	}
	pods := waitServing(t, kube, ns, name, name+"-4", replicas, "v2\n", time.Minute)

	// Kill the server hard with the pods running, then start it on the
	// same data directory.
	before := runcContainers(t, s.dataDir)
	for _, p := range pods {
		if len(p.Status.ContainerStatuses) != 1 {
			t.Fatalf("pod %s container statuses %+v", p.Name, p.Status.ContainerStatuses)
		}
		id := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "runc://")
		if _, ok := before[id]; !ok {
			t.Fatalf("pod %s's container %s is not in runc list %v", p.Name, id, before)
		}
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.done
	for id, pid := range before {
		if !processAlive(pid) {
			t.Logf("container %s (pid %d) died with the server", id, pid)
		}
	}
	restarted := time.Now()
	s.start()
	eventually(t, 2*time.Minute, func() error {
		ready, err := readyPods(ctx, kube, ns, name)
		if err != nil {
			return err
		}
		if len(ready) != replicas {
			return fmt.Errorf("%d ready pods since the restart, want %d", len(ready), replicas)
		}
		// StartedAt has whole seconds.
		for _, p := range ready {
			for _, cs := range p.Status.ContainerStatuses {
				if cs.State.Running == nil || cs.State.Running.StartedAt.Time.Before(restarted.Truncate(time.Second)) {
					return fmt.Errorf("pod %s's container %s has not started again since the restart: %+v", p.Name, cs.Name, cs.State)
				}
			}
		}
		return nil
	})
	t.Logf("%d pods ready again %s after the restart", replicas, time.Since(restarted).Round(time.Millisecond))
	waitServing(t, kube, ns, name, name+"-4", replicas, "v2\n", 30*time.Second)
	var errs []error
	for id, pid := range before {
		if processAlive(pid) {
			errs = append(errs, fmt.Errorf("container %s's process %d of the killed server still runs", id, pid))
		}
	}
	// Exactly one runc container per running pod, nothing else.
	eventually(t, 30*time.Second, func() error {
		list, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		want := map[string]string{}
		for _, p := range list.Items {
			if p.Status.Phase != corev1.PodRunning {
				continue
			}
			for _, cs := range p.Status.ContainerStatuses {
				if id, ok := strings.CutPrefix(cs.ContainerID, "runc://"); ok && cs.State.Running != nil {
					want[id] = p.Name
				}
			}
		}
		containers := runcContainers(t, s.dataDir)
		if len(containers) != len(want) {
			return fmt.Errorf("runc list has %d containers %v, want one per running pod: %v", len(containers), containers, want)
		}
		for id := range containers {
			if _, ok := want[id]; !ok {
				return fmt.Errorf("runc container %s belongs to no running pod (running: %v)", id, want)
			}
		}
		return nil
	})
	if err := errors.Join(errs...); err != nil {
		t.Error(err)
	}
}

// update reads dc/name, applies change and writes it back, retrying on
// conflicts with the controllers' writes.
func update(t *testing.T, apps appsclient.Interface, ns, name string, change func(*appsv1.DeploymentConfig)) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		dc, err := apps.AppsV1().DeploymentConfigs(ns).Get(context.Background(), name, getOpts)
		if err != nil {
			return err
		}
		change(dc)
		_, err = apps.AppsV1().DeploymentConfigs(ns).Update(context.Background(), dc, metav1.UpdateOptions{})
		return err
	})
}
