package imageregistry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	imagev1client "github.com/openshift/client-go/image/clientset/versioned/typed/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/slipway-dev/slipway/internal/testserver"
)

// The API server and the registry are shared by the tests of this package:
// one real server per test binary.
var (
	api      *testserver.Server
	registry *Registry
	kube     kubernetes.Interface
	images   imagev1client.ImageV1Interface
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "imageregistry-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	addr, err := freeLoopbackAddr()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s, stop, err := testserver.StartForMain(testserver.Options{RegistryHostname: addr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the API server:", err)
		return 1
	}
	defer stop()
	api = s
	registry, err = New(Config{Listen: addr, StorageDir: filepath.Join(dir, "registry"), APIConfig: s.Admin})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the registry:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- registry.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "registry stopped with", err)
		}
	}()
	if kube, err = kubernetes.NewForConfig(s.Admin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if images, err = imagev1client.NewForConfig(s.Admin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// createNamespace makes a namespace for one test, named after it.
func createNamespace(t *testing.T, name string) {
	t.Helper()
	_, err := kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
}

// serviceAccountToken creates a service account and an empty token secret
// for it, as the service account controller would, waits for Kubernetes'
// token controller to sign its token, and until the API server accepts it.
func serviceAccountToken(t *testing.T, namespace, account string) string {
	t.Helper()
	ctx := context.Background()
	sa, err := kube.CoreV1().ServiceAccounts(namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: account}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating service account: %v", err)
	}
	_, err = kube.CoreV1().Secrets(namespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: account + "-token-test", Annotations: map[string]string{
			corev1.ServiceAccountNameKey: sa.Name, corev1.ServiceAccountUIDKey: string(sa.UID),
		}},
		Type: corev1.SecretTypeServiceAccountToken,
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating token secret: %v", err)
	}
	var token string
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		secret, err := kube.CoreV1().Secrets(namespace).Get(ctx, account+"-token-test", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		token = string(secret.Data[corev1.ServiceAccountTokenKey])
		return token != "", nil
	})
	if err != nil {
		t.Fatalf("the token controller signed no token for %s/%s: %v", namespace, account, err)
	}
	reviewer, err := NewTokenReviewer(api.Admin)
	if err != nil {
		t.Fatal(err)
	}
	want := "system:serviceaccount:" + namespace + ":" + account
	deadline := time.Now().Add(30 * time.Second)
	for {
		id, err := reviewer.ask(ctx, token)
		if err == nil && id != nil && id.Username == want {
			return token
		}
		if time.Now().After(deadline) {
			t.Fatalf("token of %s not accepted: identity %+v, err %v", want, id, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func basic(token string) remote.Option {
	return remote.WithAuth(&authn.Basic{Username: "serviceaccount", Password: token})
}

func ref(t *testing.T, repoAndTag string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(registry.Hostname()+"/"+repoAndTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// statusCode returns the HTTP status of a registry error from ggcr, or 0.
func statusCode(err error) int {
	var terr *transport.Error
	if errors.As(err, &terr) {
		return terr.StatusCode
	}
	return 0
}

func TestPushByTagRecordsImageStream(t *testing.T) {
	createNamespace(t, "push")
	token := serviceAccountToken(t, "push", "builder")
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref(t, "push/myapp:latest"), img, basic(token)); err != nil {
		t.Fatalf("pushing with a service account token: %v", err)
	}

	ctx := context.Background()
	stream, err := images.ImageStreams("push").Get(ctx, "myapp", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the push did not create the image stream: %v", err)
	}
	wantRepo := registry.Hostname() + "/push/myapp"
	if stream.Status.DockerImageRepository != wantRepo {
		t.Errorf("status.dockerImageRepository = %q, want %q", stream.Status.DockerImageRepository, wantRepo)
	}
	if len(stream.Status.Tags) != 1 || stream.Status.Tags[0].Tag != "latest" || len(stream.Status.Tags[0].Items) != 1 {
		t.Fatalf("status.tags = %+v, want one event for latest", stream.Status.Tags)
	}
	event := stream.Status.Tags[0].Items[0]
	if event.Image != digest.String() || event.DockerImageReference != wantRepo+"@"+digest.String() {
		t.Errorf("tag event = %+v, want image %s at %s", event, digest, wantRepo)
	}
	image, err := images.Images().Get(ctx, digest.String(), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the push did not create the Image: %v", err)
	}
	if image.DockerImageReference != wantRepo+"@"+digest.String() || len(image.DockerImageLayers) != 2 || image.DockerImageMetadataVersion != "1.0" {
		t.Errorf("image = ref %q, %d layers, metadata version %q", image.DockerImageReference, len(image.DockerImageLayers), image.DockerImageMetadataVersion)
	}
	if image.Annotations["openshift.io/image.managed"] != "true" {
		t.Errorf("image annotations = %v, want managed", image.Annotations)
	}

	// Pulled back by digest, with the same token and with the admin's.
	for who, tok := range map[string]string{"service account": token, "admin": api.AdminToken} {
		pulled, err := remote.Image(ref(t, "push/myapp@"+digest.String()), basic(tok))
		if err != nil {
			t.Fatalf("pulling as %s: %v", who, err)
		}
		if got, _ := pulled.Digest(); got != digest {
			t.Errorf("pulled %s as %s, want %s", got, who, digest)
		}
		if _, err := pulled.RawConfigFile(); err != nil {
			t.Errorf("reading the pulled config as %s: %v", who, err)
		}
	}

	// A second image on the same tag becomes the newest event.
	next, _ := random.Image(1024, 1)
	nextDigest, _ := next.Digest()
	if err := remote.Write(ref(t, "push/myapp:latest"), next, basic(token)); err != nil {
		t.Fatal(err)
	}
	stream, err = images.ImageStreams("push").Get(ctx, "myapp", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if items := stream.Status.Tags[0].Items; len(items) != 2 || items[0].Image != nextDigest.String() || items[1].Image != digest.String() {
		t.Errorf("history after the second push = %+v", items)
	}
}

func TestPushByDigestCreatesOnlyTheImage(t *testing.T) {
	createNamespace(t, "bydigest")
	img, _ := random.Image(512, 1)
	digest, _ := img.Digest()
	if err := remote.Write(ref(t, "bydigest/lonely@"+digest.String()), img, basic(api.AdminToken)); err != nil {
		t.Fatalf("pushing by digest as admin: %v", err)
	}
	ctx := context.Background()
	if _, err := images.Images().Get(ctx, digest.String(), metav1.GetOptions{}); err != nil {
		t.Errorf("push by digest did not create the Image: %v", err)
	}
	if _, err := images.ImageStreams("bydigest").Get(ctx, "lonely", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("push by digest touched the image stream (err %v), want none", err)
	}
}

func TestCredentialsAreChecked(t *testing.T) {
	createNamespace(t, "mine")
	createNamespace(t, "theirs")
	mine := serviceAccountToken(t, "mine", "builder")
	img, _ := random.Image(256, 1)

	tests := []struct {
		name   string
		repo   string
		option remote.Option
		status int
	}{
		{"wrong token", "mine/app:latest", basic("not-a-token"), http.StatusUnauthorized},
		{"anonymous", "mine/app:latest", remote.WithAuth(authn.Anonymous), http.StatusUnauthorized},
		{"service account of another namespace", "theirs/app:latest", basic(mine), http.StatusForbidden},
		{"repository without a namespace", "app:latest", basic(api.AdminToken), http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := remote.Write(ref(t, tt.repo), img, tt.option)
			if err == nil {
				t.Fatal("push succeeded")
			}
			if got := statusCode(err); got != tt.status {
				t.Errorf("push failed with status %d (%v), want %d", got, err, tt.status)
			}
		})
	}
	if _, err := images.ImageStreams("theirs").Get(context.Background(), "app", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a refused push created a stream (err %v)", err)
	}
	// Pulls are checked the same way.
	if err := remote.Write(ref(t, "theirs/app:v1"), img, basic(api.AdminToken)); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Image(ref(t, "theirs/app:v1"), basic(mine)); statusCode(err) != http.StatusForbidden {
		t.Errorf("pull from another namespace: %v, want 403", err)
	}

	// The bare challenge docker login sees first.
	resp, err := http.Get("http://" + registry.Addr() + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic realm=") {
		t.Errorf("GET /v2/ anonymously = %d %q, want 401 with a Basic challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+registry.Addr()+"/v2/", nil)
	req.SetBasicAuth("anyone", mine)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v2/ with a token = %d, want 200", resp.StatusCode)
	}
}

// TestCrossProjectBlobMountIsRefused: a project's service account asks the
// registry to mount a layer of another project's repository into its own,
// with the source named in the query and, as distribution also reads it,
// in a form-encoded body. The mount must not happen (the registry starts
// a plain upload instead) and the layer must stay out of the attacker's
// repository.
func TestCrossProjectBlobMountIsRefused(t *testing.T) {
	createNamespace(t, "victim")
	createNamespace(t, "attacker")
	attacker := serviceAccountToken(t, "attacker", "builder")
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref(t, "victim/app:latest"), img, basic(api.AdminToken)); err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	digest, err := layers[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	uploads := "http://" + registry.Addr() + "/v2/attacker/x/blobs/uploads/"
	form := url.Values{"from": {"victim/app"}, "mount": {digest.String()}}
	for _, tc := range []struct {
		name string
		req  func() *http.Request
	}{
		{"query", func() *http.Request {
			req, _ := http.NewRequest(http.MethodPost, uploads+"?"+form.Encode(), nil)
			return req
		}},
		{"form body", func() *http.Request {
			req, _ := http.NewRequest(http.MethodPost, uploads, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return req
		}},
		{"both, the body naming the victim", func() *http.Request {
			req, _ := http.NewRequest(http.MethodPost, uploads+"?from=attacker/y&mount="+digest.String(), strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return req
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req()
			req.SetBasicAuth("builder", attacker)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusCreated {
				t.Fatalf("mount from victim/app answered 201 Created (Location %s): the layer was linked", resp.Header.Get("Location"))
			}
			if resp.StatusCode != http.StatusAccepted {
				t.Errorf("mount from victim/app answered %d, want 202 (a plain upload)", resp.StatusCode)
			}
			head, _ := http.NewRequest(http.MethodHead, "http://"+registry.Addr()+"/v2/attacker/x/blobs/"+digest.String(), nil)
			head.SetBasicAuth("builder", attacker)
			resp, err = http.DefaultClient.Do(head)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("HEAD of the victim's layer in attacker/x: %d, want 404", resp.StatusCode)
			}
		})
	}
}
