package projectrequest

import (
	"context"
	"strings"
	"testing"

	projectv1 "github.com/openshift/api/project/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/scheme"
)

// fakeNamespaces records created namespaces and refuses duplicates.
type fakeNamespaces struct{ created map[string]*corev1.Namespace }

func (f *fakeNamespaces) New() runtime.Object { return &corev1.Namespace{} }
func (f *fakeNamespaces) Destroy()            {}

func (f *fakeNamespaces) Create(_ context.Context, obj runtime.Object, _ rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	ns := obj.(*corev1.Namespace).DeepCopy()
	if _, ok := f.created[ns.Name]; ok {
		return nil, apierrors.NewAlreadyExists(corev1.Resource("namespaces"), ns.Name)
	}
	ns.Status.Phase = corev1.NamespaceActive
	ns.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
	f.created[ns.Name] = ns
	return ns, nil
}

func TestValidateProjectRequest(t *testing.T) {
	tests := []struct {
		name string
		req  projectv1.ProjectRequest
		want string
	}{
		{name: "valid", req: projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: "my-app"}, DisplayName: "My App"}},
		{name: "no name", req: projectv1.ProjectRequest{}, want: "metadata.name: Required value"},
		{name: "uppercase", req: projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: "MyApp"}}, want: "metadata.name: Invalid value"},
		{name: "dots", req: projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: "my.app"}}, want: "metadata.name: Invalid value"},
		{name: "too long", req: projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("a", 64)}}, want: "metadata.name: Invalid value"},
		{name: "one character", req: projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, want: "must be at least 2 characters long"},
		{name: "newline in display name", req: projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: "ab"}, DisplayName: "a\nb"}, want: "displayName: Invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := ValidateProjectRequest(&tt.req)
			if tt.want == "" {
				if len(errs) != 0 {
					t.Fatalf("errors = %v", errs)
				}
				return
			}
			if len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), tt.want) {
				t.Fatalf("errors = %v, want %q", errs, tt.want)
			}
		})
	}
}

func TestCreate(t *testing.T) {
	namespaces := &fakeNamespaces{created: map[string]*corev1.Namespace{}}
	var populated []string
	r := NewREST(namespaces, func(_ context.Context, namespace string) error {
		populated = append(populated, namespace)
		return nil
	})
	ctx := genericapirequest.WithUser(genericapirequest.NewContext(), &user.DefaultInfo{Name: "alice"})

	obj, err := r.Create(ctx, &projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: "demo"}, DisplayName: "Demo", Description: "A demo"}, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, ok := obj.(*projectv1.Project)
	if !ok || p.Name != "demo" || p.Status.Phase != corev1.NamespaceActive {
		t.Fatalf("created = %#v", obj)
	}
	ns := namespaces.created["demo"]
	want := map[string]string{"openshift.io/display-name": "Demo", "openshift.io/description": "A demo", "openshift.io/requester": "alice"}
	for k, v := range want {
		if ns.Annotations[k] != v || p.Annotations[k] != v {
			t.Errorf("annotation %s = %q (project %q), want %q", k, ns.Annotations[k], p.Annotations[k], v)
		}
	}

	_, err = r.Create(ctx, &projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: "demo"}}, rest.ValidateAllObjectFunc, nil)
	if !apierrors.IsAlreadyExists(err) || !strings.Contains(err.Error(), `project.project.openshift.io "demo" already exists`) {
		t.Errorf("duplicate err = %v", err)
	}

	for _, name := range []string{"openshift-infra", "kube-public"} {
		_, err = r.Create(ctx, &projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: name}}, rest.ValidateAllObjectFunc, nil)
		if !apierrors.IsForbidden(err) || namespaces.created[name] != nil {
			t.Errorf("reserved %s err = %v", name, err)
		}
	}

	_, err = r.Create(ctx, &projectv1.ProjectRequest{ObjectMeta: metav1.ObjectMeta{Name: "Bad"}}, rest.ValidateAllObjectFunc, nil)
	if !apierrors.IsInvalid(err) {
		t.Errorf("invalid name err = %v", err)
	}

	// Only the namespace actually created is populated, once.
	if len(populated) != 1 || populated[0] != "demo" {
		t.Errorf("populated namespaces = %v, want [demo]", populated)
	}
}

func TestListSaysRequestsAreAllowed(t *testing.T) {
	obj, err := NewREST(&fakeNamespaces{}, nil).List(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := obj.(*metav1.Status); !ok || s.Status != metav1.StatusSuccess {
		t.Errorf("list = %#v", obj)
	}
}

// TestListTypeInstallable repeats what the API installer does with NewList:
// type it and create it in the project group version.
func TestListTypeInstallable(t *testing.T) {
	gvks, _, err := scheme.Scheme.ObjectKinds(NewREST(&fakeNamespaces{}, nil).NewList())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scheme.Scheme.New(projectv1.GroupVersion.WithKind(gvks[0].Kind)); err != nil {
		t.Fatal(err)
	}
}
