// Package triggerannotation reads and writes the image.openshift.io/triggers
// annotation, with which Kubernetes workloads (Deployments, StatefulSets,
// DaemonSets, CronJobs) follow image stream tags as OpenShift defines it
// (openshift-semantics.md 2.6), and finds the container image a trigger's
// fieldPath names.
package triggerannotation

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	kappsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Key is the annotation's name.
const Key = "image.openshift.io/triggers"

// Trigger is one entry of the annotation's JSON array: the image the tag
// From resolves to is written into the field FieldPath names, unless Paused.
type Trigger struct {
	From      Reference `json:"from"`
	FieldPath string    `json:"fieldPath"`
	Paused    bool      `json:"paused,omitempty"`
}

// Reference names what a trigger follows: kind ImageStreamTag, name
// "stream:tag", namespace "" for the object's own.
type Reference struct {
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace,omitempty"`
	APIVersion string `json:"apiVersion,omitempty"`
}

// FollowsImageStreamTag reports whether t follows an image stream tag now:
// not paused and of the one kind OpenShift's controller follows.
func (t Trigger) FollowsImageStreamTag() bool {
	return !t.Paused && t.From.Kind == "ImageStreamTag" && t.From.APIVersion == ""
}

// Parse returns the triggers the annotation of an object with annotations
// holds: nil without the annotation, an error for malformed JSON or two
// triggers on one field.
func Parse(annotations map[string]string) ([]Trigger, error) {
	value, ok := annotations[Key]
	if !ok {
		return nil, nil
	}
	var triggers []Trigger
	if err := json.Unmarshal([]byte(value), &triggers); err != nil {
		return nil, fmt.Errorf("reading annotation %s: %w", Key, err)
	}
	seen := map[string]bool{}
	for _, t := range triggers {
		if seen[t.FieldPath] {
			return nil, fmt.Errorf("annotation %s: duplicate triggers are not allowed (%s)", Key, t.FieldPath)
		}
		seen[t.FieldPath] = true
	}
	return triggers, nil
}

// Format is the annotation's value for triggers.
func Format(triggers []Trigger) string {
	if triggers == nil {
		triggers = []Trigger{}
	}
	out, err := json.Marshal(triggers)
	if err != nil {
		panic(err) // strings and a bool always marshal
	}
	return string(out)
}

// PodSpec returns the pod spec of a workload and the field path it lives
// at ("spec.template.spec"), or an error for a kind that has none.
func PodSpec(obj runtime.Object) (*corev1.PodSpec, string, error) {
	switch o := obj.(type) {
	case *kappsv1.Deployment:
		return &o.Spec.Template.Spec, "spec.template.spec", nil
	case *kappsv1.StatefulSet:
		return &o.Spec.Template.Spec, "spec.template.spec", nil
	case *kappsv1.DaemonSet:
		return &o.Spec.Template.Spec, "spec.template.spec", nil
	case *kappsv1.ReplicaSet:
		return &o.Spec.Template.Spec, "spec.template.spec", nil
	case *batchv1.Job:
		return &o.Spec.Template.Spec, "spec.template.spec", nil
	case *batchv1.CronJob:
		return &o.Spec.JobTemplate.Spec.Template.Spec, "spec.jobTemplate.spec.template.spec", nil
	case *corev1.Pod:
		return &o.Spec, "spec", nil
	}
	return nil, "", fmt.Errorf("%T has no pod spec that image triggers can follow", obj)
}

// ImageFieldPath is the fieldPath of the image of container name in the
// pod spec at specPath, as oc writes it:
// spec.template.spec.containers[?(@.name=="web")].image.
func ImageFieldPath(specPath, name string, init bool) string {
	list := "containers"
	if init {
		list = "initContainers"
	}
	return fmt.Sprintf("%s.%s[?(@.name==%q)].image", specPath, list, name)
}

// Container returns the container whose image fieldPath names in spec, the
// pod spec at specPath. fieldPath selects a container by name
// (containers[?(@.name=="web")]) or index (initContainers[0]) and ends in
// .image.
func Container(spec *corev1.PodSpec, specPath, fieldPath string) (*corev1.Container, error) {
	rest, ok := strings.CutPrefix(fieldPath, specPath+".")
	if !ok {
		return nil, fmt.Errorf("field path %s is not under %s", fieldPath, specPath)
	}
	containers := &spec.Containers
	switch {
	case strings.HasPrefix(rest, "containers["):
		rest = strings.TrimPrefix(rest, "containers[")
	case strings.HasPrefix(rest, "initContainers["):
		rest = strings.TrimPrefix(rest, "initContainers[")
		containers = &spec.InitContainers
	default:
		return nil, fmt.Errorf("field path %s names no container", fieldPath)
	}
	selector, rest, ok := strings.Cut(rest, "]")
	if !ok || rest != ".image" {
		return nil, fmt.Errorf("field path %s names no container image", fieldPath)
	}
	if i, err := strconv.Atoi(selector); err == nil {
		if i < 0 || i >= len(*containers) {
			return nil, fmt.Errorf("field path %s: no container at index %d", fieldPath, i)
		}
		return &(*containers)[i], nil
	}
	name, ok := strings.CutPrefix(selector, `?(@.name=="`)
	if name, ok2 := strings.CutSuffix(name, `")`); ok && ok2 {
		for i := range *containers {
			if (*containers)[i].Name == name {
				return &(*containers)[i], nil
			}
		}
		return nil, fmt.Errorf("field path %s: no such container: %s", fieldPath, name)
	}
	return nil, fmt.Errorf("field path %s: unknown container selector %s", fieldPath, selector)
}

// Resolver returns the pull spec image stream tag name ("stream:tag") of
// namespace resolves to now, or "" when it does not resolve (yet).
type Resolver func(namespace, name string) string

// Apply writes the images the annotated triggers of obj (a workload, see
// PodSpec) resolve to into the containers they name, as OpenShift's
// trigger controller does: paused triggers and tags that do not resolve
// are skipped, as are triggers whose fieldPath lies outside the pod spec.
// It returns a changed deep copy of obj, or nil when nothing changed; the
// error lists the triggers that name no container (the others are applied).
func Apply(obj runtime.Object, resolve Resolver) (runtime.Object, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no object metadata", obj)
	}
	triggers, err := Parse(m.GetAnnotations())
	if err != nil || len(triggers) == 0 {
		return nil, err
	}
	if _, _, err := PodSpec(obj); err != nil {
		return nil, err
	}
	namespace := m.GetNamespace()
	var updated runtime.Object
	var errs []error
	for _, t := range triggers {
		if !t.FollowsImageStreamTag() {
			continue
		}
		ns := t.From.Namespace
		if ns == "" {
			ns = namespace
		}
		image := resolve(ns, t.From.Name)
		if image == "" {
			continue
		}
		target := obj
		if updated != nil {
			target = updated
		}
		spec, specPath, _ := PodSpec(target)
		if !strings.HasPrefix(t.FieldPath, specPath+".") {
			continue // OpenShift skips paths outside the pod spec
		}
		container, err := Container(spec, specPath, t.FieldPath)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if container.Image == image {
			continue
		}
		if updated == nil {
			updated = obj.DeepCopyObject()
			spec, _, _ = PodSpec(updated)
			container, _ = Container(spec, specPath, t.FieldPath)
		}
		container.Image = image
	}
	return updated, errors.Join(errs...)
}
