package node

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/slipway-dev/slipway/internal/podlogs"
)

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func pidOf(t *testing.T, p *corev1.Pod) int {
	t.Helper()
	id := p.Status.ContainerStatuses[0].ContainerID
	pid, err := strconv.Atoi(strings.TrimPrefix(id, "host-process://"))
	if err != nil {
		t.Fatalf("container ID %q: %v", id, err)
	}
	return pid
}

func TestAgent(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("needs /bin/sh")
	}
	api := startAPI(t)
	createServiceAccount(t, api)
	dataDir := t.TempDir()
	startAgent(t, api, dataDir)
	logs := podlogs.Dir(dataDir)
	ctx := context.Background()

	t.Run("succeeds with secrets, rewritten env and the agent's env", func(t *testing.T) {
		_, err := api.client.CoreV1().Secrets(api.ns).Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "push"},
			Type:       corev1.SecretTypeDockercfg,
			Data:       map[string][]byte{".dockercfg": []byte(`{"reg":{"auth":"eDp5"}}`)},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		script := `echo "hello from $HOSTNAME"
echo "push=$PUSH_DOCKERCFG_PATH"
cat "$PUSH_DOCKERCFG_PATH/.dockercfg"; echo
stat -c %a "$PUSH_DOCKERCFG_PATH/.dockercfg"
echo "token=$(cat "$SLIPWAY_SERVICEACCOUNT_DIR/token")"
echo "ns=$(cat "$SLIPWAY_SERVICEACCOUNT_DIR/namespace") ca=$(grep -c CERTIFICATE "$SLIPWAY_SERVICEACCOUNT_DIR/ca.crt")"
echo "api=$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT buildkit=$BUILDKIT_HOST"
echo "source-cache=$SLIPWAY_SOURCE_CACHE"
echo "local-git-root=$SLIPWAY_LOCAL_GIT_ROOT"
echo "pwd=$(pwd) work=$SLIPWAY_WORK_DIR"
echo "build=$BUILD"
echo to stderr >&2`
		pod := hostPod("ok-build", script)
		pod.Spec.Volumes = []corev1.Volume{{Name: "push-secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "push"}}}}
		pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "push-secret", MountPath: "/var/run/secrets/openshift.io/push", ReadOnly: true}}
		pod.Spec.Containers[0].Env = []corev1.EnvVar{
			{Name: "PUSH_DOCKERCFG_PATH", Value: "/var/run/secrets/openshift.io/push"},
			{Name: "BUILD", Value: `{"kind":"Build"}`},
			// The admin's, never the pod's.
			{Name: "SLIPWAY_LOCAL_GIT_ROOT", Value: "/"},
		}
		if _, err := api.client.CoreV1().Pods(api.ns).Create(ctx, api.signed(t, pod), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p := waitForPod(t, api, "ok-build", 30*time.Second, phaseIs(corev1.PodSucceeded))
		if p.Status.StartTime == nil {
			t.Error("no startTime")
		}
		if p.Spec.NodeName != api.node {
			t.Errorf("spec.nodeName = %q; want the scheduler to have bound it to %s", p.Spec.NodeName, api.node)
		}
		term := p.Status.ContainerStatuses[0].State.Terminated
		if term == nil || term.ExitCode != 0 || term.Reason != "Completed" {
			t.Fatalf("terminated state = %+v", term)
		}
		podDir := logs.PodDir(api.ns, "ok-build")
		data, err := os.ReadFile(logs.ContainerLog(api.ns, "ok-build", "docker-build"))
		if err != nil {
			t.Fatal(err)
		}
		out := string(data)
		for _, want := range []string{
			"hello from ok-build\n",
			"push=" + filepath.Join(podDir, "volumes", "push-secret") + "\n",
			`{"reg":{"auth":"eDp5"}}` + "\n644\n",
			"ns=" + api.ns + " ca=2\n",
			"api=" + api.srv.Listen + " buildkit=unix:///run/buildkit.sock\n",
			"source-cache=" + filepath.Join(dataDir, "builds", "source-cache") + "\n",
			"local-git-root=/srv/git\n",
			"pwd=" + filepath.Join(podDir, "work") + " work=" + filepath.Join(podDir, "work") + "\n",
			`build={"kind":"Build"}` + "\n",
			"to stderr\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %q:\n%s", want, out)
			}
		}
		// The token is the pod's service account's, bound to the pod.
		_, token, _ := strings.Cut(out, "token=")
		token, _, _ = strings.Cut(token, "\n")
		review, err := api.client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// The pod ended but is not deleted: its bound token still works.
		if u := review.Status.User; !review.Status.Authenticated || u.Username != "system:serviceaccount:"+api.ns+":builder" ||
			len(u.Extra["authentication.kubernetes.io/pod-name"]) != 1 || u.Extra["authentication.kubernetes.io/pod-name"][0] != "ok-build" {
			t.Errorf("token review: %+v", review.Status)
		}
		// The secrets and the token do not outlive the pod's processes.
		if _, err := os.Stat(filepath.Join(podDir, "volumes")); !os.IsNotExist(err) {
			t.Errorf("volumes still on disk after the pod ended: %v", err)
		}
	})

	t.Run("fails with exit code and termination message", func(t *testing.T) {
		pod := hostPod("bad-build", `echo "step failed"; printf 'error: DockerBuildFailed' > "$SLIPWAY_TERMINATION_LOG"; exit 3`)
		if _, err := api.client.CoreV1().Pods(api.ns).Create(ctx, api.signed(t, pod), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p := waitForPod(t, api, "bad-build", 30*time.Second, phaseIs(corev1.PodFailed))
		term := p.Status.ContainerStatuses[0].State.Terminated
		if term == nil || term.ExitCode != 3 || term.Reason != "Error" || term.Message != "error: DockerBuildFailed" {
			t.Fatalf("terminated state = %+v", term)
		}
	})

	t.Run("a program outside the allowed ones does not run", func(t *testing.T) {
		pod := hostPod("rogue", "")
		pod.Spec.Containers[0].Command = []string{"/bin/rm", "-rf", "/"}
		if _, err := api.client.CoreV1().Pods(api.ns).Create(ctx, api.signed(t, pod), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p := waitForPod(t, api, "rogue", 30*time.Second, phaseIs(corev1.PodFailed))
		term := p.Status.ContainerStatuses[0].State.Terminated
		if term == nil || term.Reason != "ContainerCannotRun" || !strings.Contains(term.Message, "may not run") {
			t.Fatalf("terminated state = %+v", term)
		}
	})

	t.Run("a host-process pod the controllers did not make, or made otherwise, does not run", func(t *testing.T) {
		// Whatever admission let through: no signature, or a signed pod
		// whose environment was changed before it was created.
		marker := filepath.Join(t.TempDir(), "ran")
		unsigned := hostPod("unsigned", "touch "+marker)
		unsigned.Namespace = api.ns
		tampered := api.signed(t, hostPod("tampered", "true"))
		tampered.Spec.Containers[0].Args = []string{"-c", "touch " + marker}
		for _, pod := range []*corev1.Pod{unsigned, tampered} {
			if _, err := api.client.CoreV1().Pods(api.ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			p := waitForPod(t, api, pod.Name, 30*time.Second, phaseIs(corev1.PodFailed))
			if p.Status.Reason != "HostProcessRefused" || !strings.Contains(p.Status.Message, "signature") {
				t.Errorf("%s: status %s %q; want HostProcessRefused naming the signature", pod.Name, p.Status.Reason, p.Status.Message)
			}
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatal("a refused host-process pod ran")
		}
	})

	t.Run("running, followed through the log, then killed on delete", func(t *testing.T) {
		pod := hostPod("long-build", `echo started; sleep 60 & wait`)
		if _, err := api.client.CoreV1().Pods(api.ns).Create(ctx, api.signed(t, pod), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p := waitForPod(t, api, "long-build", 30*time.Second, phaseIs(corev1.PodRunning))
		cs := p.Status.ContainerStatuses
		if len(cs) != 1 || cs[0].State.Running == nil || !cs[0].Ready {
			t.Fatalf("container statuses = %+v", cs)
		}
		pid := pidOf(t, p)
		followCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		r, err := podlogs.Open(followCtx, logs.ContainerLog(api.ns, "long-build", "docker-build"), podlogs.Options{Follow: true}, func(context.Context) (bool, error) {
			return !alive(pid), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		buf := make([]byte, 8)
		if _, err := io.ReadFull(r, buf); err != nil || string(buf) != "started\n" {
			t.Fatalf("followed %q, %v", buf, err)
		}
		if err := api.client.CoreV1().Pods(api.ns).Delete(ctx, "long-build", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		// The follower ends once the process group is gone (the sleep too).
		if _, err := io.ReadAll(r); err != nil {
			t.Fatalf("follow after delete: %v", err)
		}
		err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
			_, err := os.Stat(logs.PodDir(api.ns, "long-build"))
			return os.IsNotExist(err), nil
		})
		if err != nil {
			t.Errorf("pod directory not removed after delete")
		}
	})

	t.Run("activeDeadlineSeconds stops the pod", func(t *testing.T) {
		pod := hostPod("slow-build", `exec sleep 60`)
		one := int64(1)
		pod.Spec.ActiveDeadlineSeconds = &one
		if _, err := api.client.CoreV1().Pods(api.ns).Create(ctx, api.signed(t, pod), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p := waitForPod(t, api, "slow-build", 30*time.Second, phaseIs(corev1.PodFailed))
		if p.Status.Reason != "DeadlineExceeded" {
			t.Errorf("reason = %q", p.Status.Reason)
		}
		if term := p.Status.ContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 128+int32(syscall.SIGTERM) {
			t.Errorf("terminated = %+v", term)
		}
	})

	t.Run("waits for a missing secret", func(t *testing.T) {
		pod := hostPod("waiting-build", `echo ran`)
		pod.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "later"}}}}
		if _, err := api.client.CoreV1().Pods(api.ns).Create(ctx, api.signed(t, pod), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
		p, err := api.client.CoreV1().Pods(api.ns).Get(ctx, "waiting-build", metav1.GetOptions{})
		if err != nil || p.Status.Phase != corev1.PodPending {
			t.Fatalf("pod = %v, %v; want Pending while the secret is missing", p.Status.Phase, err)
		}
		if _, err := api.client.CoreV1().Secrets(api.ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "later"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitForPod(t, api, "waiting-build", 30*time.Second, phaseIs(corev1.PodSucceeded))
	})
}

// TestAgentRestart simulates a server that stopped hard while a build pod
// ran: the pod is Running in the API and its process still lives. A new
// agent kills the process and fails the pod as lost.
func TestAgentRestart(t *testing.T) {
	api := startAPI(t)
	createServiceAccount(t, api)
	dataDir := t.TempDir()
	ctx := context.Background()

	orphan := hostPod("orphan-build", "sleep 60")
	orphan.Spec.NodeName = api.node
	pod, err := api.client.CoreV1().Pods(api.ns).Create(ctx, api.signed(t, orphan), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	files := podFiles(podlogs.Dir(dataDir).PodDir(api.ns, "orphan-build"))
	if err := os.MkdirAll(string(files), 0o700); err != nil {
		t.Fatal(err)
	}
	proc, err := hostProcess{programs: map[string]string{"slipway": "/bin/sh"}}.Start(ContainerSpec{
		Pod: pod, Container: &corev1.Container{Command: []string{"slipway", "-c", "sleep 60 & wait"}},
		Env: []string{podUIDEnv + "=" + string(pod.UID)}, WorkDir: string(files), Log: os.Stderr,
	})
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { proc.Wait(); close(exited) }()
	defer proc.Signal(syscall.SIGKILL)
	if err := appendPID(files.pidFile(), proc.PID(), pod.UID, "docker-build"); err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &now, ContainerStatuses: []corev1.ContainerStatus{{
		Name: "docker-build", ContainerID: fmt.Sprintf("host-process://%d", proc.PID()),
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
	}}}
	if _, err := api.client.CoreV1().Pods(api.ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	startAgent(t, api, dataDir)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the orphaned process was not killed")
	}
	p := waitForPod(t, api, "orphan-build", 30*time.Second, phaseIs(corev1.PodFailed))
	if p.Status.Reason != "NodeLost" {
		t.Errorf("reason = %q, want NodeLost", p.Status.Reason)
	}
	term := p.Status.ContainerStatuses[0].State.Terminated
	if term == nil || term.ExitCode != 137 {
		t.Errorf("terminated = %+v", term)
	}
	if _, err := os.Stat(files.pidFile()); !os.IsNotExist(err) {
		t.Errorf("pid file left: %v", err)
	}
}
