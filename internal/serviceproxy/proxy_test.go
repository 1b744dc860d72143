package serviceproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/slipway-dev/slipway/internal/testserver"
)

var server *testserver.Server

func TestMain(m *testing.M) {
	testserver.Main(m, testserver.Options{}, func(s *testserver.Server) { server = s })
}

// harness is one namespace on the real API server with a running proxy
// listening on 127.0.0.1.
type harness struct {
	t    *testing.T
	kube kubernetes.Interface
	ns   string
}

func newHarness(t *testing.T, ns string) *harness {
	t.Helper()
	kube := kubernetes.NewForConfigOrDie(server.Admin)
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// ServiceAccount admission refuses pods until Kubernetes' service
	// account controller has made the namespace's default account.
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := kube.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("namespace %s got no default service account: %v", ns, err)
	}
	factory := informers.NewSharedInformerFactoryWithOptions(kube, 0, informers.WithNamespace(ns))
	proxy := New(kube, factory.Core().V1().Services(), factory.Core().V1().Pods(), Options{Address: "127.0.0.1"})
	factory.Start(ctx.Done())
	errc := make(chan error, 1)
	go func() { errc <- proxy.Run(ctx, 2) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
		factory.Shutdown()
		// Run closed every listener on its way out.
		if n := len(proxy.listeners); n != 0 {
			t.Errorf("%d listeners left open after Run", n)
		}
	})
	return &harness{t: t, kube: kube, ns: ns}
}

// startBackend starts a real TCP server answering every connection with its name.
func startBackend(t *testing.T, name string) int32 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_, _ = io.WriteString(conn, name)
			}()
		}
	}()
	return int32(ln.Addr().(*net.TCPAddr).Port)
}

// freePort is a host port nobody listens on right now.
func freePort(t *testing.T) int32 {
	_, port, _ := net.SplitHostPort(testserver.FreeAddr(t))
	n, _ := strconv.Atoi(port)
	return int32(n)
}

// pod creates a pod labelled app=web whose container port "http" is
// port, and sets its status: Running with podIP 127.0.0.1, Ready or not.
func (h *harness) pod(name string, port int32, ready bool) {
	h.t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "web", Image: "web:latest",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: port, Protocol: corev1.ProtocolTCP}},
		}}},
	}
	created, err := h.kube.CoreV1().Pods(h.ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	h.setReady(created, ready)
}

func (h *harness) setReady(pod *corev1.Pod, ready bool) {
	h.t.Helper()
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	// The scheduler, finding no node, writes the pod's status too: retry
	// on a fresh copy when it did.
	pods := h.kube.CoreV1().Pods(h.ns)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		latest, err := pods.Get(context.Background(), pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		latest.Status = corev1.PodStatus{
			Phase:      corev1.PodRunning,
			PodIP:      "127.0.0.1",
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}},
		}
		_, err = pods.UpdateStatus(context.Background(), latest, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

// service creates a NodePort Service selecting app=web whose port 80
// forwards host port nodePort to the pods' "http" port.
func (h *harness) service(name string, nodePort int32) *corev1.Service {
	h.t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeNodePort,
			Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{
				Name: "80-tcp", Port: 80, Protocol: corev1.ProtocolTCP,
				TargetPort: intstr.FromString("http"), NodePort: nodePort,
			}},
		},
	}
	created, err := h.kube.CoreV1().Services(h.ns).Create(context.Background(), svc, metav1.CreateOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return created
}

// get connects to the host port and returns what the far end sent before
// closing; an error when the connection cannot be made.
func get(port int32) (string, error) { return getAt("127.0.0.1", port) }

// getAt is get on host address ip.
func getAt(ip string, port int32) (string, error) {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(ip, strconv.Itoa(int(port))), time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(conn)
	return string(b), err
}

// eventually polls cond for up to 20 s.
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		return cond()
	})
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestNodePortForwardsToReadyPodsInTurn(t *testing.T) {
	h := newHarness(t, "proxy-forward")
	h.pod("web-a", startBackend(t, "a"), true)
	h.pod("web-b", startBackend(t, "b"), true)
	h.pod("web-c", startBackend(t, "c"), false) // not ready: never picked
	nodePort := freePort(t)
	h.service("web", nodePort)

	eventually(t, "both ready pods answering through the host port", func() (bool, error) {
		seen := map[string]bool{}
		for range 4 {
			got, err := get(nodePort)
			if err != nil {
				return false, nil
			}
			if got == "c" {
				return false, errors.New("a pod that is not ready got a connection")
			}
			seen[got] = true
		}
		return seen["a"] && seen["b"], nil
	})
}

func TestNoReadyPodClosesConnection(t *testing.T) {
	h := newHarness(t, "proxy-noready")
	h.pod("web-a", startBackend(t, "a"), true)
	nodePort := freePort(t)
	h.service("web", nodePort)
	eventually(t, "pod answering", func() (bool, error) {
		got, err := get(nodePort)
		return err == nil && got == "a", nil
	})

	pod, err := h.kube.CoreV1().Pods(h.ns).Get(context.Background(), "web-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.setReady(pod, false)
	eventually(t, "connection accepted and closed without data", func() (bool, error) {
		got, err := get(nodePort)
		return err == nil && got == "", nil
	})
}

func TestServiceDeletedOrPortChangedClosesListener(t *testing.T) {
	h := newHarness(t, "proxy-delete")
	h.pod("web-a", startBackend(t, "a"), true)
	first := freePort(t)
	svc := h.service("web", first)
	eventually(t, "pod answering", func() (bool, error) {
		got, err := get(first)
		return err == nil && got == "a", nil
	})

	// Moving the node port closes the old listener and opens the new one.
	second := freePort(t)
	svc.Spec.Ports[0].NodePort = second
	if _, err := h.kube.CoreV1().Services(h.ns).Update(context.Background(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "new port answering", func() (bool, error) {
		got, err := get(second)
		return err == nil && got == "a", nil
	})
	eventually(t, "old port closed", func() (bool, error) {
		_, err := get(first)
		return err != nil, nil
	})

	if err := h.kube.CoreV1().Services(h.ns).Delete(context.Background(), "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "listener gone after the service", func() (bool, error) {
		_, err := get(second)
		return err != nil, nil
	})
}

func TestPortInUseIsAnEvent(t *testing.T) {
	h := newHarness(t, "proxy-inuse")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := int32(busy.Addr().(*net.TCPAddr).Port)
	h.service("web", port)

	eventually(t, "FailedToListen event", func() (bool, error) {
		events, err := h.kube.CoreV1().Events(h.ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Name == "web" && e.Reason == ReasonListenFailed && e.Type == corev1.EventTypeWarning && strings.Contains(e.Message, "address already in use") {
				return true, nil
			}
		}
		return false, nil
	})

	// Once the port is free the retry opens it.
	busy.Close()
	h.pod("web-a", startBackend(t, "a"), true)
	eventually(t, "port opened after it became free", func() (bool, error) {
		got, err := get(port)
		return err == nil && got == "a", nil
	})
}

func TestExternalIPReplacesTheProxyAddress(t *testing.T) {
	h := newHarness(t, "proxy-externalip")
	h.pod("web-a", startBackend(t, "a"), true)
	nodePort := freePort(t)
	svc := h.service("web", nodePort)

	// The API refuses loopback external IPs: take one of the host's own.
	externalIP := hostIP(t)
	svc.Spec.ExternalIPs = []string{externalIP}
	svc, err := h.kube.CoreV1().Services(h.ns).Update(context.Background(), svc, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "pod answering on the external IP", func() (bool, error) {
		got, err := getAt(externalIP, nodePort)
		return err == nil && got == "a", nil
	})
	eventually(t, "proxy address no longer listening", func() (bool, error) {
		_, err := get(nodePort)
		return err != nil, nil
	})

	// Without externalIPs the port moves back to the proxy's address.
	svc.Spec.ExternalIPs = nil
	if _, err := h.kube.CoreV1().Services(h.ns).Update(context.Background(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pod answering on the proxy address", func() (bool, error) {
		got, err := get(nodePort)
		return err == nil && got == "a", nil
	})
	eventually(t, "external IP closed", func() (bool, error) {
		_, err := getAt(externalIP, nodePort)
		return err != nil, nil
	})
}

// hostIP returns a non-loopback IPv4 address of this host, which the proxy
// may listen on and the test connect to.
func hostIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if ipnet, ok := a.(*net.IPNet); ok && !ipnet.IP.IsLoopback() && ipnet.IP.To4() != nil {
			return ipnet.IP.String()
		}
	}
	t.Skip("the host has no non-loopback IPv4 address to use as an external IP")
	return ""
}
