package deploymentconfig_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "github.com/openshift/api/apps/v1"
	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/slipway-dev/slipway/internal/deployutil"
	"github.com/slipway-dev/slipway/internal/podlogs"
	"github.com/slipway-dev/slipway/internal/registry/apps/deploymentconfig"
	"github.com/slipway-dev/slipway/internal/registry/storagetest"
	"github.com/slipway-dev/slipway/internal/scheme"
	"github.com/slipway-dev/slipway/internal/testserver"
)

// subresourceEnv is the DeploymentConfig storage with its subresources on
// a store of its own, reading deployments, pods and image streams from a
// real API server.
type subresourceEnv struct {
	t       *testing.T
	ctx     context.Context
	ns      string
	storage *deploymentconfig.Storage
	kube    kubernetes.Interface
	images  imageclient.Interface
	logDir  string
}

func newSubresourceEnv(t *testing.T) *subresourceEnv {
	t.Helper()
	srv := testserver.Start(t, testserver.Options{})
	kube := kubernetes.NewForConfigOrDie(srv.Admin)
	images := imageclient.NewForConfigOrDie(srv.Admin)
	ns := "rollouts"
	if _, err := kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// ServiceAccount admission refuses pods until Kubernetes' service
	// account controller has made the namespace's default account.
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := kube.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("namespace %s got no default service account: %v", ns, err)
	}
	dir := t.TempDir()
	storage, err := deploymentconfig.NewStorage(podlogs.WithDir(storagetest.NewOptions(t), podlogs.Dir(dir)), &deploymentconfig.Clients{Core: kube.CoreV1(), Images: images.ImageV1()})
	if err != nil {
		t.Fatal(err)
	}
	return &subresourceEnv{t: t, ctx: genericapirequest.WithNamespace(context.Background(), ns), ns: ns, storage: storage, kube: kube, images: images, logDir: dir}
}

// createConfig stores dc and raises its latestVersion to version the way
// the controller does, one status write at a time.
func (e *subresourceEnv) createConfig(dc *appsv1.DeploymentConfig, version int64) *appsv1.DeploymentConfig {
	e.t.Helper()
	dc.Namespace = e.ns
	obj, err := e.storage.DeploymentConfig.Create(e.ctx, dc, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	created := obj.(*appsv1.DeploymentConfig)
	for created.Status.LatestVersion < version {
		created.Status.LatestVersion++
		obj, _, err = e.storage.Status.Update(e.ctx, dc.Name, rest.DefaultUpdatedObjectInfo(created), nil, nil, false, &metav1.UpdateOptions{})
		if err != nil {
			e.t.Fatal(err)
		}
		created = obj.(*appsv1.DeploymentConfig)
	}
	return created
}

// createDeployment creates the RC of dc at version in phase.
func (e *subresourceEnv) createDeployment(dc *appsv1.DeploymentConfig, version int64, phase appsv1.DeploymentStatus) *corev1.ReplicationController {
	e.t.Helper()
	dc = dc.DeepCopy()
	dc.Status.LatestVersion = version
	rc, err := deployutil.MakeDeployment(dc)
	if err != nil {
		e.t.Fatal(err)
	}
	rc.Annotations[appsv1.DeploymentStatusAnnotation] = string(phase)
	// The config lives in the test's own store, which Kubernetes' garbage
	// collector cannot see: an owner reference to it would get the RC
	// collected.
	rc.OwnerReferences = nil
	created, err := e.kube.CoreV1().ReplicationControllers(e.ns).Create(context.Background(), rc, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return created
}

func (e *subresourceEnv) setPhase(name string, phase appsv1.DeploymentStatus) {
	e.t.Helper()
	rcs := e.kube.CoreV1().ReplicationControllers(e.ns)
	// Kubernetes' replication controller writes the RC's status meanwhile.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		rc, err := rcs.Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		rc.Annotations[appsv1.DeploymentStatusAnnotation] = string(phase)
		_, err = rcs.Update(context.Background(), rc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *subresourceEnv) instantiate(name string, req *appsv1.DeploymentRequest) (runtime.Object, error) {
	return e.storage.Instantiate.Create(e.ctx, name, req, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
}

func configNamed(name string, triggers appsv1.DeploymentTriggerPolicies) *appsv1.DeploymentConfig {
	return &appsv1.DeploymentConfig{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentConfigSpec{
			Replicas: 1,
			Triggers: triggers,
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}},
			},
		},
	}
}

func imageTrigger(from string) appsv1.DeploymentTriggerPolicy {
	return appsv1.DeploymentTriggerPolicy{Type: appsv1.DeploymentTriggerOnImageChange, ImageChangeParams: &appsv1.DeploymentTriggerImageChangeParams{
		Automatic: true, ContainerNames: []string{"app"}, From: corev1.ObjectReference{Kind: "ImageStreamTag", Name: from},
	}}
}

func TestSubresources(t *testing.T) {
	e := newSubresourceEnv(t)

	t.Run("instantiate force rolls out, in progress and paused are refused, nothing to do is 204", func(t *testing.T) {
		e.createConfig(configNamed("forced", appsv1.DeploymentTriggerPolicies{}), 0)
		obj, err := e.instantiate("forced", &appsv1.DeploymentRequest{Name: "forced", Latest: true, Force: true})
		if err != nil {
			t.Fatalf("instantiate: %v", err)
		}
		dc := obj.(*appsv1.DeploymentConfig)
		if dc.Status.LatestVersion != 1 || dc.Status.Details == nil || dc.Status.Details.Message != "manual change" ||
			len(dc.Status.Details.Causes) != 1 || dc.Status.Details.Causes[0].Type != "Manual" {
			t.Errorf("after force: latestVersion %d details %+v", dc.Status.LatestVersion, dc.Status.Details)
		}
		stored, _ := e.storage.DeploymentConfig.Get(e.ctx, "forced", &metav1.GetOptions{})
		if got := stored.(*appsv1.DeploymentConfig); got.Status.LatestVersion != 1 || got.Generation != 2 {
			t.Errorf("stored latestVersion %d generation %d, want 1 and 2", got.Status.LatestVersion, got.Generation)
		}

		e.createDeployment(dc, 1, appsv1.DeploymentStatusRunning)
		_, err = e.instantiate("forced", &appsv1.DeploymentRequest{Name: "forced", Latest: true, Force: true})
		if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "#1 is already in progress (Running)") {
			t.Errorf("instantiate while running: err = %v, want 400 in progress", err)
		}

		e.setPhase("forced-1", appsv1.DeploymentStatusComplete)
		obj, err = e.instantiate("forced", &appsv1.DeploymentRequest{Name: "forced"})
		if status, ok := obj.(*metav1.Status); err != nil || !ok || status.Code != http.StatusNoContent {
			t.Errorf("instantiate with nothing to do = %#v, %v; want a 204 Status", obj, err)
		}

		paused := configNamed("paused", nil)
		paused.Spec.Paused = true
		e.createConfig(paused, 0)
		_, err = e.instantiate("paused", &appsv1.DeploymentRequest{Name: "paused", Latest: true, Force: true})
		if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "paused") {
			t.Errorf("instantiate paused: err = %v, want 400 paused", err)
		}

		if _, err = e.instantiate("forced", &appsv1.DeploymentRequest{Name: "other"}); !apierrors.IsBadRequest(err) {
			t.Errorf("mismatched name: err = %v, want 400", err)
		}
	})

	t.Run("instantiate latest resolves the image trigger", func(t *testing.T) {
		stream := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "mytime"}}
		if _, err := e.images.ImageV1().ImageStreams(e.ns).Create(context.Background(), stream, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		digest := "sha256:" + strings.Repeat("ab", 32)
		ref := "registry.example.com/veer/mytime@" + digest
		mapping := &imagev1.ImageStreamMapping{
			ObjectMeta: metav1.ObjectMeta{Name: "mytime"},
			Image:      imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: digest}, DockerImageReference: ref},
			Tag:        "latest",
		}
		if _, err := e.images.ImageV1().ImageStreamMappings(e.ns).Create(context.Background(), mapping, metav1.CreateOptions{}); err != nil {
			t.Fatalf("tagging the image: %v", err)
		}
		e.createConfig(configNamed("triggered", appsv1.DeploymentTriggerPolicies{imageTrigger("mytime:latest")}), 0)

		obj, err := e.instantiate("triggered", &appsv1.DeploymentRequest{Name: "triggered", Latest: true})
		if err != nil {
			t.Fatalf("instantiate: %v", err)
		}
		dc := obj.(*appsv1.DeploymentConfig)
		p := dc.Spec.Triggers[0].ImageChangeParams
		if dc.Status.LatestVersion != 1 || p.LastTriggeredImage != ref || dc.Spec.Template.Spec.Containers[0].Image != ref {
			t.Errorf("after latest: latestVersion %d lastTriggeredImage %q image %q, want 1 and %q", dc.Status.LatestVersion, p.LastTriggeredImage, dc.Spec.Template.Spec.Containers[0].Image, ref)
		}
		if d := dc.Status.Details; d == nil || d.Message != "image change" || len(d.Causes) != 1 || d.Causes[0].ImageTrigger == nil || d.Causes[0].ImageTrigger.From.Name != ref {
			t.Errorf("details = %+v, want an image change to %s", d, ref)
		}

		// Once deployed, the same image is nothing to do.
		e.createDeployment(dc, 1, appsv1.DeploymentStatusComplete)
		obj, err = e.instantiate("triggered", &appsv1.DeploymentRequest{Name: "triggered", Latest: true})
		if status, ok := obj.(*metav1.Status); err != nil || !ok || status.Code != http.StatusNoContent {
			t.Errorf("instantiate with the deployed image = %#v, %v; want a 204 Status", obj, err)
		}

		e.createConfig(configNamed("unresolved", appsv1.DeploymentTriggerPolicies{imageTrigger("missing:latest")}), 0)
		_, err = e.instantiate("unresolved", &appsv1.DeploymentRequest{Name: "unresolved", Latest: true, Force: true})
		if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "unresolved images") {
			t.Errorf("instantiate unresolved: err = %v, want 400 unresolved images", err)
		}
	})

	t.Run("concurrent instantiates roll out once; a version still to be created is in progress", func(t *testing.T) {
		dc := e.createConfig(configNamed("raced", appsv1.DeploymentTriggerPolicies{}), 1)
		e.createDeployment(dc, 1, appsv1.DeploymentStatusComplete)
		// The controller writes the config's status meanwhile, as a busy
		// one does (every 10 ms).
		stop, wrote := make(chan struct{}), make(chan int)
		go func() {
			n := 0
			defer func() { wrote <- n }()
			for {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
				obj, err := e.storage.DeploymentConfig.Get(e.ctx, "raced", &metav1.GetOptions{})
				if err != nil {
					continue
				}
				cur := obj.(*appsv1.DeploymentConfig)
				cur.Status.ObservedGeneration = cur.Generation
				cur.Status.UnavailableReplicas = int32(n % 2)
				if _, _, err := e.storage.Status.Update(e.ctx, "raced", rest.DefaultUpdatedObjectInfo(cur), nil, nil, false, &metav1.UpdateOptions{}); err == nil {
					n++
				}
			}
		}()
		const n = 10
		errs := make(chan error, n)
		for i := range n {
			go func() {
				time.Sleep(time.Duration(i) * 5 * time.Millisecond) // spread over the writer's writes
				_, err := e.instantiate("raced", &appsv1.DeploymentRequest{Name: "raced", Latest: true, Force: true})
				errs <- err
			}()
		}
		rolledOut := 0
		for range n {
			err := <-errs
			switch {
			case err == nil:
				rolledOut++
			case !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "#2 is already in progress (New)"):
				t.Errorf("concurrent instantiate: %v, want success or 400 #2 in progress", err)
			}
		}
		close(stop)
		t.Logf("%d status writes meanwhile", <-wrote)
		stored, _ := e.storage.DeploymentConfig.Get(e.ctx, "raced", &metav1.GetOptions{})
		if got := stored.(*appsv1.DeploymentConfig).Status.LatestVersion; rolledOut != 1 || got != 2 {
			t.Errorf("%d of %d instantiates rolled out, latestVersion %d; want 1 and 2", rolledOut, n, got)
		}
	})

	t.Run("rollback returns the old template with manual triggers and the next version", func(t *testing.T) {
		old := configNamed("undo", appsv1.DeploymentTriggerPolicies{imageTrigger("mytime:latest")})
		old.Namespace, old.UID = e.ns, "undo-uid"
		old.Spec.Template.Spec.Containers[0].Image = "registry.example.com/veer/mytime:v1"
		deploymentconfig.SetDefaults(old)
		e.createDeployment(old, 1, appsv1.DeploymentStatusComplete)
		current := configNamed("undo", appsv1.DeploymentTriggerPolicies{imageTrigger("mytime:latest")})
		current.Spec.Template.Spec.Containers[0].Image = "registry.example.com/veer/mytime:v2"
		e.createConfig(current, 2)

		obj, err := e.storage.Rollback.Create(e.ctx, "undo", &appsv1.DeploymentConfigRollback{
			Name: "undo", Spec: appsv1.DeploymentConfigRollbackSpec{IncludeTemplate: true},
		}, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("rollback: %v", err)
		}
		dc := obj.(*appsv1.DeploymentConfig)
		if got := dc.Spec.Template.Spec.Containers[0].Image; got != "registry.example.com/veer/mytime:v1" {
			t.Errorf("rolled back image = %q, want v1's", got)
		}
		if dc.Spec.Triggers[0].ImageChangeParams.Automatic || dc.Status.LatestVersion != 3 {
			t.Errorf("rollback: automatic %v latestVersion %d, want false and 3", dc.Spec.Triggers[0].ImageChangeParams.Automatic, dc.Status.LatestVersion)
		}
		stored, _ := e.storage.DeploymentConfig.Get(e.ctx, "undo", &metav1.GetOptions{})
		if got := stored.(*appsv1.DeploymentConfig); got.Status.LatestVersion != 2 || !got.Spec.Triggers[0].ImageChangeParams.Automatic {
			t.Errorf("rollback changed the stored config: %+v", got.Status)
		}
		// The client's PUT of the answer starts the rollout.
		if _, _, err := e.storage.DeploymentConfig.Update(e.ctx, "undo", rest.DefaultUpdatedObjectInfo(dc), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{}); err != nil {
			t.Errorf("PUT of the rollback: %v", err)
		}

		_, err = e.storage.Rollback.Create(e.ctx, "undo", &appsv1.DeploymentConfigRollback{
			Name: "undo", Spec: appsv1.DeploymentConfigRollbackSpec{Revision: 7, IncludeTemplate: true},
		}, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
		if !apierrors.IsBadRequest(err) {
			t.Errorf("rollback to a missing revision: err = %v, want 400", err)
		}
	})

	t.Run("log shows the deployer pod, then an application pod", func(t *testing.T) {
		dc := e.createConfig(configNamed("logged", appsv1.DeploymentTriggerPolicies{}), 1)
		rc := e.createDeployment(dc, 1, appsv1.DeploymentStatusRunning)
		deployer := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "logged-1-deploy", Namespace: e.ns},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "deployment", Image: "slipway"}}},
		}
		deployer, err := e.kube.CoreV1().Pods(e.ns).Create(context.Background(), deployer, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		e.writeLog("logged-1-deploy", "deployment", "--> Scaling logged-1 to 1\n--> Success\n")
		if got := e.readLog("logged", &appsv1.DeploymentLogOptions{}); got != "--> Scaling logged-1 to 1\n--> Success\n" {
			t.Errorf("deployer log = %q", got)
		}

		// The RC has no replicas (as a deployment before its deployer
		// scales it): Kubernetes' replication controller would adopt and
		// delete a pod of its selector, so the pod has a controller of
		// its own (one that exists, for the garbage collector).
		isController := true
		app := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "logged-1-x7k2p", Namespace: e.ns, Labels: rc.Spec.Selector,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: deployer.Name, UID: deployer.UID, Controller: &isController}}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}},
		}
		if _, err := e.kube.CoreV1().Pods(e.ns).Create(context.Background(), app, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		e.writeLog("logged-1-x7k2p", "app", "Mon Nov 24 09:00:00 UTC 2026\n")
		e.setPhase("logged-1", appsv1.DeploymentStatusComplete)
		one := int64(1)
		if got := e.readLog("logged", &appsv1.DeploymentLogOptions{Version: &one}); got != "Mon Nov 24 09:00:00 UTC 2026\n" {
			t.Errorf("application log = %q", got)
		}

		two := int64(2)
		if _, err := e.storage.Log.Get(e.ctx, "logged", &appsv1.DeploymentLogOptions{Version: &two}); !apierrors.IsBadRequest(err) {
			t.Errorf("log of a version beyond the latest: err = %v, want 400", err)
		}
	})

	t.Run("log options decode from the query", func(t *testing.T) {
		var opts appsv1.DeploymentLogOptions
		q := url.Values{"follow": {"true"}, "version": {"2"}, "nowait": {"true"}}
		if err := scheme.ParameterCodec.DecodeParameters(q, appsv1.GroupVersion, &opts); err != nil {
			t.Fatal(err)
		}
		if !opts.Follow || !opts.NoWait || opts.Version == nil || *opts.Version != 2 {
			t.Errorf("decoded %+v", opts)
		}
	})
}

func (e *subresourceEnv) writeLog(pod, container, text string) {
	e.t.Helper()
	path := podlogs.Dir(e.logDir).ContainerLog(e.ns, pod, container)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *subresourceEnv) readLog(name string, opts *appsv1.DeploymentLogOptions) string {
	e.t.Helper()
	obj, err := e.storage.Log.Get(e.ctx, name, opts)
	if err != nil {
		e.t.Fatalf("log of %s: %v", name, err)
	}
	r, _, _, err := obj.(rest.ResourceStreamer).InputStream(context.Background(), "v1", "")
	if err != nil {
		e.t.Fatalf("opening the log of %s: %v", name, err)
	}
	defer r.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}
