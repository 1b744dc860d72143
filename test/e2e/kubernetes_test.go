package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	kappsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/slipway-dev/slipway/internal/builder/build/buildtest"
)

// requireKubectl returns kubectl's path, or skips.
func requireKubectl(t *testing.T) string {
	t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed")
	}
	return kubectl
}

// requireRegistryTools skips when the test registry ("Docker Hub") cannot
// run here.
func requireRegistryTools(t *testing.T) {
	t.Helper()
	for _, bin := range []string{"runc", "docker-registry", "htpasswd", "busybox"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (hack/install-deps.sh)", bin)
		}
	}
}

// kubectlRunner runs kubectl with the server's admin kubeconfig and fails
// the test when it fails.
func kubectlRunner(t *testing.T, kubectl string, s *server) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		out, errOut, err := runBinary(t, kubectl, s.kubeconfig(), nil, nil, args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
		}
		return out
	}
}

// servingImage pushes busybox answering "<version>\n" with httpd on :8080
// (and exposing 8080/tcp) to hub as repoTag and returns its digest.
func servingImage(t *testing.T, hub *buildtest.Registry, repoTag, version string) string {
	t.Helper()
	base := hub.Image(t, hub.Ref("library/busybox:latest"))
	cfg, err := base.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Config
	c.Cmd = []string{"sh", "-c", "mkdir -p /tmp/www && echo " + version + " > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"}
	c.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
	img, err := mutate.Config(base, c)
	if err != nil {
		t.Fatal(err)
	}
	return hub.Push(t, repoTag, img)
}

// deploymentPods are the pods of Deployment name (selected by its own
// selector) that are not being deleted, with the ReplicaSets they belong
// to.
func deploymentPods(ctx context.Context, kube kubernetes.Interface, ns, name string) (*kappsv1.Deployment, []corev1.Pod, error) {
	d, err := kube.AppsV1().Deployments(ns).Get(ctx, name, getOpts)
	if err != nil {
		return nil, nil, err
	}
	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, nil, err
	}
	list, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		return nil, nil, err
	}
	var pods []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			pods = append(pods, p)
		}
	}
	return d, pods, nil
}

// podAnswers checks that GET / on :8080 of pod p's IP answers body.
func podAnswers(p corev1.Pod, body string) error {
	got, err := httpGet("http://" + net.JoinHostPort(p.Status.PodIP, "8080") + "/")
	if err != nil {
		return fmt.Errorf("pod %s: %w", p.Name, err)
	}
	if got != body {
		return fmt.Errorf("pod %s answered %q, want %q", p.Name, got, body)
	}
	return nil
}

// podOwner is the name of the ReplicaSet that owns pod, "" if none.
func podOwner(p corev1.Pod) string {
	for _, o := range p.OwnerReferences {
		if o.Kind == "ReplicaSet" {
			return o.Name
		}
	}
	return ""
}

// waitDeploymentServing waits until Deployment name has rolled out its
// current template: want Running and Ready pods, all of one ReplicaSet of
// the Deployment's current revision, each with the template's image
// (image) and answering body on :8080 of its pod IP, and no other pod. It
// returns that ReplicaSet's name.
func waitDeploymentServing(t *testing.T, kube kubernetes.Interface, ns, name, image string, want int, body string, timeout time.Duration) string {
	t.Helper()
	ctx := context.Background()
	var rsName string
	eventually(t, timeout, func() error {
		d, pods, err := deploymentPods(ctx, kube, ns, name)
		if err != nil {
			return err
		}
		if got := d.Spec.Template.Spec.Containers[0].Image; got != image {
			return fmt.Errorf("deployment/%s's template has image %q, want %s", name, got, image)
		}
		if d.Status.ObservedGeneration != d.Generation || d.Status.UpdatedReplicas != int32(want) ||
			d.Status.ReadyReplicas != int32(want) || d.Status.Replicas != int32(want) {
			return fmt.Errorf("deployment/%s status: generation %d observed %d, replicas %d updated %d ready %d, want %d",
				name, d.Generation, d.Status.ObservedGeneration, d.Status.Replicas, d.Status.UpdatedReplicas, d.Status.ReadyReplicas, want)
		}
		revision := d.Annotations["deployment.kubernetes.io/revision"]
		rsList, err := kube.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: metav1.FormatLabelSelector(d.Spec.Selector)})
		if err != nil {
			return err
		}
		rsName = ""
		for _, rs := range rsList.Items {
			if rs.Annotations["deployment.kubernetes.io/revision"] == revision {
				rsName = rs.Name
				if got := rs.Spec.Template.Spec.Containers[0].Image; got != image {
					return fmt.Errorf("replicaset %s (revision %s) has image %s, want %s", rs.Name, revision, got, image)
				}
			}
		}
		if rsName == "" {
			return fmt.Errorf("no replica set of deployment/%s has its revision %s", name, revision)
		}
		if len(pods) != want {
			var names []string
			for _, p := range pods {
				names = append(names, p.Name+"("+string(p.Status.Phase)+")")
			}
			return fmt.Errorf("deployment/%s has pods %v, want %d", name, names, want)
		}
		for _, p := range pods {
			if owner := podOwner(p); owner != rsName {
				return fmt.Errorf("pod %s belongs to %q, want the current replica set %s", p.Name, owner, rsName)
			}
			if p.Status.Phase != corev1.PodRunning {
				return fmt.Errorf("pod %s is %s", p.Name, p.Status.Phase)
			}
			ready := false
			for _, c := range p.Status.Conditions {
				ready = ready || c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue
			}
			if !ready {
				return fmt.Errorf("pod %s is not ready", p.Name)
			}
			if got := p.Spec.Containers[0].Image; got != image {
				return fmt.Errorf("pod %s runs image %s, want %s", p.Name, got, image)
			}
			if err := podAnswers(p, body); err != nil {
				return err
			}
		}
		return nil
	})
	return rsName
}

// TestNewAppDeployment is the deployment walkthrough with a Deployment
// instead of a DeploymentConfig, as oc 4's new-app makes it: an image
// stream following the app's image in the external registry, `new-app
// mytime:latest` making a Deployment whose pod runs the tag's image, and a
// new push of the app rolling the Deployment out again (a new ReplicaSet,
// a new pod running the new digest) through the image trigger, with
// nothing typed.
func TestNewAppDeployment(t *testing.T) {
	requireAppPods(t)
	requireRegistryTools(t)
	hub := buildtest.StartRegistry(t, hubUser, hubPassword)
	buildtest.PushBusybox(t, hub)
	first := servingImage(t, hub, "veer/mytime:latest", "v1")
	s := startServer(t, "--registry-ca", hub.Host+"="+hub.CAFile, "--image-import-interval="+importInterval.String())
	c := s.newCLI()
	cfg := s.restConfig()
	kube := kubernetes.NewForConfigOrDie(cfg)
	images := imageclient.NewForConfigOrDie(cfg)
	ctx := context.Background()
	ns := "snow"

	c.run("new-project", ns)
	c.run("create", "secret", "docker-registry", "dockerhub", "--docker-server="+hub.Host,
		"--docker-username="+hubUser, "--docker-password="+hubPassword)
	c.run("secrets", "link", "default", "dockerhub", "--for=pull")
	c.run("create", "-f", fixture(t, "imagestream.yaml", "REGISTRY", hub.Host))
	waitTagImage(t, images, ns, "mytime", "latest", first, 30*time.Second)

	out := c.run("new-app", "mytime:latest", "--name", "mytime")
	for _, want := range []string{`deployment.apps "mytime" created`, `service "mytime" created`} {
		if !strings.Contains(out, want) {
			t.Errorf("new-app output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "deploymentconfig") {
		t.Errorf("new-app without --as-deployment-config made a DeploymentConfig:\n%s", out)
	}
	d, err := kube.AppsV1().Deployments(ns).Get(ctx, "mytime", getOpts)
	if err != nil {
		t.Fatal(err)
	}
	var triggers []struct {
		From      struct{ Kind, Name string }
		FieldPath string
	}
	mustJSON(t, d.Annotations["image.openshift.io/triggers"], &triggers)
	if len(triggers) != 1 || triggers[0].From.Kind != "ImageStreamTag" || triggers[0].From.Name != "mytime:latest" ||
		triggers[0].FieldPath != `spec.template.spec.containers[?(@.name=="mytime")].image` {
		t.Errorf("deployment/mytime's image.openshift.io/triggers = %+v", triggers)
	}
	firstImage := hub.Host + "/veer/mytime@" + first
	firstRS := waitDeploymentServing(t, kube, ns, "mytime", firstImage, 1, "v1\n", 3*time.Minute)
	if out := c.run("get", "pods"); !strings.Contains(out, firstRS) || !strings.Contains(out, "Running") {
		t.Errorf("get pods:\n%s", out)
	}
	if out := c.run("rollout", "status", "deployment/mytime"); !strings.Contains(out, "successfully rolled out") {
		t.Errorf("rollout status deployment/mytime:\n%s", out)
	}

	// A new version of the app in the external registry: imported on
	// schedule, written into the Deployment by the image trigger, rolled
	// out by Kubernetes' deployment controller.
	second := servingImage(t, hub, "veer/mytime:latest", "v2")
	if second == first {
		t.Fatal("the second image has the first one's digest")
	}
	waitTagImage(t, images, ns, "mytime", "latest", second, 10*importInterval)
	secondImage := hub.Host + "/veer/mytime@" + second
	secondRS := waitDeploymentServing(t, kube, ns, "mytime", secondImage, 1, "v2\n", 3*time.Minute)
	if secondRS == firstRS {
		t.Errorf("the new image rolled out in the same replica set %s", firstRS)
	}
	d, err = kube.AppsV1().Deployments(ns).Get(ctx, "mytime", getOpts)
	if err != nil {
		t.Fatal(err)
	}
	if rev := d.Annotations["deployment.kubernetes.io/revision"]; rev != "2" {
		t.Errorf("deployment/mytime is at revision %q, want 2", rev)
	}
	old, err := kube.AppsV1().ReplicaSets(ns).Get(ctx, firstRS, getOpts)
	if err != nil {
		t.Fatal(err)
	}
	if old.Spec.Replicas == nil || *old.Spec.Replicas != 0 {
		t.Errorf("the first replica set %s still wants %v replicas", firstRS, old.Spec.Replicas)
	}
	if out := c.run("rollout", "history", "deployment/mytime"); !regexp.MustCompile(`(?m)^1\s`).MatchString(out) || !regexp.MustCompile(`(?m)^2\s`).MatchString(out) {
		t.Errorf("rollout history deployment/mytime:\n%s", out)
	}
}

// TestKubernetesWorkloads drives Kubernetes' own workload kinds with
// kubectl on one server: a Deployment created, scaled, given a new image
// and rolled back; a Job run to completion; a CronJob whose Jobs (one made
// from it by hand, one on its schedule) complete. Their pods run on
// Slipway's node, pulling from the private external registry with the
// service account's pull secret.
func TestKubernetesWorkloads(t *testing.T) {
	requireAppPods(t)
	requireRegistryTools(t)
	kubectl := requireKubectl(t)
	hub := buildtest.StartRegistry(t, hubUser, hubPassword)
	busybox := buildtest.PushBusybox(t, hub)
	v1, v2 := webImage(t, hub, "v1"), webImage(t, hub, "v2")
	s := startServer(t, "--registry-ca", hub.Host+"="+hub.CAFile)
	c := s.newCLI()
	kube := kubernetes.NewForConfigOrDie(s.restConfig())
	ctx := context.Background()
	ns := "kube"
	run := kubectlRunner(t, kubectl, s)

	c.run("new-project", ns)
	c.run("create", "secret", "docker-registry", "dockerhub", "--docker-server="+hub.Host,
		"--docker-username="+hubUser, "--docker-password="+hubPassword)
	c.run("secrets", "link", "default", "dockerhub", "--for=pull")

	// The CronJob first: its schedule fires within a minute, while the
	// other steps run.
	run("-n", ns, "create", "cronjob", "tick", "--image="+busybox, "--schedule=* * * * *", "--", "sh", "-c", "echo tick")
	cronCreated := time.Now()

	t.Run("Deployment", func(t *testing.T) {
		run := kubectlRunner(t, kubectl, s)
		if out := run("-n", ns, "create", "deployment", "web", "--image="+v1); !strings.Contains(out, "deployment.apps/web created") {
			t.Errorf("kubectl create deployment: %s", out)
		}
		rs1 := waitDeploymentServing(t, kube, ns, "web", v1, 1, "v1\n", 2*time.Minute)

		run("-n", ns, "scale", "deployment", "web", "--replicas=2")
		if rs := waitDeploymentServing(t, kube, ns, "web", v1, 2, "v1\n", 2*time.Minute); rs != rs1 {
			t.Errorf("scaling made replica set %s, want %s scaled", rs, rs1)
		}

		run("-n", ns, "set", "image", "deployment/web", "web="+v2)
		if out := run("-n", ns, "rollout", "status", "deployment/web", "--timeout=2m"); !strings.Contains(out, "successfully rolled out") {
			t.Errorf("kubectl rollout status:\n%s", out)
		}
		rs2 := waitDeploymentServing(t, kube, ns, "web", v2, 2, "v2\n", 2*time.Minute)
		if rs2 == rs1 {
			t.Errorf("set image rolled out in the same replica set %s", rs1)
		}

		run("-n", ns, "rollout", "undo", "deployment/web")
		rs3 := waitDeploymentServing(t, kube, ns, "web", v1, 2, "v1\n", 2*time.Minute)
		if rs3 != rs1 {
			t.Errorf("rollout undo runs replica set %s, want the first one %s back", rs3, rs1)
		}
		if out := run("-n", ns, "get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}"); out != v1 {
			t.Errorf("after rollout undo the template image is %q, want %s", out, v1)
		}
		if out := run("-n", ns, "get", "deployment", "web", "-o", `jsonpath={.metadata.annotations.deployment\.kubernetes\.io/revision}`); out != "3" {
			t.Errorf("after rollout undo deployment/web is at revision %q, want 3", out)
		}
	})

	// The Deployment's pods by Service: cluster IP from the host, DNS name
	// from a pod (kubectl exec), and kubectl port-forward.
	t.Run("Service", func(t *testing.T) {
		run := kubectlRunner(t, kubectl, s)
		run("-n", ns, "expose", "deployment", "web", "--port=80", "--target-port=8080")
		ip := run("-n", ns, "get", "service", "web", "-o", "jsonpath={.spec.clusterIP}")
		client := &http.Client{Timeout: 5 * time.Second}
		eventually(t, time.Minute, func() error {
			resp, err := client.Get("http://" + ip + "/")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if string(body) != "v1\n" {
				return errorf("cluster IP %s answered %q", ip, body)
			}
			return nil
		})
		// From a pod: the cluster IP, and the Service's DNS names through
		// the cluster DNS (busybox's own resolver: its static wget's
		// glibc lookups crash, so names are resolved with nslookup).
		out, errOut, err := runBinary(t, kubectl, s.kubeconfig(), nil, nil, "-n", ns, "exec", "deploy/web", "--",
			"sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 "+ip+" 80 | tail -n 1")
		if err != nil || out != "v1\n" {
			t.Errorf("a pod fetching the cluster IP %s: %q %v %s", ip, out, err, errOut)
		}
		for _, name := range []string{"web." + ns + ".svc.cluster.local", "web"} {
			out, errOut, err := runBinary(t, kubectl, s.kubeconfig(), nil, nil, "-n", ns, "exec", "deploy/web", "--",
				"sh", "-c", "nslookup "+name+" | tail -n +3")
			if err != nil || !strings.Contains(out, ip) {
				t.Errorf("a pod resolving %s: %q %v %s, want %s", name, out, err, errOut, ip)
			}
			out, errOut, err = runBinary(t, kubectl, s.kubeconfig(), nil, nil, "-n", ns, "exec", "deploy/web", "--",
				"sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 "+name+" 80 | tail -n 1")
			if err != nil || out != "v1\n" {
				t.Errorf("a pod fetching http://%s/: %q %v %s", name, out, err, errOut)
			}
		}
		if out, _, err := runBinary(t, kubectl, s.kubeconfig(), nil, nil, "-n", ns, "exec", "deploy/web", "--", "sh", "-c", "exit 7"); err == nil {
			t.Errorf("kubectl exec of a failing command succeeded: %q", out)
		}
		// The replica set controller, not an admin, made the pods: they run
		// as restricted-v2 makes them, as the project's first UID with no
		// capability left, on the node (not only in their spec).
		nsObj, err := kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		uid, _, _ := strings.Cut(nsObj.Annotations["openshift.io/sa.scc.uid-range"], "/")
		out, errOut, err = runBinary(t, kubectl, s.kubeconfig(), nil, nil, "-n", ns, "exec", "deploy/web", "--", "sh", "-c", "id -u; grep CapEff /proc/1/status")
		if want := uid + "\nCapEff:\t0000000000000000\n"; err != nil || uid == "" || out != want {
			t.Errorf("the pod's user and capabilities: %q %v %s; want %q", out, err, errOut, want)
		}

		cmd := exec.Command(kubectl, "--kubeconfig", s.kubeconfig(), "-n", ns, "port-forward", "deploy/web", ":8080")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			t.Fatalf("kubectl port-forward printed %q: %v", line, err)
		}
		// "Forwarding from 127.0.0.1:PORT -> 8080"
		fields := strings.Fields(line)
		if len(fields) < 3 {
			t.Fatalf("kubectl port-forward printed %q", line)
		}
		resp, err := client.Get("http://" + fields[2] + "/")
		if err != nil {
			t.Fatalf("through kubectl port-forward: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "v1\n" {
			t.Errorf("through kubectl port-forward: %q", body)
		}
	})

	t.Run("Job", func(t *testing.T) {
		run := kubectlRunner(t, kubectl, s)
		run("-n", ns, "create", "job", "hello", "--image="+busybox, "--", "sh", "-c", "echo hello from a job")
		job := waitJobSucceeded(t, kube, ns, "hello", 2*time.Minute)
		if job.Status.Failed != 0 {
			t.Errorf("job/hello failed %d times before it succeeded", job.Status.Failed)
		}
		if out := run("-n", ns, "logs", "job/hello"); !strings.Contains(out, "hello from a job") {
			t.Errorf("kubectl logs job/hello = %q", out)
		}
		// A failing Job fails: the node reports the exit code.
		run("-n", ns, "create", "-f", writeManifest(t, "failing-job.yaml", `apiVersion: batch/v1
kind: Job
metadata:
  name: failing
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: fail
        image: `+busybox+`
        command: ["sh", "-c", "exit 3"]
`))
		eventually(t, 2*time.Minute, func() error {
			job, err := kube.BatchV1().Jobs(ns).Get(ctx, "failing", getOpts)
			if err != nil {
				return err
			}
			if job.Status.Succeeded != 0 {
				t.Fatalf("job/failing succeeded with exit code 3")
			}
			if !jobCondition(job, batchv1.JobFailed) {
				return fmt.Errorf("job/failing: active %d failed %d, conditions %+v", job.Status.Active, job.Status.Failed, job.Status.Conditions)
			}
			return nil
		})
	})

	t.Run("CronJob", func(t *testing.T) {
		run := kubectlRunner(t, kubectl, s)
		run("-n", ns, "create", "job", "tick-now", "--from=cronjob/tick")
		waitJobSucceeded(t, kube, ns, "tick-now", 2*time.Minute)
		if out := run("-n", ns, "logs", "job/tick-now"); !strings.Contains(out, "tick") {
			t.Errorf("kubectl logs job/tick-now = %q", out)
		}
		// The schedule fires at the next whole minute after the CronJob's
		// creation. tick-now is the CronJob's too (kubectl sets the owner),
		// so it does not count.
		deadline := time.Until(cronCreated.Add(2*time.Minute + 30*time.Second))
		eventually(t, deadline, func() error {
			cj, err := kube.BatchV1().CronJobs(ns).Get(ctx, "tick", getOpts)
			if err != nil {
				return err
			}
			jobs, err := kube.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			var seen []string
			for _, j := range jobs.Items {
				owner := metav1.GetControllerOf(&j)
				if j.Name == "tick-now" || owner == nil || owner.Kind != "CronJob" || owner.Name != "tick" {
					continue
				}
				if j.Status.Succeeded == 1 && jobCondition(&j, batchv1.JobComplete) {
					if cj.Status.LastScheduleTime == nil {
						return fmt.Errorf("cronjob/tick has no last schedule time though its job %s completed", j.Name)
					}
					return nil
				}
				seen = append(seen, fmt.Sprintf("%s: active %d succeeded %d failed %d", j.Name, j.Status.Active, j.Status.Succeeded, j.Status.Failed))
			}
			return fmt.Errorf("no scheduled job of cronjob/tick has completed (last schedule %v, jobs %v)", cj.Status.LastScheduleTime, seen)
		})
	})
}

// waitJobSucceeded waits until Job name has succeeded once and is
// Complete, and returns it.
func waitJobSucceeded(t *testing.T, kube kubernetes.Interface, ns, name string, timeout time.Duration) *batchv1.Job {
	t.Helper()
	var job *batchv1.Job
	eventually(t, timeout, func() error {
		var err error
		job, err = kube.BatchV1().Jobs(ns).Get(context.Background(), name, getOpts)
		if err != nil {
			return err
		}
		if jobCondition(job, batchv1.JobFailed) {
			t.Fatalf("job/%s failed: %+v", name, job.Status)
		}
		if job.Status.Succeeded != 1 || !jobCondition(job, batchv1.JobComplete) {
			return fmt.Errorf("job/%s: active %d succeeded %d failed %d, conditions %+v", name, job.Status.Active, job.Status.Succeeded, job.Status.Failed, job.Status.Conditions)
		}
		return nil
	})
	return job
}

func jobCondition(job *batchv1.Job, typ batchv1.JobConditionType) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == typ && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// writeManifest writes content to a file named name in a temporary
// directory and returns its path.
func writeManifest(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	writeFile(t, path, content)
	return path
}

const widgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.slipway.example.com
spec:
  group: slipway.example.com
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    shortNames: [wdg]
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size:
                type: integer
                minimum: 1
              color:
                type: string
    additionalPrinterColumns:
    - name: Size
      type: integer
      jsonPath: .spec.size
`

// TestCustomResources: kubectl lists CustomResourceDefinitions, one
// created becomes Established, and objects of its kind are created,
// listed (with its printer columns), read, validated against its schema
// and deleted with kubectl.
func TestCustomResources(t *testing.T) {
	kubectl := requireKubectl(t)
	s := startServer(t)
	run := kubectlRunner(t, kubectl, s)
	runFail := func(args ...string) string {
		t.Helper()
		out, errOut, err := runBinary(t, kubectl, s.kubeconfig(), nil, nil, args...)
		if err == nil {
			t.Fatalf("kubectl %s succeeded, want failure\n%s", strings.Join(args, " "), out)
		}
		return errOut
	}

	// An empty list at first: the command works.
	if out := run("get", "crd"); strings.Contains(out, "widgets") {
		t.Errorf("kubectl get crd before any was created:\n%s", out)
	}
	if out := run("create", "-f", writeManifest(t, "crd.yaml", widgetCRD)); !strings.Contains(out, "customresourcedefinition.apiextensions.k8s.io/widgets.slipway.example.com created") {
		t.Errorf("kubectl create crd: %s", out)
	}
	run("wait", "--for=condition=Established", "--timeout=60s", "crd/widgets.slipway.example.com")
	if out := run("get", "crd"); !strings.Contains(out, "widgets.slipway.example.com") {
		t.Errorf("kubectl get crd:\n%s", out)
	}
	if out := run("api-resources", "--api-group=slipway.example.com"); !strings.Contains(out, "widgets") || !strings.Contains(out, "wdg") {
		t.Errorf("kubectl api-resources --api-group=slipway.example.com:\n%s", out)
	}

	run("create", "namespace", "crs")
	widget := `apiVersion: slipway.example.com/v1
kind: Widget
metadata:
  name: gear
spec:
  size: 3
  color: blue
`
	if out := run("-n", "crs", "create", "-f", writeManifest(t, "widget.yaml", widget)); !strings.Contains(out, "widget.slipway.example.com/gear created") {
		t.Errorf("kubectl create widget: %s", out)
	}
	if out := run("-n", "crs", "get", "widget", "gear", "-o", "jsonpath={.spec.color}/{.spec.size}"); out != "blue/3" {
		t.Errorf("kubectl get widget gear = %q, want blue/3", out)
	}
	if out := run("-n", "crs", "get", "wdg"); !strings.Contains(out, "gear") || !strings.Contains(out, "SIZE") {
		t.Errorf("kubectl get wdg (printer columns):\n%s", out)
	}
	// The schema is enforced.
	bad := strings.Replace(strings.Replace(widget, "gear", "broken", 1), "size: 3", "size: 0", 1)
	if errOut := runFail("-n", "crs", "create", "-f", writeManifest(t, "bad.yaml", bad)); !strings.Contains(errOut, "spec.size") {
		t.Errorf("a widget of size 0 was refused without naming spec.size: %s", errOut)
	}
	run("-n", "crs", "patch", "widget", "gear", "--type=merge", "-p", `{"spec":{"size":5}}`)
	if out := run("-n", "crs", "get", "widget", "gear", "-o", "jsonpath={.spec.size}"); out != "5" {
		t.Errorf("after the patch widget gear has size %q, want 5", out)
	}
	run("-n", "crs", "delete", "widget", "gear")
	if errOut := runFail("-n", "crs", "get", "widget", "gear"); !strings.Contains(errOut, "NotFound") && !strings.Contains(errOut, "not found") {
		t.Errorf("deleted widget: %s", errOut)
	}
}
