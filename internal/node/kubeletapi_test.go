package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/slipway-dev/slipway/internal/pki"
	"github.com/slipway-dev/slipway/internal/podlogs"
)

// kubeletAPIFixture is an agent's kubelet API on a loopback port with a
// CA of its own, pods in a lister and their logs on disk.
type kubeletAPIFixture struct {
	url     string
	pods    cache.Indexer
	logs    podlogs.Dir
	dir     string
	ca      *pki.CA
	caFile  string
	clients map[string]*http.Client
}

func startKubeletAPI(t *testing.T) *kubeletAPIFixture {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.LoadOrCreateCA(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"), "test-ca")
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.EnsureServingCert(filepath.Join(dir, "kubelet.crt"), filepath.Join(dir, "kubelet.key"), "node1", []string{"127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	pods := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	a := &Agent{
		cfg: Config{NodeName: "node1", KubeletListen: "127.0.0.1:0",
			KubeletCertFile: filepath.Join(dir, "kubelet.crt"), KubeletKeyFile: filepath.Join(dir, "kubelet.key"),
			ClientCAFile: filepath.Join(dir, "ca.crt")},
		pods: corelisters.NewPodLister(pods),
		logs: podlogs.Dir(filepath.Join(dir, "data")),
		log:  slog.Default(),
	}
	l, srv, err := a.listenKubeletAPI()
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.ServeTLS(l, "", "") }()
	t.Cleanup(func() { srv.Close() })
	return &kubeletAPIFixture{url: "https://" + l.Addr().String(), pods: pods, logs: a.logs, dir: dir, ca: ca,
		caFile: filepath.Join(dir, "ca.crt"), clients: map[string]*http.Client{}}
}

// client is an HTTPS client with a certificate for user in groups; no
// user means no client certificate.
func (f *kubeletAPIFixture) client(t *testing.T, user string, groups ...string) *http.Client {
	t.Helper()
	caPEM, err := os.ReadFile(f.caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cfg := &tls.Config{RootCAs: pool}
	if user != "" {
		cert, key := filepath.Join(f.dir, user+".crt"), filepath.Join(f.dir, user+".key")
		if err := f.ca.EnsureClientCert(cert, key, user, groups); err != nil {
			t.Fatal(err)
		}
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// addPod puts a pod of node with one container c in the lister and its
// runs in the log: each run's output appended with a run record.
func (f *kubeletAPIFixture) addPod(t *testing.T, node string, phase corev1.PodPhase, runs ...string) {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "p", UID: "uid-1"},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c"}}},
		Status:     corev1.PodStatus{Phase: phase},
	}
	if err := f.pods.Add(pod); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(f.logs.PodDir("p", "web"), 0o700); err != nil {
		t.Fatal(err)
	}
	var offset int64
	for _, out := range runs {
		if err := podlogs.AppendRun(f.logs.ContainerRuns("p", "web", "c"), podlogs.Run{Offset: offset, Started: time.Now()}); err != nil {
			t.Fatal(err)
		}
		lf, err := os.OpenFile(f.logs.ContainerLog("p", "web", "c"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = lf.WriteString(out)
		lf.Close()
		offset += int64(len(out))
	}
}

func TestKubeletAPIAuth(t *testing.T) {
	f := startKubeletAPI(t)
	f.addPod(t, "node1", corev1.PodSucceeded, "hello\n")
	logs := f.url + "/containerLogs/p/web/c"
	for _, tc := range []struct {
		name   string
		client *http.Client
		url    string
		status int
	}{
		{"apiserver's kubelet client", f.client(t, "kube-apiserver-kubelet-client", "system:masters"), logs, http.StatusOK},
		{"node identity", f.client(t, "system:node:node1", "system:nodes"), logs, http.StatusForbidden},
		{"a user", f.client(t, "alice"), logs, http.StatusForbidden},
		{"no certificate", f.client(t, ""), logs, http.StatusUnauthorized},
		{"exec as a user", f.client(t, "alice"), f.url + "/exec/p/web/c?command=id&output=1", http.StatusForbidden},
		{"port-forward as the node", f.client(t, "system:node:node1", "system:nodes"), f.url + "/portForward/p/web", http.StatusForbidden},
		// Past authorization: no runtime of this fixture runs the pod.
		{"exec as the apiserver", f.client(t, "kube-apiserver-kubelet-client", "system:masters"), f.url + "/exec/p/web/c?command=id&output=1", http.StatusBadRequest},
		{"healthz, any user", f.client(t, "alice"), f.url + "/healthz", http.StatusOK},
		{"healthz, no certificate", f.client(t, ""), f.url + "/healthz", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := get(t, tc.client, tc.url)
			if status != tc.status {
				t.Errorf("status %d (%q), want %d", status, body, tc.status)
			}
		})
	}

	// A certificate of another CA is not taken: Go's client does not
	// offer it to a server asking for the cluster CA's, and a server
	// handed it refuses the handshake.
	other, err := pki.LoadOrCreateCA(filepath.Join(t.TempDir(), "ca.crt"), filepath.Join(t.TempDir(), "ca.key"), "other")
	if err != nil {
		t.Fatal(err)
	}
	f.ca = other
	if resp, err := f.client(t, "mallory", "system:masters").Get(logs); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("a client certificate of another CA: status %d, want 401", resp.StatusCode)
		}
	}
}

func TestKubeletAPIContainerLogs(t *testing.T) {
	f := startKubeletAPI(t)
	f.addPod(t, "node1", corev1.PodRunning, "first run\n", "one\ntwo\nthree\n")
	c := f.client(t, "kube-apiserver-kubelet-client", "system:masters")
	for _, tc := range []struct {
		query  string
		status int
		body   string
	}{
		{"", http.StatusOK, "one\ntwo\nthree\n"},
		{"?tailLines=2", http.StatusOK, "two\nthree\n"},
		{"?tailLines=10", http.StatusOK, "one\ntwo\nthree\n"},
		{"?limitBytes=5", http.StatusOK, "one\nt"},
		{"?previous=true", http.StatusOK, "first run\n"},
		{"?previous=true&tailLines=1", http.StatusOK, "first run\n"},
		{"?previous=true&limitBytes=3", http.StatusOK, "fir"},
		{"?tailLines=-1", http.StatusBadRequest, ""},
		{"?follow=maybe", http.StatusBadRequest, ""},
		{"?stream=Stdout", http.StatusBadRequest, ""},
	} {
		t.Run(tc.query, func(t *testing.T) {
			status, body := get(t, c, f.url+"/containerLogs/p/web/c"+tc.query)
			if status != tc.status || (tc.status == http.StatusOK && body != tc.body) {
				t.Errorf("got %d %q, want %d %q", status, body, tc.status, tc.body)
			}
		})
	}
	// A log without its times file (written before the agent dated logs):
	// every line gets the file's date.
	status, body := get(t, c, f.url+"/containerLogs/p/web/c?timestamps=true&tailLines=1")
	stamp, line, _ := strings.Cut(body, " ")
	if _, err := time.Parse(time.RFC3339Nano, stamp); status != http.StatusOK || err != nil || line != "three\n" {
		t.Errorf("timestamps: %d %q (%v)", status, body, err)
	}
	for _, path := range []string{"/containerLogs/p/web/nope", "/containerLogs/p/gone/c"} {
		if status, body := get(t, c, f.url+path); status != http.StatusNotFound {
			t.Errorf("%s: %d %q, want 404", path, status, body)
		}
	}
}

func TestKubeletAPIIgnoresOtherNodesPods(t *testing.T) {
	f := startKubeletAPI(t)
	f.addPod(t, "node2", corev1.PodRunning, "not mine\n")
	status, body := get(t, f.client(t, "apiserver", "system:masters"), f.url+"/containerLogs/p/web/c")
	if status != http.StatusNotFound {
		t.Errorf("a pod of another node: %d %q, want 404", status, body)
	}
}

func TestKubeletAPIFollow(t *testing.T) {
	f := startKubeletAPI(t)
	f.addPod(t, "node1", corev1.PodRunning, "start\n")
	c := f.client(t, "apiserver", "system:masters")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.url+"/containerLogs/p/web/c?follow=true", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64)
	n, err := io.ReadAtLeast(resp.Body, buf, len("start\n"))
	if err != nil || string(buf[:n]) != "start\n" {
		t.Fatalf("first read %q, %v", buf[:n], err)
	}
	lf, err := os.OpenFile(f.logs.ContainerLog("p", "web", "c"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = lf.WriteString("more\n")
	lf.Close()
	n, err = io.ReadAtLeast(resp.Body, buf, len("more\n"))
	if err != nil || string(buf[:n]) != "more\n" {
		t.Fatalf("followed read %q, %v", buf[:n], err)
	}
	// The pod ends: the stream ends.
	obj, _, _ := f.pods.GetByKey("p/web")
	done := obj.(*corev1.Pod).DeepCopy()
	done.Status.Phase = corev1.PodSucceeded
	if err := f.pods.Update(done); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(resp.Body)
	if err != nil || len(rest) != 0 {
		t.Fatalf("after the pod ended: %q, %v", rest, err)
	}
}

// After the log rotated, the runs begin before the current file: the
// current run is what the file holds, and a previous run rotated away has
// nothing left to serve.
func TestKubeletAPIContainerLogsAfterRotation(t *testing.T) {
	f := startKubeletAPI(t)
	f.addPod(t, "node1", corev1.PodRunning, "first run\n", "one\ntwo\n")
	w, err := f.logs.OpenLog("p", "web", "c", podlogs.Rotation{MaxSize: 25, MaxFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	// 18 bytes and 11 more rotate (the times file's line is shorter);
	// then 5.
	for _, out := range []string{"three\nfour\n", "five\n"} {
		if err := w.Record(strings.NewReader(out)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c := f.client(t, "kube-apiserver-kubelet-client", "system:masters")
	for query, want := range map[string]string{"": "five\n", "?tailLines=1": "five\n", "?previous=true": ""} {
		if status, body := get(t, c, f.url+"/containerLogs/p/web/c"+query); status != http.StatusOK || body != want {
			t.Errorf("%q: %d %q, want 200 %q", query, status, body, want)
		}
	}
}
