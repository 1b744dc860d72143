package node

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/slipway-dev/slipway/internal/pki"
	"github.com/slipway-dev/slipway/internal/podlogs"
)

// TestNodeHeartbeat: the agent registers its Node Ready, with what the
// scheduler and kube-apiserver read (capacity, addresses, the kubelet
// port), and renews its Lease.
func TestNodeHeartbeat(t *testing.T) {
	api := startAPI(t)
	startAgent(t, api, t.TempDir())
	ctx := context.Background()

	node := waitNodeReady(t, api)
	if node.Labels[corev1.LabelHostname] != api.node || node.Labels[corev1.LabelOSStable] != "linux" {
		t.Errorf("labels %v", node.Labels)
	}
	if pods := node.Status.Allocatable[corev1.ResourcePods]; pods.Value() != 110 {
		t.Errorf("allocatable pods %v, want 110", pods)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		if q := node.Status.Capacity[r]; q.Sign() <= 0 {
			t.Errorf("capacity %s = %v", r, q)
		}
	}
	if node.Status.NodeInfo.KubeletVersion != KubeletVersion {
		t.Errorf("kubelet version %q", node.Status.NodeInfo.KubeletVersion)
	}
	if node.Status.DaemonEndpoints.KubeletEndpoint.Port == 0 {
		t.Error("no kubelet port")
	}
	if len(node.Status.Addresses) == 0 || node.Status.Addresses[0] != (corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}) {
		t.Errorf("addresses %v", node.Status.Addresses)
	}

	leases := api.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	var first *metav1.MicroTime
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		l, err := leases.Get(ctx, api.node, metav1.GetOptions{})
		if err != nil || l.Spec.RenewTime == nil {
			return false, nil
		}
		if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != api.node || l.Spec.LeaseDurationSeconds == nil || *l.Spec.LeaseDurationSeconds != 40 {
			return false, fmt.Errorf("lease spec %+v", l.Spec)
		}
		if len(l.OwnerReferences) != 1 || l.OwnerReferences[0].Kind != "Node" || l.OwnerReferences[0].UID != node.UID {
			return false, nil
		}
		if first == nil {
			first = l.Spec.RenewTime
			return false, nil
		}
		return l.Spec.RenewTime.After(first.Time), nil
	})
	if err != nil {
		t.Fatalf("the lease is not renewed (or not owned by the Node): %v", err)
	}
}

// TestPodsOfOtherNodes: a pod bound to another node is not run here, even
// seen (the agent is robust to a watch of every pod).
func TestPodsOfOtherNodes(t *testing.T) {
	api := startAPI(t)
	dataDir := t.TempDir()
	// Admin's pod watch, not the node's: the agent sees other nodes' pods.
	cfg := api.agentConfig(t, dataDir)
	runAgent(t, api, api.config, cfg)
	waitNodeReady(t, api)

	elsewhere := hostPod("elsewhere", "echo ran")
	elsewhere.Spec.NodeName = "some-other-node"
	createPod(t, api, elsewhere)
	mine := createPod(t, api, hostPod("mine", "echo ran"))
	waitForPod(t, api, mine.Name, 30*time.Second, phaseIs(corev1.PodSucceeded))

	p, err := api.client.CoreV1().Pods(api.ns).Get(context.Background(), "elsewhere", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.Phase != corev1.PodPending || len(p.Status.ContainerStatuses) != 0 {
		t.Errorf("another node's pod: phase %s, statuses %+v", p.Status.Phase, p.Status.ContainerStatuses)
	}
	if _, err := os.Stat(podlogs.Dir(dataDir).PodDir(api.ns, "elsewhere")); !os.IsNotExist(err) {
		t.Errorf("another node's pod has a directory here: %v", err)
	}
}

// TestVolumesOfTheRealAPIServer: the kube-api-access projected volume the
// ServiceAccount admission plugin adds, a downwardAPI volume and a
// projected volume of every source, in a host-process pod.
func TestVolumesOfTheRealAPIServer(t *testing.T) {
	api := startAPI(t)
	dataDir := t.TempDir()
	startAgent(t, api, dataDir)
	ctx := context.Background()
	if _, err := api.client.CoreV1().ConfigMaps(api.ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "settings"}, Data: map[string]string{"color": "blue"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.client.CoreV1().Secrets(api.ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "creds"}, StringData: map[string]string{"password": "hunter2"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	script := `for f in $INFO/name $INFO/labels $INFO/mem $ALL/color $ALL/password $ALL/ns $ALL/api-token; do echo "$f: $(cat $f)"; done
echo "sa=$SLIPWAY_SERVICEACCOUNT_DIR"; ls "$SLIPWAY_SERVICEACCOUNT_DIR"`
	pod := hostPod("volumes", script)
	pod.Labels = map[string]string{"app": "volumes"}
	expiration := int64(600)
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "podinfo", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
			{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
			{Path: "mem", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "docker-build", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}},
		}}}},
		{Name: "all", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}},
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "ns", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "api-token", Audience: "my-audience", ExpirationSeconds: &expiration}},
		}}}},
	}
	c := &pod.Spec.Containers[0]
	c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")}
	c.VolumeMounts = []corev1.VolumeMount{{Name: "podinfo", MountPath: "/etc/podinfo"}, {Name: "all", MountPath: "/etc/all"}}
	c.Env = []corev1.EnvVar{{Name: "INFO", Value: "/etc/podinfo"}, {Name: "ALL", Value: "/etc/all"}}
	created := createPod(t, api, pod)
	if !hasVolumePrefix(created, "kube-api-access-") {
		t.Fatalf("the ServiceAccount admission plugin added no kube-api-access volume: %+v", created.Spec.Volumes)
	}
	waitForPod(t, api, "volumes", time.Minute, phaseIs(corev1.PodSucceeded))
	b, err := os.ReadFile(podlogs.Dir(dataDir).ContainerLog(api.ns, "volumes", "docker-build"))
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	volumes := filepath.Join(podlogs.Dir(dataDir).PodDir(api.ns, "volumes"), "volumes")
	for _, want := range []string{
		volumes + "/podinfo/name: volumes\n",
		volumes + `/podinfo/labels: app="volumes"` + "\n",
		volumes + "/podinfo/mem: 32\n",
		volumes + "/all/color: blue\n",
		volumes + "/all/password: hunter2\n",
		volumes + "/all/ns: " + api.ns + "\n",
		"sa=" + volumes + "/kube-api-access-",
		"ca.crt\nnamespace\ntoken\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	// The projected token has the audience asked for, and is bound to the pod.
	_, token, _ := strings.Cut(out, "/all/api-token: ")
	token, _, _ = strings.Cut(token, "\n")
	review, err := api.client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: []string{"my-audience"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !review.Status.Authenticated || review.Status.User.Username != "system:serviceaccount:"+api.ns+":builder" {
		t.Errorf("review of the projected token: %+v", review.Status)
	}
}

func hasVolumePrefix(pod *corev1.Pod, prefix string) bool {
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, prefix) && v.Projected != nil {
			return true
		}
	}
	return false
}

// TestTokenRefresh: a running pod's projected token is requested again
// once its refresh time has come, and written in place.
func TestTokenRefresh(t *testing.T) {
	api := startAPI(t)
	dataDir := t.TempDir()
	agent := startAgent(t, api, dataDir)
	pod := waitForPod(t, api, createPod(t, api, hostPod("long", "exec sleep 60")).Name, time.Minute, phaseIs(corev1.PodRunning))
	key := api.ns + "/" + pod.Name
	agent.mu.Lock()
	run := agent.running[key]
	agent.mu.Unlock()
	if run == nil {
		t.Fatal("the agent does not run the pod")
	}
	at := time.Unix(0, run.refreshAt.Load())
	// 80% of the kube-api-access token's 3607 s.
	if d := time.Until(at); d < 45*time.Minute || d > 49*time.Minute {
		t.Errorf("token renewal in %s; want about 48 min", d)
	}
	dir := serviceAccountDir(&pod.Spec.Containers[0], podFiles(podlogs.Dir(dataDir).PodDir(api.ns, pod.Name)))
	before, err := os.ReadFile(filepath.Join(dir, "token"))
	if err != nil {
		t.Fatal(err)
	}
	// Its time comes now.
	run.refreshAt.Store(time.Now().UnixNano())
	agent.queue.Add(key)
	err = wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		after, err := os.ReadFile(filepath.Join(dir, "token"))
		return err == nil && len(after) > 0 && string(after) != string(before), nil
	})
	if err != nil {
		t.Fatalf("the token was not renewed: %v", err)
	}
	if d := time.Until(time.Unix(0, run.refreshAt.Load())); d < 45*time.Minute {
		t.Errorf("next renewal in %s; want about 48 min", d)
	}
}

// TestPodLogs reads a pod's log through kube-apiserver (pods/log), which
// calls the agent's kubelet API: whole, tailed, followed; and the kubelet
// API refuses a client that is not kube-apiserver.
func TestPodLogs(t *testing.T) {
	api := startAPI(t)
	dataDir := t.TempDir()
	startAgent(t, api, dataDir)
	ctx := context.Background()
	pods := api.client.CoreV1().Pods(api.ns)

	done := createPod(t, api, hostPod("done", `echo one; echo two; echo three >&2`))
	waitForPod(t, api, done.Name, time.Minute, phaseIs(corev1.PodSucceeded))
	for _, tc := range []struct {
		opts corev1.PodLogOptions
		want string
	}{
		{corev1.PodLogOptions{}, "one\ntwo\nthree\n"},
		{corev1.PodLogOptions{TailLines: ptrInt64(2)}, "two\nthree\n"},
		{corev1.PodLogOptions{LimitBytes: ptrInt64(6)}, "one\ntw"},
		{corev1.PodLogOptions{Container: "docker-build", Follow: true}, "one\ntwo\nthree\n"},
	} {
		b, err := pods.GetLogs("done", &tc.opts).DoRaw(ctx)
		if err != nil || string(b) != tc.want {
			t.Errorf("logs %+v = %q, %v; want %q", tc.opts, b, err, tc.want)
		}
	}

	// Dated lines, and the lines written since a time.
	b, err := pods.GetLogs("done", &corev1.PodLogOptions{Timestamps: true}).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		stamp, text, _ := strings.Cut(line, " ")
		ts, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil || text != []string{"one", "two", "three"}[i] || time.Since(ts) > time.Minute {
			t.Errorf("timestamped line %d: %q (%v)", i, line, err)
		}
	}
	slow := createPod(t, api, hostPod("slow", `echo early; sleep 2; echo late`))
	waitForPod(t, api, slow.Name, time.Minute, phaseIs(corev1.PodSucceeded))
	b, err = pods.GetLogs("slow", &corev1.PodLogOptions{SinceSeconds: ptrInt64(1)}).DoRaw(ctx)
	if err != nil || string(b) != "late\n" {
		t.Errorf("logs since a second ago: %q, %v; want late only", b, err)
	}

	// Followed while it runs, until it ends.
	running := createPod(t, api, hostPod("ticker", `echo first; while [ ! -e "$SLIPWAY_WORK_DIR/go" ]; do sleep 0.1; done; echo second`))
	waitForPod(t, api, running.Name, time.Minute, phaseIs(corev1.PodRunning))
	stream, err := pods.GetLogs("ticker", &corev1.PodLogOptions{Follow: true}).Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	lines := bufio.NewReader(stream)
	if line, err := lines.ReadString('\n'); err != nil || line != "first\n" {
		t.Fatalf("first followed line %q, %v", line, err)
	}
	work := filepath.Join(podlogs.Dir(dataDir).PodDir(api.ns, "ticker"), "work")
	if err := os.WriteFile(filepath.Join(work, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(lines)
	if err != nil || string(rest) != "second\n" {
		t.Errorf("rest of the followed log %q, %v; want second and the end", rest, err)
	}

	// Only kube-apiserver (system:masters) may use the kubelet API.
	node, err := api.client.CoreV1().Nodes().Get(ctx, api.node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("https://127.0.0.1:%d/containerLogs/%s/done/docker-build", node.Status.DaemonEndpoints.KubeletEndpoint.Port, api.ns)
	for user, want := range map[string]int{"alice": http.StatusForbidden, "system:node:" + api.node: http.StatusForbidden, "kube-apiserver-kubelet-client": http.StatusOK} {
		groups := []string{"system:authenticated"}
		switch {
		case user == "kube-apiserver-kubelet-client":
			groups = []string{"system:masters"}
		case strings.HasPrefix(user, "system:node:"):
			groups = []string{"system:nodes"}
		}
		resp, err := clusterClient(t, api, user, groups...).Get(url)
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("kubelet API as %s: %d, want %d", user, resp.StatusCode, want)
		}
	}
}

// clusterClient is an HTTPS client with a certificate of the cluster CA
// for user in groups.
func clusterClient(t *testing.T, api *testAPI, user string, groups ...string) *http.Client {
	t.Helper()
	ca, err := pki.LoadOrCreateCA(api.srv.CAFile, api.srv.CAKeyFile, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.crt"), filepath.Join(dir, "c.key")
	if err := ca.EnsureClientCert(cert, key, user, groups); err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(api.srv.CABundle)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}}}
}
