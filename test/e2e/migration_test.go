package e2e

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsclient "github.com/openshift/client-go/apps/clientset/versioned"
	buildclient "github.com/openshift/client-go/build/clientset/versioned"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	projectclient "github.com/openshift/client-go/project/clientset/versioned"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// TestLayout1DataDirIsTakenOver starts the current binary on the data
// directory a Slipway of layout 1 left (testdata/layout1.tar.gz, made by
// testdata/make-layout1.sh with e115bd5, whose core API was its own): every
// object it made is served, the same object, not one made again (but the
// Service, which gets a cluster IP now), service accounts get tokens the
// kube-apiserver signs, the admin's token and kubeconfig work, and the
// directory is recorded as layout 2. A directory of a newer layout is
// refused.
func TestLayout1DataDirIsTakenOver(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-xzf", "testdata/layout1.tar.gz", "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("unpacking the layout 1 fixture: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "layout")); err == nil {
		t.Fatal("the fixture has a layout file: it is not of layout 1")
	}
	oldToken, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	s := startServerIn(t, dir)
	ctx := context.Background()
	ns := "legacy"

	if layout, err := os.ReadFile(filepath.Join(dir, "layout")); err != nil || string(layout) != "2\n" {
		t.Errorf("layout file %q, %v; want 2", layout, err)
	}
	if s.adminToken() != strings.TrimSpace(string(oldToken)) {
		t.Error("the admin token of layout 1 was replaced")
	}
	cfg := s.restConfig() // the admin kubeconfig, written again for this address
	kube := kubernetes.NewForConfigOrDie(cfg)
	// kept fails the test unless what is the object of layout 1: created
	// before this server started.
	kept := func(what string, m metav1.Object) {
		t.Helper()
		if !m.GetCreationTimestamp().Time.Before(started) {
			t.Errorf("%s was created again at %s", what, m.GetCreationTimestamp())
		}
	}

	if out := s.newCLI().run("projects"); !strings.Contains(out, ns) {
		t.Errorf("slipway projects does not list %s:\n%s", ns, out)
	}
	project, err := projectclient.NewForConfigOrDie(cfg).ProjectV1().Projects().Get(ctx, ns, getOpts)
	if err != nil {
		t.Fatal(err)
	}
	kept("project", project)
	if got := project.Annotations["openshift.io/requester"]; got != "system:admin" {
		t.Errorf("project requester %q, want system:admin", got)
	}

	secret, err := kube.CoreV1().Secrets(ns).Get(ctx, "creds", getOpts)
	if err != nil {
		t.Fatal(err)
	}
	kept("secret", secret)
	if got := string(secret.Data["password"]); got != "s3cret" {
		t.Errorf("secret creds holds %q, want s3cret", got)
	}
	cm, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "settings", getOpts)
	if err != nil {
		t.Fatal(err)
	}
	kept("config map", cm)
	if cm.Data["greeting"] != "hello" {
		t.Errorf("config map settings holds %v", cm.Data)
	}

	// Layout 1 stored Services and ReplicationControllers under other keys
	// than Kubernetes: the RC is moved, the Service made again with a
	// cluster IP of this server's range.
	svc, err := kube.CoreV1().Services(ns).Get(ctx, "web", getOpts)
	if err != nil {
		t.Fatalf("the Service of layout 1: %v", err)
	}
	_, serviceNet, _ := net.ParseCIDR(s.serviceCIDR)
	if ip := net.ParseIP(svc.Spec.ClusterIP); ip == nil || !serviceNet.Contains(ip) || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 8080 || svc.Spec.Selector["app"] != "web" {
		t.Errorf("Service web: cluster IP %q (range %s), ports %+v, selector %v", svc.Spec.ClusterIP, s.serviceCIDR, svc.Spec.Ports, svc.Spec.Selector)
	}
	rc, err := kube.CoreV1().ReplicationControllers(ns).Get(ctx, "mytime-1", getOpts)
	if err != nil {
		t.Fatalf("the ReplicationController of layout 1: %v", err)
	}
	kept("replication controller", rc)
	if rc.Annotations["openshift.io/deployment.phase"] != "Complete" {
		t.Errorf("RC mytime-1 annotations %v", rc.Annotations)
	}
	deployer, err := kube.CoreV1().Pods(ns).Get(ctx, "mytime-1-deploy", getOpts)
	if err != nil {
		t.Fatalf("the deployer pod of layout 1: %v", err)
	}
	kept("deployer pod", deployer)
	if deployer.Status.Phase != corev1.PodSucceeded {
		t.Errorf("deployer pod phase %s, want Succeeded", deployer.Status.Phase)
	}

	bc, err := buildclient.NewForConfigOrDie(cfg).BuildV1().BuildConfigs(ns).Get(ctx, "time", getOpts)
	if err != nil {
		t.Fatal(err)
	}
	kept("build config", bc)
	if bc.Spec.Source.Git == nil || bc.Spec.Source.Git.URI != "https://git.example.com/time.git" || bc.Spec.Output.To == nil || bc.Spec.Output.To.Name != "mytime:latest" {
		t.Errorf("BuildConfig time: source %+v, output %+v", bc.Spec.Source, bc.Spec.Output.To)
	}
	images := imageclient.NewForConfigOrDie(cfg).ImageV1()
	digest := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte("layout1")))
	wantRef := "registry.example.com/legacy/mytime@" + digest
	is, err := images.ImageStreams(ns).Get(ctx, "mytime", getOpts)
	if err != nil {
		t.Fatal(err)
	}
	kept("image stream", is)
	for _, tag := range []string{"latest", "stable"} {
		istag, err := images.ImageStreamTags(ns).Get(ctx, "mytime:"+tag, getOpts)
		if err != nil {
			t.Errorf("istag mytime:%s: %v", tag, err)
			continue
		}
		if istag.Image.Name != digest || istag.Image.DockerImageReference != wantRef {
			t.Errorf("istag mytime:%s names %s (%s), want %s", tag, istag.Image.Name, istag.Image.DockerImageReference, wantRef)
		}
	}
	if _, err := images.Images().Get(ctx, digest, getOpts); err != nil {
		t.Errorf("image %s: %v", digest, err)
	}
	dc, err := appsclient.NewForConfigOrDie(cfg).AppsV1().DeploymentConfigs(ns).Get(ctx, "mytime", getOpts)
	if err != nil {
		t.Fatal(err)
	}
	kept("deployment config", dc)
	if dc.Status.LatestVersion != 1 || dc.Spec.Template.Spec.Containers[0].Image != wantRef {
		t.Errorf("DeploymentConfig mytime: version %d, image %q", dc.Status.LatestVersion, dc.Spec.Template.Spec.Containers[0].Image)
	}
	if out := s.newCLI().run("get", "bc,is,dc", "-n", ns); !strings.Contains(out, "buildconfig.build.openshift.io/time") ||
		!strings.Contains(out, "imagestream.image.openshift.io/mytime") || !strings.Contains(out, "deploymentconfig.apps.openshift.io/mytime") {
		t.Errorf("slipway get bc,is,dc:\n%s", out)
	}

	// Service accounts: the same objects, with tokens the kube-apiserver
	// signs now, in token secrets and through TokenRequest.
	sa, err := kube.CoreV1().ServiceAccounts(ns).Get(ctx, "robot", getOpts)
	if err != nil {
		t.Fatal(err)
	}
	kept("service account", sa)
	want := "system:serviceaccount:" + ns + ":robot"
	eventually(t, time.Minute, func() error {
		secrets, err := kube.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, sec := range secrets.Items {
			if sec.Type != corev1.SecretTypeServiceAccountToken || sec.Annotations[corev1.ServiceAccountNameKey] != "robot" {
				continue
			}
			if user, err := whoami(ctx, cfg, string(sec.Data["token"])); err != nil || user != want {
				return fmt.Errorf("token secret %s: %q, %v", sec.Name, user, err)
			}
			return nil
		}
		return fmt.Errorf("robot has no token secret")
	})
	t.Run("kubectl create token", func(t *testing.T) {
		kubectl := kubectlRunner(t, requireKubectl(t), s)
		token := strings.TrimSpace(kubectl("create", "token", "robot", "-n", ns))
		if out := kubectl("--token="+token, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"); out != want {
			t.Errorf("kubectl create token robot authenticates as %q, want %s", out, want)
		}
	})

	// A data directory of a newer layout is refused, and left alone.
	s.stop()
	writeFile(t, filepath.Join(dir, "layout"), "3\n")
	cmdCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(cmdCtx, slipwayBin, "server", "--data-dir", dir, "--listen", freeAddr(t), "--registry-listen", freeAddr(t)).CombinedOutput()
	if err == nil || !strings.Contains(string(out), dir+" was written by a newer Slipway (layout 3; this one knows up to 2): run that version, or start with a new --data-dir") {
		t.Errorf("server on a layout 3 directory: %v\n%s", err, tail(string(out), 20))
	}
	if layout, _ := os.ReadFile(filepath.Join(dir, "layout")); string(layout) != "3\n" {
		t.Errorf("the refused directory's layout file now holds %q", layout)
	}
}

// whoami is the user token authenticates as.
func whoami(ctx context.Context, admin *rest.Config, token string) (string, error) {
	cfg := rest.AnonymousClientConfig(admin)
	cfg.BearerToken = token
	review, err := kubernetes.NewForConfigOrDie(cfg).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, createOpts)
	if err != nil {
		return "", err
	}
	return review.Status.UserInfo.Username, nil
}
