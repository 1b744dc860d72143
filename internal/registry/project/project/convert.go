// Package project serves project.openshift.io/v1 Projects: a view of
// Namespaces, read and written through the namespace storage.
package project

import (
	projectv1 "github.com/openshift/api/project/v1"
	corev1 "k8s.io/api/core/v1"
)

// ConvertNamespace returns the Project view of ns: the same metadata,
// finalizers and status.
func ConvertNamespace(ns *corev1.Namespace) *projectv1.Project {
	return &projectv1.Project{
		ObjectMeta: *ns.ObjectMeta.DeepCopy(),
		Spec: projectv1.ProjectSpec{
			Finalizers: append([]corev1.FinalizerName(nil), ns.Spec.Finalizers...),
		},
		Status: projectv1.ProjectStatus{
			Phase:      ns.Status.Phase,
			Conditions: append([]corev1.NamespaceCondition(nil), ns.Status.Conditions...),
		},
	}
}

// ConvertProject returns the Namespace behind p.
func ConvertProject(p *projectv1.Project) *corev1.Namespace {
	return &corev1.Namespace{
		ObjectMeta: *p.ObjectMeta.DeepCopy(),
		Spec: corev1.NamespaceSpec{
			Finalizers: append([]corev1.FinalizerName(nil), p.Spec.Finalizers...),
		},
		Status: corev1.NamespaceStatus{
			Phase:      p.Status.Phase,
			Conditions: append([]corev1.NamespaceCondition(nil), p.Status.Conditions...),
		},
	}
}

// ConvertNamespaceList returns the ProjectList view of list.
func ConvertNamespaceList(list *corev1.NamespaceList) *projectv1.ProjectList {
	out := &projectv1.ProjectList{ListMeta: list.ListMeta, Items: make([]projectv1.Project, 0, len(list.Items))}
	for i := range list.Items {
		out.Items = append(out.Items, *ConvertNamespace(&list.Items[i]))
	}
	return out
}
