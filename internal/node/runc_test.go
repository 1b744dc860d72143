package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/slipway-dev/slipway/internal/builder/build/buildtest"
	"github.com/slipway-dev/slipway/internal/node/cni"
	"github.com/slipway-dev/slipway/internal/podlogs"
	"github.com/slipway-dev/slipway/internal/testregistry"
	"github.com/slipway-dev/slipway/internal/testserver"
)

// testNetwork is a pod network of the tests' own, so they do not meet a
// server's pods on slipway0.
var testNetwork = cni.Config{Name: "slipway-nodetest", Bridge: "slwtest0", Subnet: "10.213.0.0/24"}

// runcConfig is the agent's configuration with the runc runtime on the
// tests' own pod network.
func runcConfig(t *testing.T, api *testAPI, dataDir string) Config {
	cfg := api.agentConfig(t, dataDir)
	cfg.DisableRunc = false
	cfg.Network = testNetwork
	cfg.RestartBackoff, cfg.MaxRestartBackoff = 500*time.Millisecond, 2*time.Second
	cfg.ReservedHostPorts = []int32{reservedTestPort}
	return cfg
}

// reservedTestPort stands for one of the server's own ports.
const reservedTestPort = 4999

// startRuncAgent runs an agent with the runc runtime on dataDir, as the
// node of rc's identity; the returned function stops it (as the server
// does at shutdown).
func startRuncAgent(t *testing.T, api *testAPI, rc *rest.Config, dataDir string) (*Agent, func()) {
	t.Helper()
	agent, stop := runAgent(t, api, rc, runcConfig(t, api, dataDir))
	if _, ok := agent.runtimeFor(&corev1.Pod{}).(*runcRuntime); !ok {
		t.Fatal("the agent has no runc runtime")
	}
	return agent, stop
}

func requireRuncDeps(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("runc containers, overlay mounts and CNI need root; run the node tests as root")
	}
	for _, bin := range []string{"runc", "ip", "iptables"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (hack/install-deps.sh)", bin)
		}
	}
}

func appPod(name, image string, script string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			ServiceAccountName:            "builder",
			TerminationGracePeriodSeconds: ptrInt64(2),
			Containers: []corev1.Container{{
				Name: "app", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
				Command: []string{"sh", "-c", script},
			}},
		},
	}
}

func ptrInt64(v int64) *int64 { return &v }

func podlogsDir(dataDir string) podlogs.Dir { return podlogs.Dir(dataDir) }

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func httpGet(url string) (string, error) {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func runcIDs(t *testing.T, dataDir string) []string {
	t.Helper()
	out, err := exec.Command("runc", "--root", filepath.Join(dataDir, "runc"), "list", "-q").Output()
	if err != nil {
		t.Fatalf("runc list: %v", err)
	}
	return strings.Fields(string(out))
}

// deletePodAndWait deletes the pod and waits until it is gone from the API
// and runc runs nothing (the agent stops its containers, then removes the
// terminating pod).
func deletePodAndWait(t *testing.T, api *testAPI, dataDir, name string) {
	t.Helper()
	ctx := context.Background()
	if err := api.client.CoreV1().Pods(api.ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := api.client.CoreV1().Pods(api.ns).Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err) && len(runcIDs(t, dataDir)) == 0, nil
	})
	if err != nil {
		t.Fatalf("pod %s was not removed after deletion, or its containers still run (%v): %v", name, runcIDs(t, dataDir), err)
	}
}

func TestRuncPods(t *testing.T) {
	requireRuncDeps(t)
	api := startAPI(t)
	createServiceAccount(t, api)
	reg := testregistry.Start(t, testregistry.Options{})
	busybox := buildtest.PushBusybox(t, reg)
	dataDir := t.TempDir()
	startRuncAgent(t, api, api.nodeConfig(t), dataDir)

	t.Run("serves on its pod IP and host port, with its env, args, workdir and limits", func(t *testing.T) {
		hostPort, _ := strconv.Atoi(strings.TrimPrefix(buildtest.FreePort(t), "127.0.0.1:"))
		pod := appPod("web", busybox, `echo "greeting=$GREETING cwd=$(pwd) arg=$1 user=$(id -u)"; mkdir -p /www; echo "hello $GREETING" > /www/index.html; exec httpd -f -p 8080 -h /www`)
		c := &pod.Spec.Containers[0]
		c.Command = append(c.Command, "sh", "$(GREETING)-arg")
		c.Env = []corev1.EnvVar{{Name: "GREETING", Value: "world"}}
		c.WorkingDir = "/data/work"
		c.Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, HostPort: int32(hostPort), Protocol: corev1.ProtocolTCP}}
		c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi"), corev1.ResourceCPU: resource.MustParse("500m")}
		// Bound by the test, not the scheduler: deletion is graceful all
		// the same, and the agent removes the pod once its containers are
		// gone.
		pod.Spec.NodeName = api.node
		c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("http")}}, PeriodSeconds: 1}
		c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}},
			InitialDelaySeconds: 1, PeriodSeconds: 1, FailureThreshold: 2}
		created := createPod(t, api, pod)

		p := waitForPod(t, api, "web", time.Minute, podReady)
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || p.Status.HostIP == "" {
			t.Fatalf("ready pod: phase %s, podIP %q, hostIP %q", p.Status.Phase, p.Status.PodIP, p.Status.HostIP)
		}
		if !strings.HasPrefix(p.Status.PodIP, "10.213.0.") {
			t.Errorf("podIP %s is not in the pod network", p.Status.PodIP)
		}
		for _, url := range []string{"http://" + p.Status.PodIP + ":8080/", fmt.Sprintf("http://127.0.0.1:%d/", hostPort)} {
			body, err := httpGet(url)
			if err != nil || strings.TrimSpace(body) != "hello world" {
				t.Errorf("GET %s = %q, %v; want hello world", url, body, err)
			}
		}
		log, _ := os.ReadFile(podlogsDir(dataDir).ContainerLog(api.ns, "web", "app"))
		if !strings.Contains(string(log), "greeting=world cwd=/data/work arg=world-arg user=0") {
			t.Errorf("log = %q; want env, workdir and expanded args", log)
		}
		cs := p.Status.ContainerStatuses[0]
		id := strings.TrimPrefix(cs.ContainerID, "runc://")
		if id == cs.ContainerID || !cs.Ready || cs.State.Running == nil {
			t.Fatalf("container status %+v", cs)
		}
		if !strings.HasPrefix(cs.ImageID, reg.Host+"/library/busybox@sha256:") {
			t.Errorf("imageID %q; want the image's repository at its digest", cs.ImageID)
		}
		// The passing tcpSocket liveness probe leaves it alone.
		time.Sleep(3 * time.Second)
		if p, err := api.client.CoreV1().Pods(api.ns).Get(context.Background(), "web", metav1.GetOptions{}); err != nil || p.Status.ContainerStatuses[0].RestartCount != 0 {
			t.Errorf("a container with a passing liveness probe was restarted (%v)", err)
		}
		limit, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", specNamespace, id, "memory.limit_in_bytes"))
		if err != nil {
			// cgroup v2
			limit, err = os.ReadFile(filepath.Join("/sys/fs/cgroup", specNamespace, id, "memory.max"))
		}
		if err != nil || strings.TrimSpace(string(limit)) != strconv.Itoa(64<<20) {
			t.Errorf("memory limit in the cgroup = %q, %v; want %d", limit, err, 64<<20)
		}

		if err := api.client.CoreV1().Pods(api.ns).Delete(context.Background(), "web", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		terminating := waitForPod(t, api, "web", 10*time.Second, func(p *corev1.Pod) bool { return p.DeletionTimestamp != nil })
		if len(runcIDs(t, dataDir)) != 1 && terminating.Status.Phase == corev1.PodRunning {
			t.Errorf("a terminating pod's container is gone before the API object")
		}
		deletePodAndWait(t, api, dataDir, "web")
		if _, err := os.Stat(cni.NetNSPath(netnsName(string(created.UID)))); !os.IsNotExist(err) {
			t.Errorf("network namespace of the deleted pod: %v; want it gone", err)
		}
		if _, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", hostPort)); err == nil {
			t.Errorf("the host port still answers after the pod was deleted")
		}
	})

	t.Run("a crashing container restarts with back-off", func(t *testing.T) {
		createPod(t, api, appPod("crash", busybox, "echo boom; exit 3"))
		sawBackOff := false
		p := waitForPod(t, api, "crash", time.Minute, func(p *corev1.Pod) bool {
			if len(p.Status.ContainerStatuses) == 0 {
				return false
			}
			cs := p.Status.ContainerStatuses[0]
			if w := cs.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
				sawBackOff = true
			}
			return cs.RestartCount >= 3 && sawBackOff
		})
		cs := p.Status.ContainerStatuses[0]
		if last := cs.LastTerminationState.Terminated; last == nil || last.ExitCode != 3 {
			t.Errorf("lastState = %+v; want terminated with exit code 3", cs.LastTerminationState)
		}
		if p.Status.Phase != corev1.PodRunning {
			t.Errorf("phase = %s; a restarting pod is Running", p.Status.Phase)
		}
		// Through kube-apiserver and the kubelet API: the previous run's
		// output alone, not every run's.
		b, err := api.client.CoreV1().Pods(api.ns).GetLogs("crash", &corev1.PodLogOptions{Previous: true}).DoRaw(context.Background())
		if err != nil || string(b) != "boom\n" {
			t.Errorf("previous logs = %q, %v; want one run's boom", b, err)
		}
		deletePodAndWait(t, api, dataDir, "crash")
	})

	t.Run("a failing liveness probe restarts the container", func(t *testing.T) {
		pod := appPod("live", busybox, "exec sleep 1000")
		pod.Spec.Containers[0].LivenessProbe = &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"test", "-f", "/tmp/healthy"}}},
			PeriodSeconds: 1, FailureThreshold: 2,
		}
		createPod(t, api, pod)
		p := waitForPod(t, api, "live", time.Minute, func(p *corev1.Pod) bool {
			return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
		})
		if last := p.Status.ContainerStatuses[0].LastTerminationState.Terminated; last == nil || last.ExitCode != 137 {
			t.Errorf("lastState = %+v; want killed (137) after the liveness probe failed", p.Status.ContainerStatuses[0].LastTerminationState)
		}
		deletePodAndWait(t, api, dataDir, "live")
	})

	t.Run("a pod that runs to completion succeeds", func(t *testing.T) {
		pod := appPod("once", busybox, "test -f /var/run/secrets/kubernetes.io/serviceaccount/token && cat /etc/hostname")
		pod.Spec.RestartPolicy = corev1.RestartPolicyNever
		createPod(t, api, pod)
		p := waitForPod(t, api, "once", time.Minute, terminal)
		if p.Status.Phase != corev1.PodSucceeded {
			t.Fatalf("phase = %s, statuses %+v", p.Status.Phase, p.Status.ContainerStatuses)
		}
		log, _ := os.ReadFile(podlogsDir(dataDir).ContainerLog(api.ns, "once", "app"))
		if strings.TrimSpace(string(log)) != "once" {
			t.Errorf("log = %q; want the pod's hostname", log)
		}
		deletePodAndWait(t, api, dataDir, "once")
	})

	t.Run("containers run under seccomp without NET_RAW, with the capabilities they drop and add", func(t *testing.T) {
		pod := appPod("caps", busybox, "grep -E '^(CapEff|Seccomp):' /proc/self/status")
		pod.Spec.RestartPolicy = corev1.RestartPolicyNever
		// As root (the admin's privileged SCC: anyuid adds no capability,
		// restricted-v2 runs as a UID whose effective set is empty), so
		// that the node's own capability handling shows.
		root := int64(0)
		pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: &root}
		restricted := pod.Spec.Containers[0]
		restricted.Name = "restricted"
		restricted.SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{
			Drop: []corev1.Capability{"ALL"}, Add: []corev1.Capability{"NET_BIND_SERVICE"}}}
		pod.Spec.Containers = append(pod.Spec.Containers, restricted)
		createPod(t, api, pod)
		if p := waitForPod(t, api, "caps", time.Minute, terminal); p.Status.Phase != corev1.PodSucceeded {
			t.Fatalf("phase %s: %+v", p.Status.Phase, p.Status.ContainerStatuses)
		}
		effective := func(container string) (caps uint64, seccompMode string) {
			log, _ := os.ReadFile(podlogsDir(dataDir).ContainerLog(api.ns, "caps", container))
			for line := range strings.Lines(string(log)) {
				k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
				switch k {
				case "CapEff":
					caps, _ = strconv.ParseUint(strings.TrimSpace(v), 16, 64)
				case "Seccomp":
					seccompMode = strings.TrimSpace(v)
				}
			}
			return caps, seccompMode
		}
		const netRaw, netBindService = 1 << 13, 1 << 10
		caps, mode := effective("app")
		if caps == 0 || caps&netRaw != 0 || mode != "2" {
			t.Errorf("default container: CapEff %#x, Seccomp %q; want the default set without NET_RAW, seccomp filter mode 2", caps, mode)
		}
		if caps, mode := effective("restricted"); caps != netBindService || mode != "2" {
			t.Errorf("drop ALL, add NET_BIND_SERVICE: CapEff %#x, Seccomp %q; want %#x and mode 2", caps, mode, netBindService)
		}
		deletePodAndWait(t, api, dataDir, "caps")
	})

	t.Run("a hostPort may not take the server's own ports", func(t *testing.T) {
		// The attack: hostPort 5000 DNATs the host's connections to the
		// internal registry (pushes with their tokens) to the pod.
		pod := appPod("grab", busybox, "exec sleep 1000")
		pod.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080, HostPort: reservedTestPort}}
		createPod(t, api, pod)
		p := waitForPod(t, api, "grab", 30*time.Second, func(p *corev1.Pod) bool {
			return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
				strings.Contains(p.Status.ContainerStatuses[0].State.Waiting.Message, "server's own ports")
		})
		if p.Status.PodIP != "" || p.Status.ContainerStatuses[0].State.Running != nil {
			t.Errorf("the pod got a sandbox: %+v", p.Status)
		}
		deletePodAndWait(t, api, dataDir, "grab")
	})

	t.Run("a subPath link to / in an emptyDir stays in the volume", func(t *testing.T) {
		// The attack: an init container leaves `x -> /` in an emptyDir,
		// the next container mounts subPath x at /host and reads the
		// server's files. A host file stands for admin.token.
		secret := filepath.Join(t.TempDir(), "admin.token")
		if err := os.WriteFile(secret, []byte("host-secret"), 0o600); err != nil {
			t.Fatal(err)
		}
		pod := appPod("subpath", busybox, "cat /host"+secret+" || true; ls /host; cat /host/own")
		pod.Spec.RestartPolicy = corev1.RestartPolicyNever
		pod.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		pod.Spec.InitContainers = []corev1.Container{{
			Name: "plant", Image: busybox, ImagePullPolicy: corev1.PullIfNotPresent,
			Command:      []string{"sh", "-c", "ln -s / /data/x && echo in-the-volume > /data/own"},
			VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
		}}
		pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/host", SubPath: "x"}}
		createPod(t, api, pod)
		p := waitForPod(t, api, "subpath", time.Minute, terminal)
		log, _ := os.ReadFile(podlogsDir(dataDir).ContainerLog(api.ns, "subpath", "app"))
		if strings.Contains(string(log), "host-secret") {
			t.Fatalf("the container read a host file through subPath x -> /:\n%s", log)
		}
		// x resolves inside the volume: to the volume itself.
		if p.Status.Phase != corev1.PodSucceeded || !strings.Contains(string(log), "in-the-volume") {
			t.Errorf("phase %s, log %q; want the volume's own file through subPath x", p.Status.Phase, log)
		}
		deletePodAndWait(t, api, dataDir, "subpath")
	})

	t.Run("an unknown image is ErrImagePull with the registry's message", func(t *testing.T) {
		createPod(t, api, appPod("nope", reg.Ref("library/nope:latest"), "true"))
		p := waitForPod(t, api, "nope", 30*time.Second, func(p *corev1.Pod) bool {
			return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
				p.Status.ContainerStatuses[0].State.Waiting.Reason == "ErrImagePull"
		})
		msg := p.Status.ContainerStatuses[0].State.Waiting.Message
		if !strings.Contains(msg, "library/nope") || !strings.Contains(strings.ToLower(msg), "unknown") {
			t.Errorf("message = %q; want the registry's answer about library/nope", msg)
		}
		waitForPod(t, api, "nope", 30*time.Second, func(p *corev1.Pod) bool {
			return p.Status.ContainerStatuses[0].State.Waiting != nil && p.Status.ContainerStatuses[0].State.Waiting.Reason == "ImagePullBackOff"
		})
		deletePodAndWait(t, api, dataDir, "nope")
	})
}

// agentChildEnv carries the API server's address and credentials to a
// child process running an agent (TestAgentChildProcess).
const agentChildEnv = "SLIPWAY_NODE_TEST_AGENT"

type childConfig struct {
	Host                      string
	CA                        []byte
	CertFile, KeyFile         string
	DataDir, Node, Namespace  string
	CAFile, CAKeyFile, Listen string
}

// TestAgentChildProcess is not a test: it runs an agent for
// TestRuncRestartCleansUp in a process that test kills with SIGKILL.
func TestAgentChildProcess(t *testing.T) {
	raw := os.Getenv(agentChildEnv)
	if raw == "" {
		t.Skip("runs only as TestRuncRestartCleansUp's child")
	}
	var cc childConfig
	if err := json.Unmarshal([]byte(raw), &cc); err != nil {
		t.Fatal(err)
	}
	rc := &rest.Config{Host: cc.Host, TLSClientConfig: rest.TLSClientConfig{CAData: cc.CA, CertFile: cc.CertFile, KeyFile: cc.KeyFile}}
	admin, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	api := &testAPI{srv: &testserver.Server{CABundle: cc.CA, CAFile: cc.CAFile, CAKeyFile: cc.CAKeyFile, Listen: cc.Listen},
		client: admin, config: rc, ns: cc.Namespace, node: cc.Node}
	startRuncAgent(t, api, rc, cc.DataDir)
	select {}
}

func TestRuncRestartCleansUp(t *testing.T) {
	requireRuncDeps(t)
	api := startAPI(t)
	createServiceAccount(t, api)
	reg := testregistry.Start(t, testregistry.Options{})
	busybox := buildtest.PushBusybox(t, reg)
	dataDir := t.TempDir()

	nc := api.nodeConfig(t)
	cc, err := json.Marshal(childConfig{Host: nc.Host, CA: nc.CAData, CertFile: nc.CertFile, KeyFile: nc.KeyFile,
		DataDir: dataDir, Node: api.node, Namespace: api.ns, CAFile: api.srv.CAFile, CAKeyFile: api.srv.CAKeyFile, Listen: api.srv.Listen})
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command(os.Args[0], "-test.run=^TestAgentChildProcess$", "-test.v")
	child.Env = append(os.Environ(), agentChildEnv+"="+string(cc))
	var childLog strings.Builder
	child.Stdout, child.Stderr = &childLog, &childLog
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = child.Process.Kill()
			_ = child.Wait()
		}
	})

	created := createPod(t, api, appPod("survivor", busybox, "exec sleep 1000"))
	first := waitForPod(t, api, "survivor", time.Minute, func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil
	})
	// The agent dies without stopping anything, as in a crash.
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	killed = true
	oldID := strings.TrimPrefix(first.Status.ContainerStatuses[0].ContainerID, "runc://")
	if ids := runcIDs(t, dataDir); len(ids) != 1 || ids[0] != oldID {
		out, err := exec.Command("sh", "-c", "ls -la "+dataDir+"/runc; runc --root "+dataDir+"/runc list").CombinedOutput()
		t.Fatalf("after the crash runc has %v; want the orphan %s (child log:\n%s) %s %v", ids, oldID, childLog.String(), out, err)
	}
	oldIP := first.Status.PodIP

	startRuncAgent(t, api, api.nodeConfig(t), dataDir)
	second := waitForPod(t, api, "survivor", time.Minute, func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil &&
			p.Status.ContainerStatuses[0].ContainerID != first.Status.ContainerStatuses[0].ContainerID
	})
	if rc := second.Status.ContainerStatuses[0].RestartCount; rc != 1 {
		t.Errorf("restartCount = %d after the agent restarted the container; want 1", rc)
	}
	ids := runcIDs(t, dataDir)
	newID := strings.TrimPrefix(second.Status.ContainerStatuses[0].ContainerID, "runc://")
	if len(ids) != 1 || ids[0] != newID {
		t.Errorf("runc has %v; want only the new container %s", ids, newID)
	}
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), filepath.Join(dataDir, "containers", oldID)) {
		t.Errorf("the orphan's rootfs is still mounted")
	}
	if second.Status.PodIP == "" {
		t.Errorf("the pod has no IP after the restart")
	}
	t.Logf("pod IP %s before the crash, %s after", oldIP, second.Status.PodIP)
	netns, _ := filepath.Glob("/run/netns/" + netnsName(string(created.UID)) + "*")
	if len(netns) != 1 {
		t.Errorf("network namespaces of the pod: %v; want one", netns)
	}
	deletePodAndWait(t, api, dataDir, "survivor")
	if ids := runcIDs(t, dataDir); len(ids) != 0 {
		t.Errorf("containers left after the pod was deleted: %v", ids)
	}
}
