package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	appsclient "github.com/openshift/client-go/apps/clientset/versioned"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// requireAppPods skips when app pods cannot run here: they need root,
// runc and the CNI plugins.
func requireAppPods(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("app pods need root (runc, network namespaces)")
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		t.Skip("CNI plugins are not installed (apt-get install containernetworking-plugins; hack/install-deps.sh)")
	}
}

// httpGet returns the body of GET url, with a short timeout.
func httpGet(url string) (string, error) {
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), nil
}

// freePort is a loopback port nobody listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	_, port, err := net.SplitHostPort(freeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// waitRollout waits until dc's latest version is version and its
// replication controller is Complete, and returns the DC.
func waitRollout(t *testing.T, apps appsclient.Interface, b *buildServer, ns, dc string, version int64, timeout time.Duration) *appsv1.DeploymentConfig {
	t.Helper()
	var got *appsv1.DeploymentConfig
	eventually(t, timeout, func() error {
		var err error
		got, err = apps.AppsV1().DeploymentConfigs(ns).Get(context.Background(), dc, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got.Status.LatestVersion != version {
			return fmt.Errorf("dc/%s is at version %d, want %d", dc, got.Status.LatestVersion, version)
		}
		rc, err := b.kube.CoreV1().ReplicationControllers(ns).Get(context.Background(), fmt.Sprintf("%s-%d", dc, version), metav1.GetOptions{})
		if err != nil {
			return err
		}
		switch phase := rc.Annotations["openshift.io/deployment.phase"]; phase {
		case "Complete":
			return nil
		case "Failed":
			logs, _, _ := b.c.exec(nil, "logs", "-n", ns, fmt.Sprintf("dc/%s", dc), fmt.Sprintf("--version=%d", version))
			t.Fatalf("%s failed: %s\n%s", rc.Name, rc.Annotations["openshift.io/deployment.status-reason"], logs)
		default:
			return fmt.Errorf("%s is %s", rc.Name, phase)
		}
		return nil
	})
	return got
}

// TestDeploymentWalkthrough is the second walkthrough to its end: the time
// app built and pushed to the external registry, an ImageStream following
// it on a schedule, `new-app` making a DeploymentConfig that runs it under
// runc, `expose` with a host port that answers with the date, and a new
// push of the app rolling out version 2 with no command typed.
func TestDeploymentWalkthrough(t *testing.T) {
	requireAppPods(t)
	b := startBuildServer(t, "--image-import-interval="+importInterval.String())
	c := b.c
	apps := appsclient.NewForConfigOrDie(b.restConfig())
	images := imageclient.NewForConfigOrDie(b.restConfig())
	uri, _ := gitRepo(t)
	repoDir := strings.TrimPrefix(uri, "file://")
	ns := "snow"

	c.run("new-project", ns)
	c.run("create", "secret", "docker-registry", "dockerhub", "--docker-server="+b.hub.Host,
		"--docker-username="+hubUser, "--docker-password="+hubPassword)
	c.run("secrets", "link", "builder", "dockerhub", "--for=pull,mount")
	// The app's pods pull from the private "Docker Hub" too.
	c.run("secrets", "link", "default", "dockerhub", "--for=pull")
	c.run("create", "secret", "generic", "time-webhook", "--from-literal=WebHookSecretKey=hook-secret")
	c.run("create", "-f", fixture(t, "buildconfig.yaml", "REGISTRY", b.hub.Host, "GIT_URI", uri))
	first := b.waitBuild(t, ns, "time-1", 3*time.Minute)
	if first.Status.Phase != buildv1.BuildPhaseComplete {
		t.Fatalf("time-1 is %s (%s: %s)\n%s", first.Status.Phase, first.Status.Reason, first.Status.Message, b.buildLog(ns, "time-1"))
	}
	c.run("create", "-f", fixture(t, "imagestream.yaml", "REGISTRY", b.hub.Host))
	waitTagImage(t, images, ns, "mytime", "latest", first.Status.Output.To.ImageDigest, 30*time.Second)

	out := c.run("new-app", "mytime:latest", "--name", "mytime", "--as-deployment-config")
	for _, want := range []string{`deploymentconfig.apps.openshift.io "mytime" created`, `service "mytime" created`} {
		if !strings.Contains(out, want) {
			t.Errorf("new-app output lacks %q:\n%s", want, out)
		}
	}
	dc := waitRollout(t, apps, b, ns, "mytime", 1, 3*time.Minute)
	if trig := dc.Spec.Triggers; len(trig) != 2 || trig[1].ImageChangeParams == nil || !trig[1].ImageChangeParams.Automatic {
		t.Errorf("new-app triggers %+v", trig)
	}
	if out := c.run("get", "dc"); !regexp.MustCompile(`mytime\s+1\s+1\s+1\s+config,image\(mytime:latest\)`).MatchString(out) {
		t.Errorf("get dc:\n%s", out)
	}
	if out := c.run("get", "pods"); !regexp.MustCompile(`mytime-1-\w{5}\s+1/1\s+Running`).MatchString(out) {
		t.Errorf("get pods:\n%s", out)
	}

	hostPort := freePort(t)
	c.run("expose", "dc", "mytime", "--port=8080", "--host-port="+hostPort, "--name=mytime-host")
	url := "http://127.0.0.1:" + hostPort + "/"
	year := fmt.Sprint(time.Now().UTC().Year())
	eventually(t, time.Minute, func() error {
		body, err := httpGet(url)
		if err != nil {
			return err
		}
		if !strings.Contains(body, year) {
			return fmt.Errorf("GET %s = %q, want the date", url, body)
		}
		return nil
	})
	if out := c.run("logs", "dc/mytime"); out == "" {
		t.Log("logs dc/mytime is empty (the app logs nothing)")
	}

	// A new version of the app: built, pushed, imported on schedule, and
	// rolled out by the image trigger with nothing typed.
	initSh := filepath.Join(repoDir, "busybox", "init.sh")
	data, err := os.ReadFile(initSh)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, initSh, strings.Replace(string(data), `"$(date)"`, `"v2 $(date)"`, 1))
	git(t, repoDir, "commit", "-q", "-am", "Version 2")
	if code, body := b.webhook(t, ns, "time", "hook-secret", "generic", "", nil); code != http.StatusOK {
		t.Fatalf("generic webhook: %d %s", code, body)
	}
	second := b.waitBuild(t, ns, "time-2", 3*time.Minute)
	if second.Status.Phase != buildv1.BuildPhaseComplete {
		t.Fatalf("time-2 is %s (%s: %s)\n%s", second.Status.Phase, second.Status.Reason, second.Status.Message, b.buildLog(ns, "time-2"))
	}
	dc = waitRollout(t, apps, b, ns, "mytime", 2, 3*time.Minute)
	if d := dc.Status.Details; d == nil || len(d.Causes) == 0 || d.Causes[0].Type != appsv1.DeploymentTriggerOnImageChange {
		t.Errorf("mytime-2 causes %+v, want an image change", dc.Status.Details)
	}
	eventually(t, time.Minute, func() error {
		body, err := httpGet(url)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(body, "v2 ") {
			return fmt.Errorf("GET %s = %q, want version 2", url, body)
		}
		return nil
	})

	// The rollout verbs.
	if out := c.run("rollout", "history", "dc/mytime"); !strings.Contains(out, "Complete") || !regexp.MustCompile(`(?m)^2\s`).MatchString(out) {
		t.Errorf("rollout history:\n%s", out)
	}
	c.run("scale", "dc/mytime", "--replicas=2")
	eventually(t, 2*time.Minute, func() error {
		pods, err := b.kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: labels.SelectorFromSet(map[string]string{"deploymentconfig": "mytime"}).String()})
		if err != nil {
			return err
		}
		ready := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				ready++
			}
		}
		if ready != 2 {
			return fmt.Errorf("%d running mytime pods, want 2", ready)
		}
		return nil
	})
	c.run("rollout", "latest", "dc/mytime")
	waitRollout(t, apps, b, ns, "mytime", 3, 3*time.Minute)
	if out := c.run("rollout", "status", "dc/mytime"); !strings.Contains(out, "successfully rolled out") {
		t.Errorf("rollout status:\n%s", out)
	}
	c.run("rollout", "undo", "dc/mytime", "--to-revision=1")
	waitRollout(t, apps, b, ns, "mytime", 4, 3*time.Minute)
	eventually(t, time.Minute, func() error {
		body, err := httpGet(url)
		if err != nil {
			return err
		}
		if strings.HasPrefix(body, "v2 ") || !strings.Contains(body, year) {
			return fmt.Errorf("GET %s = %q, want version 1 back", url, body)
		}
		return nil
	})
}

// TestDeploymentConfigFromYAML: the walkthrough's dc.yaml works unchanged and
// rolls out once its image stream tag resolves; deleting the project stops
// its pods.
func TestDeploymentConfigFromYAML(t *testing.T) {
	requireAppPods(t)
	b := startBuildServer(t, "--image-import-interval="+importInterval.String())
	c := b.c
	apps := appsclient.NewForConfigOrDie(b.restConfig())
	ns := "yaml"
	c.run("new-project", ns)
	c.run("create", "secret", "docker-registry", "dockerhub", "--docker-server="+b.hub.Host,
		"--docker-username="+hubUser, "--docker-password="+hubPassword)
	c.run("secrets", "link", "default", "dockerhub", "--for=pull")
	// The image: busybox answering on 8080 like the time app.
	c.run("create", "-f", fixture(t, "dc.yaml"))
	// busybox's own command (sh) exits: give the container the app's. The
	// first rollout waits for the image trigger, so this is still version 1.
	c.run("patch", "dc", "mytime", "--type=json", "-p", `[{"op":"add","path":"/spec/template/spec/containers/0/command","value":["sh","-c","while true; do printf 'HTTP/1.1 200 OK\r\n\r\nyaml\n' | nc -l -p 8080; done"]}]`)
	if out := c.run("get", "dc", "mytime", "-o", "jsonpath={.status.latestVersion}"); out != "0" {
		t.Errorf("dc/mytime rolled out before its image resolved: latestVersion %s", out)
	}
	c.run("tag", b.hub.Host+"/library/busybox:latest", "mytime:latest")
	waitRollout(t, apps, b, ns, "mytime", 1, 3*time.Minute)
	var podIP string
	eventually(t, time.Minute, func() error {
		pods, err := b.kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "deploymentconfig=mytime"})
		if err != nil {
			return err
		}
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
				podIP = p.Status.PodIP
				return nil
			}
		}
		return fmt.Errorf("no running mytime pod with an IP")
	})
	eventually(t, time.Minute, func() error {
		body, err := httpGet("http://" + net.JoinHostPort(podIP, "8080") + "/")
		if err != nil {
			return err
		}
		if !strings.Contains(body, "yaml") {
			return fmt.Errorf("pod answered %q", body)
		}
		return nil
	})
	c.run("delete", "project", ns)
	eventually(t, 2*time.Minute, func() error {
		out, err := exec.Command("runc", "--root", filepath.Join(b.dataDir, "runc"), "list", "-q").Output()
		if err != nil {
			return nil // no runc state at all: nothing runs
		}
		if s := strings.TrimSpace(string(out)); s != "" {
			return fmt.Errorf("containers still running after the project's deletion: %s", s)
		}
		return nil
	})
}
