package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	projectv1 "github.com/openshift/api/project/v1"
	appsclient "github.com/openshift/client-go/apps/clientset/versioned"
	buildclient "github.com/openshift/client-go/build/clientset/versioned"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	projectclient "github.com/openshift/client-go/project/clientset/versioned"
	kappsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
)

func newProject(t *testing.T, cfg *rest.Config, name string) {
	t.Helper()
	pc := projectclient.NewForConfigOrDie(cfg)
	if _, err := pc.ProjectV1().ProjectRequests().Create(context.Background(), &projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating project %s: %v", name, err)
	}
}

// TestRestartKeepsObjects: every object survives a restart of the server.
func TestRestartKeepsObjects(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	cfg := s.restConfig()
	newProject(t, cfg, "keep")
	bc := buildclient.NewForConfigOrDie(cfg)
	if _, err := bc.BuildV1().BuildConfigs("keep").Create(ctx, dockerBuildConfig("time"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kube := kubernetes.NewForConfigOrDie(cfg)
	if _, err := kube.CoreV1().Secrets("keep").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}, StringData: map[string]string{"k": "v"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Kubernetes' own kinds and an extension's, beside OpenShift's.
	replicas := int32(0)
	deployment := &kappsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: kappsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "busybox"}}},
			},
		},
	}
	if _, err := kube.AppsV1().Deployments("keep").Create(ctx, deployment, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	view := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "viewers"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "viewers"}},
	}
	if _, err := kube.RbacV1().RoleBindings("keep").Create(ctx, view, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := imageclient.NewForConfigOrDie(cfg).ImageV1().ImageStreams("keep").Create(ctx, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "mytime"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	s.restart()
	cfg = s.restConfig()
	bc = buildclient.NewForConfigOrDie(cfg)
	kube = kubernetes.NewForConfigOrDie(cfg)
	if _, err := kube.AppsV1().Deployments("keep").Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Errorf("deployment after restart: %v", err)
	}
	if _, err := kube.RbacV1().RoleBindings("keep").Get(ctx, "viewers", metav1.GetOptions{}); err != nil {
		t.Errorf("role binding after restart: %v", err)
	}
	if _, err := imageclient.NewForConfigOrDie(cfg).ImageV1().ImageStreams("keep").Get(ctx, "mytime", metav1.GetOptions{}); err != nil {
		t.Errorf("image stream after restart: %v", err)
	}
	got, err := bc.BuildV1().BuildConfigs("keep").Get(ctx, "time", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if got.Spec.Source.Git == nil || got.Spec.Source.Git.URI != "https://git.example.com/veer/time.git" {
		t.Fatalf("build config changed across restart: %+v", got.Spec.Source)
	}
	sec, err := kube.CoreV1().Secrets("keep").Get(ctx, "s", metav1.GetOptions{})
	if err != nil || string(sec.Data["k"]) != "v" {
		t.Fatalf("secret after restart: %v %v", sec, err)
	}
	if _, err := projectclient.NewForConfigOrDie(cfg).ProjectV1().Projects().Get(ctx, "keep", metav1.GetOptions{}); err != nil {
		t.Fatalf("project after restart: %v", err)
	}
}

func dockerBuildConfig(name string) *buildv1.BuildConfig {
	return &buildv1.BuildConfig{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: buildv1.BuildConfigSpec{CommonSpec: buildv1.CommonSpec{
			Source:   buildv1.BuildSource{Type: buildv1.BuildSourceGit, Git: &buildv1.GitBuildSource{URI: "https://git.example.com/veer/time.git", Ref: "main"}, ContextDir: "busybox"},
			Strategy: buildv1.BuildStrategy{Type: buildv1.DockerBuildStrategyType, DockerStrategy: &buildv1.DockerBuildStrategy{}},
			Output:   buildv1.BuildOutput{To: &corev1.ObjectReference{Kind: "DockerImage", Name: "localhost:5001/veer/mytime:latest"}},
		}},
	}
}

// TestOpenShiftClients: openshift/client-go typed clients create, get,
// update, list, watch and delete every OpenShift kind Slipway serves.
func TestOpenShiftClients(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := s.restConfig()
	newProject(t, cfg, "clients")
	builds := buildclient.NewForConfigOrDie(cfg).BuildV1()
	images := imageclient.NewForConfigOrDie(cfg).ImageV1()
	apps := appsclient.NewForConfigOrDie(cfg).AppsV1()

	w, err := builds.BuildConfigs("clients").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	created, err := builds.BuildConfigs("clients").Create(ctx, dockerBuildConfig("time"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.Spec.RunPolicy != buildv1.BuildRunPolicySerial || created.Spec.SuccessfulBuildsHistoryLimit == nil || *created.Spec.SuccessfulBuildsHistoryLimit != 5 {
		t.Fatalf("defaults not applied: %+v", created.Spec)
	}
	expectEvent(t, w, watch.Added, "time")
	created.Labels = map[string]string{"app": "time"}
	if _, err := builds.BuildConfigs("clients").Update(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, w, watch.Modified, "time")
	// A stale update is a conflict, not a lost write.
	if _, err := builds.BuildConfigs("clients").Update(ctx, created, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("stale update: %v, want conflict", err)
	}
	if err := builds.BuildConfigs("clients").Delete(ctx, "time", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, w, watch.Deleted, "time")

	build := &buildv1.Build{ObjectMeta: metav1.ObjectMeta{Name: "time-1"}, Spec: buildv1.BuildSpec{CommonSpec: dockerBuildConfig("x").Spec.CommonSpec}}
	b, err := builds.Builds("clients").Create(ctx, build, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Status.Phase != buildv1.BuildPhaseNew {
		t.Fatalf("new build phase %q", b.Status.Phase)
	}
	// The build controller works on the build too: a status update must
	// carry the latest resourceVersion, or it is a conflict.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		latest, err := builds.Builds("clients").Get(ctx, "time-1", metav1.GetOptions{})
		if err != nil {
			return err
		}
		latest.Status.Message = "checked by the e2e test"
		_, err = builds.Builds("clients").UpdateStatus(ctx, latest, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("build status update: %v", err)
	}

	is := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "mytime"}, Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{
		Name: "latest", From: &corev1.ObjectReference{Kind: "DockerImage", Name: "localhost:5001/veer/mytime:latest"}, ImportPolicy: imagev1.TagImportPolicy{Scheduled: true},
	}}}}
	gotIS, err := images.ImageStreams("clients").Create(ctx, is, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if gotIS.Generation != 1 || gotIS.Spec.Tags[0].Generation == nil || *gotIS.Spec.Tags[0].Generation != 1 || gotIS.Spec.Tags[0].ReferencePolicy.Type != imagev1.SourceTagReferencePolicy {
		t.Fatalf("image stream generations/defaults: gen %d, tag %+v", gotIS.Generation, gotIS.Spec.Tags[0])
	}
	list, err := images.ImageStreams("clients").List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list image streams: %v %v", list, err)
	}
	istag, err := images.ImageStreamTags("clients").Get(ctx, "mytime:latest", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get istag: %v", err)
	}
	if istag.Tag == nil || istag.Tag.From.Name != "localhost:5001/veer/mytime:latest" {
		t.Fatalf("istag: %+v", istag.Tag)
	}

	dc := &appsv1.DeploymentConfig{ObjectMeta: metav1.ObjectMeta{Name: "mytime"}, Spec: appsv1.DeploymentConfigSpec{
		Replicas: 1,
		Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "mytime"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "mytime", Image: "busybox"}}}},
	}}
	gotDC, err := apps.DeploymentConfigs("clients").Create(ctx, dc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(gotDC.Spec.Triggers) != 1 || gotDC.Spec.Triggers[0].Type != appsv1.DeploymentTriggerOnConfigChange || gotDC.Spec.Selector["app"] != "mytime" {
		t.Fatalf("dc defaults: triggers %+v selector %v", gotDC.Spec.Triggers, gotDC.Spec.Selector)
	}
	// The DeploymentConfig controller writes the DC's status meanwhile: a
	// client retries a conflicting scale, as kubectl scale does.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		scale, err := apps.DeploymentConfigs("clients").GetScale(ctx, "mytime", metav1.GetOptions{})
		if err != nil {
			return err
		}
		scale.Spec.Replicas = 3
		_, err = apps.DeploymentConfigs("clients").UpdateScale(ctx, "mytime", scale, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("scale: %v", err)
	}
	if got, _ := apps.DeploymentConfigs("clients").Get(ctx, "mytime", metav1.GetOptions{}); got.Spec.Replicas != 3 {
		t.Fatalf("scale did not reach the dc: %d", got.Spec.Replicas)
	}
}

func expectEvent(t *testing.T, w watch.Interface, typ watch.EventType, name string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed waiting for %s %s", typ, name)
			}
			m, err := metaOf(ev.Object)
			if err == nil && ev.Type == typ && m == name {
				return
			}
		case <-timeout:
			t.Fatalf("no %s event for %s", typ, name)
		}
	}
}

func metaOf(obj any) (string, error) {
	o, ok := obj.(metav1.Object)
	if !ok {
		return "", fmt.Errorf("%T has no metadata", obj)
	}
	return o.GetName(), nil
}

// TestKubectl: kubectl with the admin kubeconfig creates, gets, watches and
// deletes OpenShift objects.
func TestKubectl(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed")
	}
	s := startServer(t)
	newProject(t, s.restConfig(), "kube")
	run := func(args ...string) string {
		t.Helper()
		out, errOut, err := runBinary(t, kubectl, s.kubeconfig(), nil, nil, append([]string{"-n", "kube"}, args...)...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
		}
		return out
	}
	replace := []string{"REGISTRY", "localhost:5001", "GIT_URI", "https://git.example.com/veer/time.git"}

	// A watch started before the create sees it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	watchCmd := exec.CommandContext(ctx, kubectl, "-n", "kube", "get", "is", "-w", "-o", "name")
	watchCmd.Env = append(os.Environ(), "KUBECONFIG="+s.kubeconfig())
	var watched bytes.Buffer
	watchCmd.Stdout = &watched
	if err := watchCmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)

	out := run("create", "-f", fixture(t, "imagestream.yaml", replace...), "-f", fixture(t, "buildconfig.yaml", replace...), "-f", fixture(t, "dc.yaml", replace...))
	if !strings.Contains(out, "imagestream.image.openshift.io/mytime created") {
		t.Fatalf("kubectl create: %s", out)
	}
	if out := run("get", "bc", "time"); !strings.Contains(out, "Docker") {
		t.Fatalf("kubectl get bc:\n%s", out)
	}
	if out := run("get", "dc", "mytime", "-o", "jsonpath={.spec.revisionHistoryLimit}"); out != "10" {
		t.Fatalf("kubectl get dc revisionHistoryLimit = %q", out)
	}
	if out := run("explain", "buildconfig.spec.runPolicy"); !strings.Contains(strings.ToLower(out), "runpolicy") {
		t.Fatalf("kubectl explain:\n%s", out)
	}
	eventually(t, 20*time.Second, func() error {
		if !strings.Contains(watched.String(), "imagestream.image.openshift.io/mytime") {
			return errorf("watch saw: %q", watched.String())
		}
		return nil
	})
	run("delete", "is", "mytime")
	if _, errOut, err := runBinary(t, kubectl, s.kubeconfig(), nil, nil, "-n", "kube", "get", "is", "mytime"); err == nil || !strings.Contains(errOut, "NotFound") && !strings.Contains(errOut, "not found") {
		t.Fatalf("deleted stream still there: %v %s", err, errOut)
	}
	// Client-side apply uses the OpenAPI schema.
	out = run("apply", "-f", fixture(t, "imagestream.yaml", replace...))
	if !strings.Contains(out, "imagestream.image.openshift.io/mytime created") {
		t.Fatalf("kubectl apply: %s", out)
	}
}

// TestAuthentication: anonymous requests are forbidden (Kubernetes'
// anonymous user, as on OpenShift), bad tokens unauthorized; service account
// tokens are Kubernetes' own; RBAC decides, for OpenShift's groups too
// (delegated to the kube-apiserver), and the OpenShift API server sees the
// caller's identity.
func TestAuthentication(t *testing.T) {
	auditLog := filepath.Join(t.TempDir(), "audit.log")
	s := startServer(t, "--audit-log", auditLog)
	ctx := context.Background()
	cfg := s.restConfig()
	newProject(t, cfg, "mine")
	newProject(t, cfg, "theirs")
	kube := kubernetes.NewForConfigOrDie(cfg)

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for _, path := range []string{"/api/v1/namespaces", "/apis/build.openshift.io/v1/namespaces/mine/buildconfigs", "/api"} {
		resp, err := client.Get(s.url() + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("anonymous GET %s: %d, want 403", path, resp.StatusCode)
		}
	}
	if code := statusWithToken(t, client, s.url()+"/api/v1/namespaces", "not-a-token"); code != http.StatusUnauthorized {
		t.Errorf("bad token: %d, want 401", code)
	}

	var token string
	eventually(t, 30*time.Second, func() error {
		secrets, err := kube.CoreV1().Secrets("mine").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, sec := range secrets.Items {
			if sec.Type == corev1.SecretTypeServiceAccountToken && sec.Annotations[corev1.ServiceAccountNameKey] == "builder" && len(sec.Data["token"]) > 0 {
				token = string(sec.Data["token"])
				return nil
			}
		}
		return errorf("no builder token secret in %d secrets", len(secrets.Items))
	})
	// The builder gets view in its own project, nothing more.
	view := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "builder-view", Namespace: "mine"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "builder", Namespace: "mine"}},
	}
	if _, err := kube.RbacV1().RoleBindings("mine").Create(ctx, view, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := buildclient.NewForConfigOrDie(cfg).BuildV1().BuildConfigs("mine").Create(ctx, dockerBuildConfig("x"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	saCfg := rest.AnonymousClientConfig(cfg)
	saCfg.BearerToken = token
	saKube := kubernetes.NewForConfigOrDie(saCfg)
	saBuilds := buildclient.NewForConfigOrDie(saCfg).BuildV1()
	eventually(t, 10*time.Second, func() error {
		_, err := saBuilds.BuildConfigs("mine").Get(ctx, "x", metav1.GetOptions{})
		return err
	})
	if _, err := saBuilds.BuildConfigs("mine").Create(ctx, dockerBuildConfig("y"), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("viewer creating a build config in its project: %v, want 403", err)
	}
	if _, err := saKube.CoreV1().Secrets("mine").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("viewer listing secrets: %v, want 403", err)
	}
	if _, err := saBuilds.BuildConfigs("theirs").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("service account reading another project: %v, want 403", err)
	}
	if _, err := saKube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("service account listing namespaces: %v, want 403", err)
	}

	// kubectl sees the same: auth can-i as the admin, as the builder (by
	// impersonation and by a token kubectl create token issued), and the
	// token authenticates the builder.
	t.Run("kubectl", func(t *testing.T) {
		kubectlBin := requireKubectl(t)
		kubectl := kubectlRunner(t, kubectlBin, s)
		canI := func(want string, args ...string) {
			t.Helper()
			// can-i exits 1 when the answer is no.
			out, errOut, err := runBinary(t, kubectlBin, s.kubeconfig(), nil, nil, append([]string{"auth", "can-i"}, args...)...)
			if got := strings.TrimSpace(out); got != want || (err == nil) != (want == "yes") {
				t.Errorf("kubectl auth can-i %s: %q (%v), want %s\n%s", strings.Join(args, " "), got, err, want, errOut)
			}
		}
		canI("yes", "create", "deployments")
		canI("yes", "create", "deployments", "-n", "mine")
		token := strings.TrimSpace(kubectl("create", "token", "builder", "-n", "mine"))
		if parts := strings.Split(token, "."); len(parts) != 3 || !strings.HasPrefix(token, "eyJ") {
			t.Fatalf("kubectl create token printed %q, not a JWT", token)
		}
		for _, as := range []string{"--as=system:serviceaccount:mine:builder", "--token=" + token} {
			canI("no", as, "create", "deployments", "-n", "mine")
			canI("no", as, "create", "buildconfigs.build.openshift.io", "-n", "mine")
			canI("yes", as, "get", "deployments", "-n", "mine")
			canI("yes", as, "list", "buildconfigs.build.openshift.io", "-n", "mine")
			canI("no", as, "get", "deployments", "-n", "theirs")
		}
		if out := kubectl("--token="+token, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); out != "system:serviceaccount:mine:builder" {
			t.Errorf("kubectl auth whoami with the created token: %q", out)
		}
		if out := kubectl("--token="+token, "get", "buildconfigs", "-n", "mine", "-o", "name"); strings.TrimSpace(out) != "buildconfig.build.openshift.io/x" {
			t.Errorf("kubectl get buildconfigs with the created token: %q", out)
		}
	})

	// Delegated authentication: the OpenShift API server records who asked.
	provisioner := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "builder-self-provisioner"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "self-provisioner"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "builder", Namespace: "mine"}},
	}
	if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, provisioner, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		_, err := projectclient.NewForConfigOrDie(saCfg).ProjectV1().ProjectRequests().Create(ctx, &projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: "by-builder"}}, metav1.CreateOptions{})
		return err
	})
	ns, err := kube.CoreV1().Namespaces().Get(ctx, "by-builder", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ns.Annotations["openshift.io/requester"]; got != "system:serviceaccount:mine:builder" {
		t.Fatalf("requester %q, want the service account", got)
	}

	// --audit-log: who did what, as the kube-apiserver saw it (the
	// viewer's refused create of a build config), and never a token or
	// a secret's data.
	checkAuditLog(t, auditLog, token)
}

// checkAuditLog checks that the audit log records the builder's refused
// BuildConfig create with its decision, and holds none of secrets.
func checkAuditLog(t *testing.T, path string, secrets ...string) {
	t.Helper()
	var data []byte
	found := false
	eventually(t, 10*time.Second, func() error {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return err
		}
		for line := range strings.Lines(string(data)) {
			var ev struct {
				Verb      string `json:"verb"`
				User      struct{ Username string }
				ObjectRef struct{ Resource, Namespace string }
				Response  struct{ Code int } `json:"responseStatus"`
			}
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				return fmt.Errorf("audit log line %q: %w", line, err)
			}
			if ev.Verb == "create" && ev.User.Username == "system:serviceaccount:mine:builder" &&
				ev.ObjectRef.Resource == "buildconfigs" && ev.ObjectRef.Namespace == "mine" && ev.Response.Code == http.StatusForbidden {
				found = true
				return nil
			}
		}
		return errorf("no refused buildconfigs create by the builder in %d bytes of audit log", len(data))
	})
	if !found {
		t.Fatal("audit log incomplete")
	}
	for _, secret := range secrets {
		if strings.Contains(string(data), secret) {
			t.Fatal("the audit log holds a token")
		}
	}
}

func statusWithToken(t *testing.T, client *http.Client, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// TestSecretsEncryptedAtRest: a secret's value is nowhere in etcd's files.
func TestSecretsEncryptedAtRest(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	cfg := s.restConfig()
	kube := kubernetes.NewForConfigOrDie(cfg)
	const password = "correct-horse-battery-staple-4711"
	if _, err := kube.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "plain"}, StringData: map[string]string{"password": password}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The same value in a ConfigMap is stored in plain text: this proves the
	// search below would find the secret if it were not encrypted.
	if _, err := kube.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "control"}, Data: map[string]string{"v": "control-" + password}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s.stop() // flush etcd's files
	found := map[string]bool{}
	filepath.Walk(filepath.Join(s.dataDir, "etcd"), func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		if bytes.Contains(data, []byte("control-"+password)) {
			found["control"] = true
		}
		if bytes.Count(data, []byte(password)) > bytes.Count(data, []byte("control-"+password)) {
			found["secret"] = true
		}
		return nil
	})
	if !found["control"] {
		t.Fatal("control value not found in etcd's files: the search does not work")
	}
	if found["secret"] {
		t.Fatal("secret value found in plain text in etcd's files")
	}
}

// TestExternalEtcd runs Slipway on Debian's etcd-server instead of the
// embedded one.
func TestExternalEtcd(t *testing.T) {
	etcdBin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("etcd (Debian etcd-server) is not installed; `make deps` installs it")
	}
	client, peer := freeAddr(t), freeAddr(t)
	dir := t.TempDir()
	cmd := exec.Command(etcdBin, "--data-dir", dir, "--name", "ext",
		"--listen-client-urls", "http://"+client, "--advertise-client-urls", "http://"+client,
		"--listen-peer-urls", "http://"+peer, "--initial-advertise-peer-urls", "http://"+peer,
		"--initial-cluster", "ext=http://"+peer)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.Env = append(os.Environ(), "ETCD_UNSUPPORTED_ARCH=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	s := startServer(t, "--etcd-servers", "http://"+client)
	cfg := s.restConfig()
	newProject(t, cfg, "ext")
	if _, err := buildclient.NewForConfigOrDie(cfg).BuildV1().BuildConfigs("ext").Create(context.Background(), dockerBuildConfig("time"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create on external etcd: %v\netcd logs:\n%s", err, tail(logs.String(), 20))
	}
	if _, err := os.Stat(filepath.Join(s.dataDir, "etcd")); err == nil {
		t.Fatal("an embedded etcd ran although --etcd-servers was given")
	}
	s.restart()
	if _, err := buildclient.NewForConfigOrDie(s.restConfig()).BuildV1().BuildConfigs("ext").Get(context.Background(), "time", metav1.GetOptions{}); err != nil {
		t.Fatalf("object not kept in the external etcd: %v", err)
	}
}
