package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/slipway-dev/slipway/internal/hostprocess"
	"github.com/slipway-dev/slipway/internal/pki"
	"github.com/slipway-dev/slipway/internal/testserver"
)

// The tests share one real control plane (`slipway server --api-only`:
// kube-apiserver with the Node authorizer and NodeRestriction, the
// controller manager and the scheduler), started by the first test that
// needs it. Each test has a namespace and a Node of its own.
var (
	serverOnce sync.Once
	server     *testserver.Server
	stopServer func()
	serverErr  error
	testSeq    atomic.Int32
)

func TestMain(m *testing.M) {
	code := m.Run()
	if stopServer != nil {
		stopServer()
	}
	os.Exit(code)
}

func sharedServer(t *testing.T) *testserver.Server {
	t.Helper()
	serverOnce.Do(func() { server, stopServer, serverErr = testserver.StartForMain(testserver.Options{}) })
	if serverErr != nil {
		t.Fatalf("starting the test server: %v", serverErr)
	}
	return server
}

// testAPI is one test's view of the server: an admin client, its
// namespace, and the name of the Node its agent registers.
type testAPI struct {
	srv    *testserver.Server
	client kubernetes.Interface
	config *rest.Config
	ns     string
	node   string
}

// startAPI gives the test a fresh namespace (with its "builder" service
// account) and a node name; the Node is deleted when the test ends so that
// the scheduler does not pick it for a later test's pods.
func startAPI(t *testing.T) *testAPI {
	t.Helper()
	srv := sharedServer(t)
	client, err := kubernetes.NewForConfig(srv.Admin)
	if err != nil {
		t.Fatal(err)
	}
	n := testSeq.Add(1)
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 40 {
		name = name[:40]
	}
	api := &testAPI{srv: srv, client: client, config: srv.Admin,
		ns: fmt.Sprintf("%s-%d", strings.Trim(name, "-"), n), node: fmt.Sprintf("node-%d", n)}
	ctx := context.Background()
	// Privileged: these tests are about what the node does with the pods
	// the API admits (host ports among them), not about Pod Security,
	// which keeps them out of ordinary namespaces (internal/server tests).
	nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: api.ns, Labels: map[string]string{"pod-security.kubernetes.io/enforce": "privileged"}}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, nsObj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().ServiceAccounts(api.ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_ = client.CoreV1().Nodes().Delete(ctx, api.node, metav1.DeleteOptions{})
		_ = client.CoreV1().Namespaces().Delete(ctx, api.ns, metav1.DeleteOptions{})
	})
	return api
}

// nodeConfig is a client configuration of the node's own identity, as the
// server gives its agent: system:node:<name> in system:nodes.
func (api *testAPI) nodeConfig(t *testing.T) *rest.Config {
	return api.srv.ClientConfig(t, "system:node:"+api.node, "system:nodes")
}

func (api *testAPI) nodeClient(t *testing.T) kubernetes.Interface {
	t.Helper()
	c, err := kubernetes.NewForConfig(api.nodeConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// kubeletCert makes the kubelet API's serving certificate for 127.0.0.1,
// signed by the cluster CA, which kube-apiserver verifies.
func (api *testAPI) kubeletCert(t *testing.T) (cert, key string) {
	t.Helper()
	ca, err := pki.LoadOrCreateCA(api.srv.CAFile, api.srv.CAKeyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key = filepath.Join(dir, "kubelet.crt"), filepath.Join(dir, "kubelet.key")
	if err := ca.EnsureServingCert(cert, key, api.node, []string{"127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// agentConfig is what the server passes its agent, for this test's node:
// the node's identity, the kubelet API on a free loopback port, and
// /bin/sh as the host-process "slipway" so test pods run shell scripts.
func (api *testAPI) agentConfig(t *testing.T, dataDir string) Config {
	t.Helper()
	cert, key := api.kubeletCert(t)
	host, port, _ := strings.Cut(api.srv.Listen, ":")
	return Config{
		NodeName: api.node, DataDir: dataDir, APIHost: host, APIPort: port, BuildkitHost: "unix:///run/buildkit.sock", LocalGitRoot: "/srv/git",
		Programs:        map[string]string{"slipway": "/bin/sh"},
		StopGracePeriod: 2 * time.Second,
		DisableRunc:     true,
		KubeletListen:   "127.0.0.1:0", KubeletCertFile: cert, KubeletKeyFile: key, ClientCAFile: api.srv.CAFile,
		LeaseRenewInterval: time.Second,
		HostProcessSigner:  testSigner,
	}
}

// testSigner signs the tests' host-process pods as the controllers sign
// theirs (signed); the agents of the tests check with it.
var testSigner = func() *hostprocess.Signer {
	s, err := hostprocess.NewSigner([]byte("the node tests' host-process key!"))
	if err != nil {
		panic(err)
	}
	return s
}()

// signed puts pod in the test's namespace and, when it asks to run as a
// host process, signs it as the controllers would.
func (api *testAPI) signed(t *testing.T, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	pod.Namespace = api.ns
	if pod.Annotations[HostProcessAnnotation] == "true" {
		if err := testSigner.Sign(pod); err != nil {
			t.Fatal(err)
		}
	}
	return pod
}

// runAgent runs an agent with cfg (its Client and Pods are filled in: the
// node's identity, pods of the node only); the returned function stops
// it, as the server does at shutdown, and runs at the test's end too.
func runAgent(t *testing.T, api *testAPI, rc *rest.Config, cfg Config) (*Agent, func()) {
	t.Helper()
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	// The kubelet's own pod watch: spec.nodeName=<node>, which the Node
	// authorizer lets a node list.
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = "spec.nodeName=" + cfg.NodeName
	}))
	cfg.Client = client
	cfg.Pods = factory.Core().V1().Pods()
	agent, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := agent.Run(ctx, 2); err != nil {
			t.Errorf("agent: %v", err)
		}
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-done
			factory.Shutdown()
		})
	}
	t.Cleanup(stop)
	return agent, stop
}

// startAgent runs a host-process agent for the test's node on dataDir.
func startAgent(t *testing.T, api *testAPI, dataDir string) *Agent {
	t.Helper()
	agent, _ := runAgent(t, api, api.nodeConfig(t), api.agentConfig(t, dataDir))
	return agent
}

// createServiceAccount is kept for the tests' reading: startAPI made the
// builder account already.
func createServiceAccount(*testing.T, *testAPI) {}

func hostPod(name, script string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{HostProcessAnnotation: "true"}},
		Spec: corev1.PodSpec{
			RestartPolicy:      corev1.RestartPolicyNever,
			ServiceAccountName: "builder",
			Containers: []corev1.Container{{
				Name: "docker-build", Image: "slipway/builder",
				Command: []string{"slipway", "-c", script},
			}},
		},
	}
}

func createPod(t *testing.T, api *testAPI, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	p, err := api.client.CoreV1().Pods(api.ns).Create(context.Background(), api.signed(t, pod), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func waitForPod(t *testing.T, api *testAPI, name string, timeout time.Duration, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var last *corev1.Pod
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		p, err := api.client.CoreV1().Pods(api.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = p
		return cond(p), nil
	})
	if err != nil {
		t.Fatalf("pod %s: condition not met in %s; last status %+v", name, timeout, last)
	}
	return last
}

func phaseIs(phase corev1.PodPhase) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool { return p.Status.Phase == phase }
}

// waitNodeReady waits until the test's Node is Ready and untainted, as
// the scheduler needs it.
func waitNodeReady(t *testing.T, api *testAPI) *corev1.Node {
	t.Helper()
	var last *corev1.Node
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		n, err := api.client.CoreV1().Nodes().Get(ctx, api.node, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		last = n
		if len(n.Spec.Taints) > 0 {
			return false, nil
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("node %s not Ready and untainted: %v; last %+v", api.node, err, last)
	}
	return last
}
