package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/slipway-dev/slipway/internal/builder/build/buildtest"
	"github.com/slipway-dev/slipway/internal/testregistry"
)

// TestStreaming runs exec, attach and port-forward as kubectl does:
// client-go's executors and port forwarder through kube-apiserver, which
// calls the node's kubelet API.
func TestStreaming(t *testing.T) {
	requireRuncDeps(t)
	api := startAPI(t)
	reg := testregistry.Start(t, testregistry.Options{})
	busybox := buildtest.PushBusybox(t, reg)
	dataDir := t.TempDir()
	startRuncAgent(t, api, api.nodeConfig(t), dataDir)
	ctx := context.Background()

	// One server on the pod IP, one on the pod's loopback only.
	web := appPod("web", busybox, `mkdir -p /www /lo; echo "hello from web" > /www/index.html; echo "loopback only" > /lo/index.html; httpd -p 127.0.0.1:9090 -h /lo; exec httpd -f -p 8080 -h /www`)
	web.Spec.NodeName = api.node
	createPod(t, api, web)
	waitForPod(t, api, "web", time.Minute, func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil
	})

	execURL := func(cmd []string, stdin, tty bool) *url.URL {
		req := api.client.CoreV1().RESTClient().Post().Resource("pods").Namespace(api.ns).Name("web").SubResource("exec").
			VersionedParams(&corev1.PodExecOptions{Container: "app", Command: cmd, Stdin: stdin, Stdout: true, Stderr: !tty, TTY: tty}, scheme.ParameterCodec)
		return req.URL()
	}
	executors := map[string]func(t *testing.T, u *url.URL) remotecommand.Executor{
		"spdy": func(t *testing.T, u *url.URL) remotecommand.Executor {
			e, err := remotecommand.NewSPDYExecutor(api.config, "POST", u)
			if err != nil {
				t.Fatal(err)
			}
			return e
		},
		"websocket": func(t *testing.T, u *url.URL) remotecommand.Executor {
			e, err := remotecommand.NewWebSocketExecutor(api.config, "GET", u.String())
			if err != nil {
				t.Fatal(err)
			}
			return e
		},
	}
	for name, newExecutor := range executors {
		t.Run("exec over "+name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := newExecutor(t, execURL([]string{"echo", "hello"}, false, false)).StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &errOut})
			if err != nil || out.String() != "hello\n" {
				t.Errorf("exec echo hello: %q (stderr %q), %v", out.String(), errOut.String(), err)
			}

			out.Reset()
			err = newExecutor(t, execURL([]string{"sh", "-c", `read line; echo "read: $line"; cat`}, true, false)).StreamWithContext(ctx,
				remotecommand.StreamOptions{Stdin: strings.NewReader("first\nsecond\n"), Stdout: &out, Stderr: &errOut})
			if err != nil || out.String() != "read: first\nsecond\n" {
				t.Errorf("exec reading stdin: %q (stderr %q), %v", out.String(), errOut.String(), err)
			}

			out.Reset()
			errOut.Reset()
			err = newExecutor(t, execURL([]string{"sh", "-c", "echo oops >&2; exit 3"}, false, false)).StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &errOut})
			var exit utilexec.CodeExitError
			if !errors.As(err, &exit) || exit.Code != 3 {
				t.Errorf("exec of a failing command: %v (%T); want exit code 3", err, err)
			}
			if errOut.String() != "oops\n" || out.Len() != 0 {
				t.Errorf("failing command's stdout %q, stderr %q; want oops on stderr", out.String(), errOut.String())
			}
		})
	}

	t.Run("exec with a terminal, resized", func(t *testing.T) {
		var out bytes.Buffer
		sizes := &fixedSize{size: remotecommand.TerminalSize{Width: 123, Height: 45}}
		err := executors["spdy"](t, execURL([]string{"sh", "-c", "sleep 1; tty; stty size"}, true, true)).StreamWithContext(ctx,
			remotecommand.StreamOptions{Stdin: strings.NewReader(""), Stdout: &out, Tty: true, TerminalSizeQueue: sizes})
		got := strings.ReplaceAll(out.String(), "\r\n", "\n")
		if err != nil || !strings.HasPrefix(got, "/dev/pts/") || !strings.HasSuffix(got, "\n45 123\n") {
			t.Errorf("exec with a tty: %q, %v; want its terminal and size 45 123", got, err)
		}
	})

	t.Run("port-forward", func(t *testing.T) {
		url := api.client.CoreV1().RESTClient().Post().Resource("pods").Namespace(api.ns).Name("web").SubResource("portforward").URL()
		transport, upgrader, err := spdy.RoundTripperFor(api.config)
		if err != nil {
			t.Fatal(err)
		}
		spdyDialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, "POST", url)
		wsDialer, err := portforward.NewSPDYOverWebsocketDialer(url, api.config)
		if err != nil {
			t.Fatal(err)
		}
		for name, dialer := range map[string]httpstream.Dialer{"spdy": spdyDialer, "websocket": wsDialer} {
			stop, ready := make(chan struct{}), make(chan struct{})
			fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:8080", "0:9090"}, stop, ready, io.Discard, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() { errc <- fw.ForwardPorts() }()
			select {
			case <-ready:
			case err := <-errc:
				t.Fatalf("%s port-forward: %v", name, err)
			case <-time.After(30 * time.Second):
				t.Fatalf("%s port-forward not ready", name)
			}
			ports, err := fw.GetPorts()
			if err != nil {
				t.Fatal(err)
			}
			want := map[uint16]string{8080: "hello from web", 9090: "loopback only"}
			for _, p := range ports {
				for range 2 { // a second connection over the same forward
					body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", p.Local))
					if err != nil || strings.TrimSpace(body) != want[p.Remote] {
						t.Errorf("%s: GET through port-forward to %d = %q, %v; want %q", name, p.Remote, body, err, want[p.Remote])
					}
				}
			}
			close(stop)
			<-errc
		}
	})

	t.Run("attach", func(t *testing.T) {
		pod := appPod("echo", busybox, `while read line; do echo "got $line"; done; echo bye`)
		pod.Spec.NodeName = api.node
		pod.Spec.RestartPolicy = corev1.RestartPolicyNever
		pod.Spec.Containers[0].Stdin, pod.Spec.Containers[0].StdinOnce = true, true
		createPod(t, api, pod)
		waitForPod(t, api, "echo", time.Minute, func(p *corev1.Pod) bool {
			return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil
		})
		req := api.client.CoreV1().RESTClient().Post().Resource("pods").Namespace(api.ns).Name("echo").SubResource("attach").
			VersionedParams(&corev1.PodAttachOptions{Container: "app", Stdin: true, Stdout: true, Stderr: true}, scheme.ParameterCodec)
		// Two buffers: bytes.Buffer's ReadFrom is not for two writers.
		// This node keeps a container's stdout and stderr together, on stdout.
		var out, errOut bytes.Buffer
		done := make(chan error, 1)
		go func() {
			done <- executors["spdy"](t, req.URL()).StreamWithContext(ctx,
				remotecommand.StreamOptions{Stdin: strings.NewReader("one\ntwo\n"), Stdout: &out, Stderr: &errOut})
		}()
		select {
		case err := <-done:
			if err != nil || out.String() != "got one\ngot two\nbye\n" {
				t.Errorf("attach: %q, %v; want the container's answers until it ended", out.String(), err)
			}
		case <-time.After(time.Minute):
			t.Fatalf("attach still streaming after the container's stdin closed; output %q", out.String())
		}
		p := waitForPod(t, api, "echo", 30*time.Second, terminal)
		if p.Status.Phase != corev1.PodSucceeded {
			t.Errorf("phase %s; the container ends when its stdin does", p.Status.Phase)
		}
	})

	t.Run("host-process pods refuse exec", func(t *testing.T) {
		hp := hostPod("builder", "sleep 30")
		hp.Spec.NodeName = api.node
		// Only Slipway's controllers may create host-process pods (the
		// server's admission policy): controlplane.OpenShiftControllersUser,
		// spelled out so that this test does not link the control plane.
		controllers, err := kubernetes.NewForConfig(api.srv.ClientConfig(t, "system:openshift-controller-manager", "system:masters"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := controllers.CoreV1().Pods(api.ns).Create(ctx, api.signed(t, hp), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitForPod(t, api, "builder", time.Minute, phaseIs(corev1.PodRunning))
		req := api.client.CoreV1().RESTClient().Post().Resource("pods").Namespace(api.ns).Name("builder").SubResource("exec").
			VersionedParams(&corev1.PodExecOptions{Container: "docker-build", Command: []string{"true"}, Stdout: true}, scheme.ParameterCodec)
		err = executors["spdy"](t, req.URL()).StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: io.Discard})
		if err == nil || !strings.Contains(err.Error(), "host-process") {
			t.Errorf("exec in a host-process pod: %v; want refused as host-process", err)
		}
	})

	t.Run("only kube-apiserver may call the kubelet API", func(t *testing.T) {
		node, err := api.client.CoreV1().Nodes().Get(ctx, api.node, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		base := fmt.Sprintf("https://127.0.0.1:%d", node.Status.DaemonEndpoints.KubeletEndpoint.Port)
		for _, path := range []string{
			"/exec/" + api.ns + "/web/app?command=id&output=1",
			"/attach/" + api.ns + "/echo/app?output=1",
			"/portForward/" + api.ns + "/web",
		} {
			for user, groups := range map[string][]string{"alice": {"system:authenticated"}, "system:node:" + api.node: {"system:nodes"}} {
				resp, err := clusterClient(t, api, user, groups...).Post(base+path, "", nil)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("POST %s as %s: %d, want 403", path, user, resp.StatusCode)
				}
			}
		}
	})
}

// fixedSize is a terminal of one size.
type fixedSize struct {
	size remotecommand.TerminalSize
	sent bool
}

func (f *fixedSize) Next() *remotecommand.TerminalSize {
	if f.sent {
		return nil // no more sizes
	}
	f.sent = true
	return &f.size
}
