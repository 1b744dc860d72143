package project

import (
	"context"
	"slices"
	"testing"
	"time"

	projectv1 "github.com/openshift/api/project/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/kubernetes"

	projectstore "github.com/slipway-dev/slipway/internal/registry/project/project"
	"github.com/slipway-dev/slipway/internal/testserver"
)

// TestProjectsOverNamespaces runs new-project, get, list, watch, update and
// delete over the namespaces of a real kube-apiserver, as the OpenShift API
// server serves them.
func TestProjectsOverNamespaces(t *testing.T) {
	api := testserver.Start(t, testserver.Options{})
	client := kubernetes.NewForConfigOrDie(api.Admin)
	storage, err := NewStorage(projectstore.ClientNamespaces(client.CoreV1().Namespaces()), nil)
	if err != nil {
		t.Fatal(err)
	}
	projects := storage["projects"].(interface {
		rest.Getter
		rest.Lister
		rest.Watcher
		rest.Updater
		rest.GracefulDeleter
	})
	requests := storage["projectrequests"].(rest.Creater)

	ctx := genericapirequest.WithNamespace(genericapirequest.NewContext(), metav1.NamespaceNone)
	ctx = genericapirequest.WithUser(ctx, &user.DefaultInfo{Name: "alice"})

	w, err := projects.Watch(ctx, &metainternalversion.ListOptions{Watch: true, ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	if _, err := requests.Create(ctx, &projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: "demo"}, DisplayName: "Demo"}, rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The watch starts with the cluster's own namespaces (default,
	// kube-system...), as projects too.
	timeout := time.After(10 * time.Second)
	for seen := false; !seen; {
		select {
		case ev := <-w.ResultChan():
			p, ok := ev.Object.(*projectv1.Project)
			if !ok {
				t.Fatalf("watch event = %v %#v, want a Project", ev.Type, ev.Object)
			}
			if p.Name != "demo" {
				continue
			}
			if ev.Type != watch.Added {
				t.Fatalf("first watch event for demo = %v, want Added", ev.Type)
			}
			seen = true
		case <-timeout:
			t.Fatal("no watch event for the new project")
		}
	}

	obj, err := projects.Get(ctx, "demo", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := obj.(*projectv1.Project)
	if p.Annotations["openshift.io/requester"] != "alice" || p.Status.Phase != corev1.NamespaceActive {
		t.Fatalf("project = %+v", p)
	}

	list, err := projects.List(ctx, &metainternalversion.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, item := range list.(*projectv1.ProjectList).Items {
		names = append(names, item.Name)
	}
	if !slices.Contains(names, "demo") || !slices.Contains(names, "default") {
		t.Fatalf("projects listed = %v, want demo and the cluster's namespaces", names)
	}

	// An update on the copy create returned is stale by now (controllers
	// annotate new namespaces): a conflict, as for any object.
	p.Annotations["openshift.io/display-name"] = "Renamed"
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		current, err := projects.Get(ctx, "demo", &metav1.GetOptions{})
		return err == nil && current.(*projectv1.Project).ResourceVersion != p.ResourceVersion, err
	}); err != nil {
		t.Fatal("the namespace was not annotated:", err)
	}
	if _, _, err = projects.Update(ctx, "demo", rest.DefaultUpdatedObjectInfo(p), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("update of a stale copy: %v, want Conflict", err)
	}
	current, err := projects.Get(ctx, "demo", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p = current.(*projectv1.Project)
	p.Annotations["openshift.io/display-name"] = "Renamed"
	obj, _, err = projects.Update(ctx, "demo", rest.DefaultUpdatedObjectInfo(p), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := obj.(*projectv1.Project).Annotations["openshift.io/display-name"]; got != "Renamed" {
		t.Errorf("display name after update = %q", got)
	}
	p = obj.(*projectv1.Project)
	p.Annotations["openshift.io/requester"] = "mallory"
	if _, _, err = projects.Update(ctx, "demo", rest.DefaultUpdatedObjectInfo(p), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("requester update err = %v, want Invalid", err)
	}

	obj, _, err = projects.Delete(ctx, "demo", rest.ValidateAllObjectFunc, &metav1.DeleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := obj.(*metav1.Status); !ok || s.Status != metav1.StatusSuccess {
		t.Errorf("delete returned %#v", obj)
	}
	// The namespace terminates; Kubernetes' namespace controller may
	// already have finished with the empty namespace.
	obj, err = projects.Get(ctx, "demo", &metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		t.Fatal(err)
	default:
		if phase := obj.(*projectv1.Project).Status.Phase; phase != corev1.NamespaceTerminating {
			t.Errorf("phase after delete = %q, want Terminating", phase)
		}
	}
	if _, err := projects.Get(ctx, "missing", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get missing err = %v", err)
	}
}
