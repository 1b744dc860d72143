package project

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/registry/rest"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// ClientNamespaces serves Namespaces from the Kubernetes API, as
// openshift-apiserver does: projects are a view of the cluster's namespaces,
// which the kube-apiserver owns. The request was authorized on projects
// before it gets here; the client acts as the OpenShift API server.
func ClientNamespaces(client corev1client.NamespaceInterface) Namespaces {
	return clientNamespaces{client}
}

type clientNamespaces struct {
	client corev1client.NamespaceInterface
}

func (c clientNamespaces) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return c.client.Get(ctx, name, *options)
}

func (c clientNamespaces) NewList() runtime.Object { return &corev1.NamespaceList{} }

func (c clientNamespaces) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	return c.client.List(ctx, listOptions(options))
}

func (c clientNamespaces) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return nil, fmt.Errorf("namespaces are printed as projects")
}

func (c clientNamespaces) Watch(ctx context.Context, options *metainternalversion.ListOptions) (watch.Interface, error) {
	return c.client.Watch(ctx, listOptions(options))
}

func (c clientNamespaces) New() runtime.Object { return &corev1.Namespace{} }

func (c clientNamespaces) Destroy() {}

func (c clientNamespaces) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a Namespace: %T", obj))
	}
	if createValidation != nil {
		if err := createValidation(ctx, ns); err != nil {
			return nil, err
		}
	}
	return c.client.Create(ctx, ns, *options)
}

func (c clientNamespaces) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, _ rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	old, err := c.client.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, false, err
	}
	obj, err := objInfo.UpdatedObject(ctx, old.DeepCopy())
	if err != nil {
		return nil, false, err
	}
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return nil, false, apierrors.NewBadRequest(fmt.Sprintf("not a Namespace: %T", obj))
	}
	if updateValidation != nil {
		if err := updateValidation(ctx, ns, old); err != nil {
			return nil, false, err
		}
	}
	if ns.ResourceVersion == "" {
		ns.ResourceVersion = old.ResourceVersion
	}
	updated, err := c.client.Update(ctx, ns, *options)
	return updated, false, err
}

func (c clientNamespaces) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	if deleteValidation != nil {
		current, err := c.client.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, false, err
		}
		if err := deleteValidation(ctx, current); err != nil {
			return nil, false, err
		}
	}
	if err := c.client.Delete(ctx, name, *options); err != nil {
		return nil, false, err
	}
	return &metav1.Status{Status: metav1.StatusSuccess}, false, nil
}

// listOptions turns the server's internal list options into a client's.
func listOptions(in *metainternalversion.ListOptions) metav1.ListOptions {
	if in == nil {
		return metav1.ListOptions{}
	}
	out := metav1.ListOptions{
		ResourceVersion:      in.ResourceVersion,
		ResourceVersionMatch: in.ResourceVersionMatch,
		TimeoutSeconds:       in.TimeoutSeconds,
		Limit:                in.Limit,
		Continue:             in.Continue,
		Watch:                in.Watch,
		AllowWatchBookmarks:  in.AllowWatchBookmarks,
		SendInitialEvents:    in.SendInitialEvents,
	}
	if in.LabelSelector != nil {
		out.LabelSelector = in.LabelSelector.String()
	}
	if in.FieldSelector != nil {
		out.FieldSelector = in.FieldSelector.String()
	}
	return out
}
