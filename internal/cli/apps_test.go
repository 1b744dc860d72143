package cli

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ggcrv1 "github.com/google/go-containerregistry/pkg/v1"
	appsv1 "github.com/openshift/api/apps/v1"
	imagev1 "github.com/openshift/api/image/v1"
	appsclient "github.com/openshift/client-go/apps/clientset/versioned"
	buildclient "github.com/openshift/client-go/build/clientset/versioned"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/slipway-dev/slipway/internal/deployutil"
	"github.com/slipway-dev/slipway/internal/testregistry"
)

// pushImageWithPorts maps an image whose config exposes ports into
// ns/stream:tag, as the internal registry does on a push (manifest and
// config given, so the server records the image's metadata), and returns
// the tag's pull spec.
func pushImageWithPorts(t *testing.T, images imageclient.Interface, ns, stream, tag string, ports ...string) string {
	t.Helper()
	exposed := make([]string, len(ports))
	for i, p := range ports {
		exposed[i] = fmt.Sprintf("%q:{}", p)
	}
	config := []byte(`{"architecture":"amd64","os":"linux","created":"2024-01-02T03:04:05Z",` +
		`"config":{"Cmd":["./init.sh"],"ExposedPorts":{` + strings.Join(exposed, ",") + `}},` +
		`"rootfs":{"type":"layers","diff_ids":["sha256:` + strings.Repeat("b", 64) + `"]}}`)
	digestOf := func(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + digestOf(config) + `","size":` + fmt.Sprint(len(config)) + `},` +
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:` + strings.Repeat("a", 64) + `","size":1000}]}`)
	digest := digestOf(manifest)
	ref := "reg.test/" + ns + "/" + stream + "@" + digest
	mapping := &imagev1.ImageStreamMapping{
		ObjectMeta: metav1.ObjectMeta{Name: stream, Namespace: ns},
		Image: imagev1.Image{
			ObjectMeta:                   metav1.ObjectMeta{Name: digest},
			DockerImageReference:         ref,
			DockerImageManifest:          string(manifest),
			DockerImageManifestMediaType: "application/vnd.oci.image.manifest.v1+json",
			DockerImageConfig:            string(config),
		},
		Tag: tag,
	}
	if _, err := images.ImageV1().ImageStreamMappings(ns).Create(context.Background(), mapping, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	istag, err := images.ImageV1().ImageStreamTags(ns).Get(context.Background(), stream+":"+tag, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return istag.Image.DockerImageReference
}

// appsEnv is a logged-in CLI in project ns with admin clients.
type appsEnv struct {
	*cliEnv
	ns     string
	apps   appsclient.Interface
	images imageclient.Interface
}

func newAppsEnv(t *testing.T, ns string) *appsEnv {
	ensureProject(t, ns, "")
	env := newCLIEnv(t)
	loginInsecure(t, env)
	env.mustRun("project", ns)
	return &appsEnv{cliEnv: env, ns: ns, apps: appsclient.NewForConfigOrDie(api.Admin), images: imageclient.NewForConfigOrDie(api.Admin)}
}

func (e *appsEnv) dc(name string) *appsv1.DeploymentConfig {
	e.t.Helper()
	dc, err := e.apps.AppsV1().DeploymentConfigs(e.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return dc
}

func (e *appsEnv) service(name string) *corev1.Service {
	e.t.Helper()
	svc, err := api.kube.CoreV1().Services(e.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return svc
}

func TestNewAppFromImageStreamTag(t *testing.T) {
	e := newAppsEnv(t, "newapp-istag")
	pullSpec := pushImageWithPorts(t, e.images, e.ns, "mytime", "latest", "8080/tcp", "53/udp")

	out := e.mustRun("new-app", "mytime:latest", "--name", "mytime", "-e", "GREETING=hi", "-l", "team=a", "--as-deployment-config")
	for _, want := range []string{
		`--> Found image `,
		` in image stream "newapp-istag/mytime" under tag "latest" for "mytime:latest"` + "\n",
		"--> Creating resources ...\n",
		`    deploymentconfig.apps.openshift.io "mytime" created` + "\n",
		`    service "mytime" created` + "\n",
		"--> Success\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	wantLabels := map[string]string{"app": "mytime", "app.kubernetes.io/instance": "mytime", "app.kubernetes.io/component": "mytime", "team": "a"}
	dc := e.dc("mytime")
	if fmt.Sprint(dc.Labels) != fmt.Sprint(wantLabels) || dc.Annotations["openshift.io/generated-by"] != "OpenShiftNewApp" {
		t.Errorf("dc labels %v annotations %v", dc.Labels, dc.Annotations)
	}
	if dc.Spec.Replicas != 1 || fmt.Sprint(dc.Spec.Selector) != "map[deploymentconfig:mytime]" ||
		dc.Spec.Template.Labels["deploymentconfig"] != "mytime" {
		t.Errorf("dc spec: replicas %d selector %v template labels %v", dc.Spec.Replicas, dc.Spec.Selector, dc.Spec.Template.Labels)
	}
	if n := len(dc.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("%d containers", n)
	}
	ctr := dc.Spec.Template.Spec.Containers[0]
	if ctr.Name != "mytime" || ctr.Image != pullSpec || len(ctr.Env) != 1 || ctr.Env[0].Name != "GREETING" || ctr.Env[0].Value != "hi" {
		t.Errorf("container = %+v, want image %s", ctr, pullSpec)
	}
	if len(ctr.Ports) != 2 || ctr.Ports[0].ContainerPort != 53 || ctr.Ports[0].Protocol != corev1.ProtocolUDP ||
		ctr.Ports[1].ContainerPort != 8080 || ctr.Ports[1].Protocol != corev1.ProtocolTCP {
		t.Errorf("container ports = %+v", ctr.Ports)
	}
	triggers := dc.Spec.Triggers
	if len(triggers) != 2 || triggers[0].Type != appsv1.DeploymentTriggerOnConfigChange || triggers[1].Type != appsv1.DeploymentTriggerOnImageChange {
		t.Fatalf("triggers = %+v", triggers)
	}
	params := triggers[1].ImageChangeParams
	if params == nil || !params.Automatic || fmt.Sprint(params.ContainerNames) != "[mytime]" ||
		params.From.Kind != "ImageStreamTag" || params.From.Name != "mytime:latest" {
		t.Errorf("image change params = %+v", params)
	}

	svc := e.service("mytime")
	if fmt.Sprint(svc.Labels) != fmt.Sprint(wantLabels) || fmt.Sprint(svc.Spec.Selector) != "map[deploymentconfig:mytime]" {
		t.Errorf("service labels %v selector %v", svc.Labels, svc.Spec.Selector)
	}
	var ports []string
	for _, p := range svc.Spec.Ports {
		ports = append(ports, fmt.Sprintf("%s %d %s %s", p.Name, p.Port, p.Protocol, p.TargetPort.String()))
	}
	if got := strings.Join(ports, ", "); got != "53-udp 53 UDP 53, 8080-tcp 8080 TCP 8080" {
		t.Errorf("service ports = %s", got)
	}

	// A second new-app of the same name reports the conflict.
	if _, _, err := e.run("new-app", "mytime:latest", "--name", "mytime", "--as-deployment-config"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second new-app: err = %v", err)
	}
}

func TestNewAppFromRegistryImage(t *testing.T) {
	e := newAppsEnv(t, "newapp-registry")
	reg := testregistry.Start(t, testregistry.Options{})
	ref := reg.Ref("veer/mytime:latest")
	reg.PushConfig(t, "veer/mytime:latest", ggcrv1.ConfigFile{
		OS: "linux", Architecture: "amd64",
		Config: ggcrv1.Config{ExposedPorts: map[string]struct{}{"8080/tcp": {}}},
	})

	out := e.mustRun("new-app", ref, "--name", "mytime", "--as-deployment-config")
	for _, want := range []string{
		`    imagestream.image.openshift.io "mytime" created` + "\n",
		`    deploymentconfig.apps.openshift.io "mytime" created` + "\n",
		`    service "mytime" created` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	is, tag := specTag(t, e.images, e.ns, "mytime", "latest")
	if tag.From == nil || tag.From.Kind != "DockerImage" || tag.From.Name != ref || is.Labels["app"] != "mytime" {
		t.Errorf("image stream %v tag %+v", is.Labels, tag)
	}
	dc := e.dc("mytime")
	if from := dc.Spec.Triggers[1].ImageChangeParams.From.Name; from != "mytime:latest" {
		t.Errorf("trigger from %q", from)
	}
	if svc := e.service("mytime"); len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "8080-tcp" {
		t.Errorf("service ports %+v", svc.Spec.Ports)
	}

	// An image the registry does not have: nothing is created.
	if _, _, err := e.run("new-app", reg.Ref("veer/none:latest"), "--name", "none", "--as-deployment-config"); err == nil || !strings.Contains(err.Error(), "unable to locate") {
		t.Errorf("new-app of a missing image: err = %v", err)
	}
	if _, err := e.images.ImageV1().ImageStreams(e.ns).Get(context.Background(), "none", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("stream of a missing image: err = %v", err)
	}
}

func TestNewAppFromGit(t *testing.T) {
	e := newAppsEnv(t, "newapp-git")
	repo := t.TempDir()
	if err := os.WriteFile(filepath.Join(repo, "Dockerfile"), []byte("FROM busybox\nEXPOSE 8080\nCMD [\"./init.sh\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "Dockerfile"}, {"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "app"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}

	out := e.mustRun("new-app", "file://"+repo, "--name", "timeapp", "--as-deployment-config")
	for _, want := range []string{
		`    imagestream.image.openshift.io "busybox" created` + "\n",
		`    imagestream.image.openshift.io "timeapp" created` + "\n",
		`    buildconfig.build.openshift.io "timeapp" created` + "\n",
		`    deploymentconfig.apps.openshift.io "timeapp" created` + "\n",
		`    service "timeapp" created` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	builds := buildclient.NewForConfigOrDie(api.Admin)
	bc, err := builds.BuildV1().BuildConfigs(e.ns).Get(context.Background(), "timeapp", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if bc.Spec.Output.To == nil || bc.Spec.Output.To.Name != "timeapp:latest" || bc.Labels["app"] != "timeapp" {
		t.Errorf("buildconfig output %+v labels %v", bc.Spec.Output.To, bc.Labels)
	}
	dc := e.dc("timeapp")
	if from := dc.Spec.Triggers[1].ImageChangeParams.From.Name; from != "timeapp:latest" {
		t.Errorf("trigger from %q, want the build's output timeapp:latest", from)
	}
	if img := dc.Spec.Template.Spec.Containers[0].Image; img != " " {
		t.Errorf("image before the first build = %q", img)
	}
	if svc := e.service("timeapp"); len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "8080-tcp" {
		t.Errorf("service ports (from the Dockerfile's EXPOSE) %+v", svc.Spec.Ports)
	}
}

func TestNewAppMissingTag(t *testing.T) {
	e := newAppsEnv(t, "newapp-missing")
	if _, err := e.images.ImageV1().ImageStreams(e.ns).Create(context.Background(), &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "later"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.run("new-app", "later:v1", "--as-deployment-config"); err == nil || !strings.Contains(err.Error(), "--allow-missing-imagestream-tags") {
		t.Fatalf("new-app of a missing tag: err = %v", err)
	}
	e.mustRun("new-app", "later:v1", "--allow-missing-imagestream-tags", "--as-deployment-config")
	dc := e.dc("later")
	if img := dc.Spec.Template.Spec.Containers[0].Image; img != " " {
		t.Errorf("image before the trigger resolves = %q, want \" \"", img)
	}
	if from := dc.Spec.Triggers[1].ImageChangeParams.From.Name; from != "later:v1" {
		t.Errorf("trigger from %q", from)
	}
	// No exposed ports known: no service.
	if _, err := api.kube.CoreV1().Services(e.ns).Get(context.Background(), "later", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("service for an image without ports: err = %v", err)
	}
}

func TestExposeHostPort(t *testing.T) {
	e := newAppsEnv(t, "expose-project")
	pushImageWithPorts(t, e.images, e.ns, "mytime", "latest", "8080/tcp")
	e.mustRun("new-app", "mytime:latest", "--name", "mytime", "--as-deployment-config")

	// The service new-app made gets the host port.
	if out := e.mustRun("expose", "dc", "mytime", "--port=8080", "--host-port=18080"); !strings.HasPrefix(out, "service/mytime exposed\n") {
		t.Errorf("expose printed %q", out)
	}
	svc := e.service("mytime")
	if svc.Spec.Type != corev1.ServiceTypeNodePort || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].NodePort != 18080 ||
		svc.Spec.Ports[0].Port != 8080 || svc.Spec.Ports[0].TargetPort != intstr.FromInt32(8080) {
		t.Errorf("service after expose = %+v", svc.Spec)
	}

	// A new service, named, with a target port.
	e.mustRun("expose", "dc/mytime", "--name=web", "--port=80", "--target-port=8080", "--host-port=18081")
	web := e.service("web")
	if web.Spec.Type != corev1.ServiceTypeNodePort || fmt.Sprint(web.Spec.Selector) != "map[deploymentconfig:mytime]" ||
		len(web.Spec.Ports) != 1 || web.Spec.Ports[0].Port != 80 || web.Spec.Ports[0].NodePort != 18081 || web.Spec.Ports[0].TargetPort != intstr.FromInt32(8080) {
		t.Errorf("service web = %+v", web.Spec)
	}
	// Without a host port: a ClusterIP service on the container's port.
	e.mustRun("expose", "dc/mytime", "--name=inside")
	if inside := e.service("inside"); inside.Spec.Type != corev1.ServiceTypeClusterIP || inside.Spec.Ports[0].Port != 8080 || inside.Spec.Ports[0].NodePort != 0 {
		t.Errorf("service inside = %+v", inside.Spec)
	}

	if _, _, err := e.run("expose", "svc/inside"); err == nil || !strings.Contains(err.Error(), "routes are not supported") {
		t.Errorf("expose svc without host port: err = %v", err)
	}
	e.mustRun("expose", "svc/inside", "--host-port=18082")
	if inside := e.service("inside"); inside.Spec.Type != corev1.ServiceTypeNodePort || inside.Spec.Ports[0].NodePort != 18082 {
		t.Errorf("service inside after expose svc = %+v", inside.Spec)
	}
}

// deployment makes RC <dc>-<version> as the DeploymentConfig controller
// does (labels, annotations), in phase with cause.
func (e *appsEnv) deployment(dc string, version int64, phase appsv1.DeploymentStatus, cause string) {
	e.t.Helper()
	name := deployutil.DeploymentName(dc, version)
	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{
			Name:   name,
			Labels: map[string]string{appsv1.DeploymentConfigAnnotation: dc},
			Annotations: map[string]string{
				appsv1.DeploymentConfigAnnotation:        dc,
				appsv1.DeploymentVersionAnnotation:       fmt.Sprint(version),
				appsv1.DeploymentStatusAnnotation:        string(phase),
				appsv1.DeploymentStatusReasonAnnotation:  cause,
				deployutil.DeploymentReplicasAnnotation:  "1",
				appsv1.DesiredReplicasAnnotation:         "1",
				appsv1.DeploymentEncodedConfigAnnotation: "{}",
			},
		},
		Spec: corev1.ReplicationControllerSpec{
			Selector: map[string]string{"deployment": name},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"deployment": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: dc, Image: fmt.Sprintf("reg.test/%s:v%d", dc, version)}}},
			},
		},
	}
	if _, err := api.kube.CoreV1().ReplicationControllers(e.ns).Create(context.Background(), rc, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *appsEnv) rc(name string) *corev1.ReplicationController {
	e.t.Helper()
	rc, err := api.kube.CoreV1().ReplicationControllers(e.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return rc
}

// plainDC creates a DeploymentConfig with a ConfigChange trigger only.
func (e *appsEnv) plainDC(name string) {
	e.t.Helper()
	dc := &appsv1.DeploymentConfig{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentConfigSpec{
			Replicas: 1,
			Selector: map[string]string{"deploymentconfig": name},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"deploymentconfig": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "reg.test/" + name + ":v1"}}},
			},
			Triggers: appsv1.DeploymentTriggerPolicies{{Type: appsv1.DeploymentTriggerOnConfigChange}},
		},
	}
	if _, err := e.apps.AppsV1().DeploymentConfigs(e.ns).Create(context.Background(), dc, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// setLatestVersion moves the DeploymentConfig's status.latestVersion up
// to version one step at a time, as the server allows.
func (e *appsEnv) setLatestVersion(name string, version int64) {
	e.t.Helper()
	for {
		dc := e.dc(name)
		if dc.Status.LatestVersion >= version {
			return
		}
		dc.Status.LatestVersion++
		if _, err := e.apps.AppsV1().DeploymentConfigs(e.ns).UpdateStatus(context.Background(), dc, metav1.UpdateOptions{}); err != nil {
			e.t.Fatal(err)
		}
	}
}

func TestRolloutPauseResume(t *testing.T) {
	e := newAppsEnv(t, "rollout-pause")
	e.plainDC("app")
	if out := e.mustRun("rollout", "pause", "dc/app"); out != "deploymentconfig.apps.openshift.io/app paused\n" {
		t.Errorf("pause printed %q", out)
	}
	if !e.dc("app").Spec.Paused {
		t.Error("not paused")
	}
	if _, _, err := e.run("rollout", "pause", "dc/app"); err == nil || !strings.Contains(err.Error(), "already paused") {
		t.Errorf("second pause: err = %v", err)
	}
	if _, _, err := e.run("rollout", "latest", "dc/app"); err == nil || !strings.Contains(err.Error(), "paused") {
		t.Errorf("latest while paused: err = %v", err)
	}
	if out := e.mustRun("rollout", "resume", "dc/app"); out != "deploymentconfig.apps.openshift.io/app resumed\n" {
		t.Errorf("resume printed %q", out)
	}
	if e.dc("app").Spec.Paused {
		t.Error("still paused")
	}
}

func TestRolloutHistoryCancelRetry(t *testing.T) {
	e := newAppsEnv(t, "rollout-history")
	e.plainDC("app")
	e.deployment("app", 1, appsv1.DeploymentStatusComplete, "config change")
	e.deployment("app", 2, appsv1.DeploymentStatusFailed, "image change")
	e.deployment("app", 3, appsv1.DeploymentStatusRunning, "manual change")

	want := `deploymentconfigs "app"
REVISION  STATUS    CAUSE
1         Complete  config change
2         Failed    image change
3         Running   manual change
`
	if out := e.mustRun("rollout", "history", "dc/app"); out != want {
		t.Errorf("history printed\n%s\nwant\n%s", out, want)
	}
	if out := e.mustRun("rollout", "history", "dc/app", "--revision=2"); !strings.Contains(out, `deploymentconfigs "app" with revision #2`) || !strings.Contains(out, "reg.test/app:v2") {
		t.Errorf("history --revision=2 printed\n%s", out)
	}

	if out := e.mustRun("rollout", "cancel", "dc/app"); out != "deploymentconfig.apps.openshift.io/app cancelling\n" {
		t.Errorf("cancel printed %q", out)
	}
	rc := e.rc("app-3")
	if !deployutil.IsCancelled(rc) || deployutil.StatusReasonFor(rc) != deployutil.ReasonCancelledByUser {
		t.Errorf("app-3 annotations after cancel: %v", rc.Annotations)
	}
	for _, done := range []string{"app-1", "app-2"} {
		if deployutil.IsCancelled(e.rc(done)) {
			t.Errorf("terminated %s was cancelled", done)
		}
	}

	// retry works on the latest version, which must have failed.
	e.setLatestVersion("app", 3)
	if _, _, err := e.run("rollout", "retry", "dc/app"); err == nil || !strings.Contains(err.Error(), "only failed deployments can be retried") {
		t.Errorf("retry of a running rollout: err = %v", err)
	}
	rc = e.rc("app-3")
	rc.Annotations[appsv1.DeploymentStatusAnnotation] = string(appsv1.DeploymentStatusFailed)
	if _, err := api.kube.CoreV1().ReplicationControllers(e.ns).Update(context.Background(), rc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Pods need the namespace's default service account, which
	// kube-controller-manager makes shortly after the namespace.
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := api.kube.CoreV1().ServiceAccounts(e.ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("no default service account in %s: %v", e.ns, err)
	}
	deployer := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app-3-deploy", Labels: map[string]string{appsv1.DeployerPodForDeploymentLabel: "app-3"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "deployment", Image: "slipway"}}},
	}
	if _, err := api.kube.CoreV1().Pods(e.ns).Create(context.Background(), deployer, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if out := e.mustRun("rollout", "retry", "dc/app"); out != "deploymentconfig.apps.openshift.io/app retried rollout #3\n" {
		t.Errorf("retry printed %q", out)
	}
	rc = e.rc("app-3")
	if deployutil.PhaseFor(rc) != appsv1.DeploymentStatusNew || deployutil.IsCancelled(rc) || deployutil.StatusReasonFor(rc) != "" {
		t.Errorf("app-3 annotations after retry: %v", rc.Annotations)
	}
	if _, err := api.kube.CoreV1().Pods(e.ns).Get(context.Background(), "app-3-deploy", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("deployer pod after retry: err = %v, want NotFound", err)
	}
	if out := e.mustRun("rollout", "cancel", "dc/app"); !strings.HasPrefix(out, "deploymentconfig.apps.openshift.io/app cancelling") {
		t.Errorf("cancel of the retried rollout printed %q", out)
	}
}

func TestRolloutStatusOnce(t *testing.T) {
	e := newAppsEnv(t, "rollout-status")
	e.plainDC("app")
	e.deployment("app", 1, appsv1.DeploymentStatusComplete, "config change")
	e.deployment("app", 2, appsv1.DeploymentStatusFailed, "image change")
	e.setLatestVersion("app", 1)
	if out := e.mustRun("rollout", "status", "dc/app"); out != `replication controller "app-1" successfully rolled out`+"\n" {
		t.Errorf("status of a complete rollout printed %q", out)
	}
	e.setLatestVersion("app", 2)
	if _, _, err := e.run("rollout", "status", "dc/app"); err == nil || !strings.Contains(err.Error(), `replication controller "app-2" has failed progressing`) {
		t.Errorf("status of a failed rollout: err = %v", err)
	}
}

func TestRolloutStatusFollows(t *testing.T) {
	e := newAppsEnv(t, "rollout-follow")
	e.plainDC("app")
	e.deployment("app", 1, appsv1.DeploymentStatusRunning, "config change")
	e.setLatestVersion("app", 1)

	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, _, err := e.run("rollout", "status", "dc/app")
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("status returned while the rollout runs: %q, %v", r.out, r.err)
	case <-time.After(500 * time.Millisecond):
	}
	rc := e.rc("app-1")
	rc.Annotations[appsv1.DeploymentStatusAnnotation] = string(appsv1.DeploymentStatusComplete)
	if _, err := api.kube.CoreV1().ReplicationControllers(e.ns).Update(context.Background(), rc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		want := "Waiting for rollout to finish: 0 out of 1 new replicas have been updated...\n" +
			`replication controller "app-1" successfully rolled out` + "\n"
		if r.err != nil || r.out != want {
			t.Errorf("status printed %q, %v; want %q", r.out, r.err, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("status did not end after the rollout completed")
	}
}

// isMissingSubresource reports whether err is the server's 404 for a
// subresource it does not serve yet.
func isMissingSubresource(err error) bool {
	return err != nil && strings.Contains(err.Error(), "the server could not find the requested resource")
}

// makeDeployment creates the deployment of the DeploymentConfig's
// current latestVersion as the DeploymentConfig controller does, already
// Complete.
func (e *appsEnv) makeDeployment(name string) {
	e.t.Helper()
	rc, err := deployutil.MakeDeployment(e.dc(name))
	if err != nil {
		e.t.Fatal(err)
	}
	rc.Annotations[appsv1.DeploymentStatusAnnotation] = string(appsv1.DeploymentStatusComplete)
	if _, err := api.kube.CoreV1().ReplicationControllers(e.ns).Create(context.Background(), rc, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func TestRolloutLatestAndUndo(t *testing.T) {
	e := newAppsEnv(t, "rollout-latest")
	e.plainDC("app")
	out, _, err := e.run("rollout", "latest", "dc/app")
	if isMissingSubresource(err) {
		t.Skip("deploymentconfigs/instantiate is not served yet")
	}
	if err != nil {
		t.Fatalf("rollout latest: %v", err)
	}
	if out != "deploymentconfig.apps.openshift.io/app rolled out\n" {
		t.Errorf("latest printed %q", out)
	}
	dc := e.dc("app")
	if dc.Status.LatestVersion != 1 {
		t.Fatalf("latestVersion = %d after rollout latest, want 1", dc.Status.LatestVersion)
	}
	e.makeDeployment("app")

	// Revision 2 runs image v2.
	dc.Spec.Template.Spec.Containers[0].Image = "reg.test/app:v2"
	if _, err := e.apps.AppsV1().DeploymentConfigs(e.ns).Update(context.Background(), dc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.mustRun("rollout", "latest", "dc/app")
	if v := e.dc("app").Status.LatestVersion; v != 2 {
		t.Fatalf("latestVersion = %d after the second rollout latest, want 2", v)
	}
	e.makeDeployment("app")

	out, _, err = e.run("rollout", "undo", "dc/app")
	if isMissingSubresource(err) {
		t.Skip("deploymentconfigs/rollback is not served yet")
	}
	if err != nil {
		t.Fatalf("rollout undo: %v", err)
	}
	if out != "deploymentconfig.apps.openshift.io/app deployment #3 rolled back to app-1\n" {
		t.Errorf("undo printed %q", out)
	}
	dc = e.dc("app")
	if img := dc.Spec.Template.Spec.Containers[0].Image; img != "reg.test/app:v1" {
		t.Errorf("image after undo = %q, want revision 1's reg.test/app:v1", img)
	}

	// --to-revision picks the revision; a missing one is an error.
	if _, _, err := e.run("rollout", "undo", "dc/app", "--to-revision=7"); err == nil {
		t.Error("undo to a revision that does not exist: no error")
	}
}

func TestScaleDeploymentConfig(t *testing.T) {
	e := newAppsEnv(t, "scale-project")
	e.plainDC("app")
	if out := e.mustRun("scale", "dc/app", "--replicas=3"); out != "deploymentconfig.apps.openshift.io/app scaled\n" {
		t.Errorf("scale printed %q", out)
	}
	if got := e.dc("app").Spec.Replicas; got != 3 {
		t.Errorf("replicas = %d, want 3", got)
	}
	if _, _, err := e.run("scale", "dc", "app", "--replicas=1", "--current-replicas=2"); err == nil || !strings.Contains(err.Error(), "expected replicas to be 2, was 3") {
		t.Errorf("scale with a wrong --current-replicas: err = %v", err)
	}
	e.mustRun("scale", "dc", "app", "--replicas=0", "--current-replicas=3")
	if got := e.dc("app").Spec.Replicas; got != 0 {
		t.Errorf("replicas = %d, want 0", got)
	}
}

// requestRecorder is a TLS reverse proxy in front of the real server that
// records the paths and queries of the requests going through; it changes
// nothing.
type requestRecorder struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string
}

func newRequestRecorder(t *testing.T) *requestRecorder {
	t.Helper()
	target, err := url.Parse(api.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	r := &requestRecorder{}
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.requests = append(r.requests, req.Method+" "+req.URL.Path+"?"+req.URL.RawQuery)
		r.mu.Unlock()
		proxy.ServeHTTP(w, req)
	}))
	r.Server.Config.ErrorLog = log.New(io.Discard, "", 0)
	r.StartTLS()
	t.Cleanup(r.Close)
	return r
}

func (r *requestRecorder) sawPrefix(prefix string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, req := range r.requests {
		if strings.HasPrefix(req, prefix) {
			return true
		}
	}
	return false
}

func TestLogsDeploymentConfigPath(t *testing.T) {
	const ns = "logs-dc"
	ensureProject(t, ns, "")
	recorder := newRequestRecorder(t)
	env := newCLIEnv(t)
	env.mustRun("login", recorder.URL, "--token", api.AdminToken, "--insecure-skip-tls-verify")
	env.mustRun("project", ns)

	_, _, err := env.run("logs", "dc/mytime", "--version=2", "--tail=5")
	t.Logf("logs dc/mytime: %v", err)
	want := "GET /apis/apps.openshift.io/v1/namespaces/" + ns + "/deploymentconfigs/mytime/log?"
	if !recorder.sawPrefix(want + "tailLines=5&version=2") {
		t.Errorf("no request %s...; requests: %v", want, recorder.requests)
	}
	if _, _, err := env.run("logs", "dc/"); err == nil {
		t.Error("logs dc/ without a name: no error")
	}
}
