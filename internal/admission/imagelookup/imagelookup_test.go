package imagelookup

import (
	"context"
	"errors"
	"testing"

	appsv1 "github.com/openshift/api/apps/v1"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
)

const (
	digest    = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	oldDigest = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	repo      = "registry.local:5000/proj/mytime"
)

// stream returns proj/name with lookupPolicy.local set to local and the
// tags latest (Source: the external reference) and local (Local: pulled
// through the internal registry by digest).
func stream(name string, local bool) *imagev1.ImageStream {
	return &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: "proj", Name: name},
		Spec: imagev1.ImageStreamSpec{
			LookupPolicy: imagev1.ImageLookupPolicy{Local: local},
			Tags: []imagev1.TagReference{
				{Name: "latest", ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy}},
				{Name: "local", ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.LocalTagReferencePolicy}},
			},
		},
		Status: imagev1.ImageStreamStatus{
			DockerImageRepository: "registry.local:5000/proj/" + name,
			Tags: []imagev1.NamedTagEventList{
				{Tag: "latest", Items: []imagev1.TagEvent{
					{DockerImageReference: "hub.example.com/me/" + name + "@" + digest, Image: digest},
					{DockerImageReference: "hub.example.com/me/" + name + "@" + oldDigest, Image: oldDigest},
				}},
				{Tag: "local", Items: []imagev1.TagEvent{{DockerImageReference: "hub.example.com/me/" + name + "@" + digest, Image: digest}}},
			},
		},
	}
}

// streams serves proj/mytime (lookup on), proj/nolookup (lookup off) and
// other/mytime (lookup on, another namespace); proj/broken cannot be read.
func streams(ctx context.Context, namespace, name string) (*imagev1.ImageStream, error) {
	switch {
	case namespace == "proj" && name == "mytime":
		return stream("mytime", true), nil
	case namespace == "proj" && name == "nolookup":
		return stream("nolookup", false), nil
	case namespace == "other" && name == "mytime":
		s := stream("mytime", true)
		s.Namespace = "other"
		return s, nil
	case namespace == "proj" && name == "broken":
		return nil, errors.New("connection refused")
	}
	return nil, apierrors.NewNotFound(imagev1.Resource("imagestreams"), name)
}

func podWith(namespace string, images ...string) *corev1.Pod {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "p"}}
	for _, image := range images {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "c", Image: image})
	}
	return pod
}

func admit(t *testing.T, obj runtime.Object, resource schema.GroupVersionResource, subresource string, op admission.Operation) {
	t.Helper()
	m := obj.(metav1.Object)
	a := admission.NewAttributesRecord(obj, nil, schema.GroupVersionKind{}, m.GetNamespace(), m.GetName(), resource, subresource, op, nil, false, nil)
	p := New(streams)
	if !p.Handles(op) {
		return
	}
	if err := p.Admit(context.Background(), a, nil); err != nil {
		t.Fatalf("Admit: %v", err)
	}
}

var podsResource = corev1.SchemeGroupVersion.WithResource("pods")

func TestPodImages(t *testing.T) {
	sourceLatest := "hub.example.com/me/mytime@" + digest
	tests := []struct {
		name, namespace, image, want string
	}{
		{"bare name is latest", "proj", "mytime", sourceLatest},
		{"name:tag", "proj", "mytime:latest", sourceLatest},
		{"Local reference policy pulls through the stream", "proj", "mytime:local", repo + "@" + digest},
		{"tag without events", "proj", "mytime:missing", "mytime:missing"},
		{"other namespace's stream", "elsewhere", "mytime:latest", "mytime:latest"},
		{"stream in the pod's own other namespace", "other", "mytime", sourceLatest},
		{"lookupPolicy false", "proj", "nolookup:latest", "nolookup:latest"},
		{"no such stream", "proj", "busybox", "busybox"},
		{"unreadable stream admits unchanged", "proj", "broken:latest", "broken:latest"},
		{"registry-qualified", "proj", "docker.io/mytime:latest", "docker.io/mytime:latest"},
		{"repository path", "proj", "library/mytime:latest", "library/mytime:latest"},
		{"host:port registry", "proj", "localhost:5000/mytime", "localhost:5000/mytime"},
		{"digest", "proj", "mytime@" + digest, "mytime@" + digest},
		{"DC placeholder", "proj", " ", " "},
		{"empty", "proj", "", ""},
		{"malformed", "proj", "mytime:a:b", "mytime:a:b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := podWith(tt.namespace, tt.image)
			admit(t, pod, podsResource, "", admission.Create)
			if got := pod.Spec.Containers[0].Image; got != tt.want {
				t.Errorf("image %q became %q, want %q", tt.image, got, tt.want)
			}
		})
	}
}

func TestPodInitContainersAndUpdate(t *testing.T) {
	pod := podWith("proj", "mytime", "busybox")
	pod.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "mytime:local"}}
	admit(t, pod, podsResource, "", admission.Update)
	if got, want := pod.Spec.InitContainers[0].Image, repo+"@"+digest; got != want {
		t.Errorf("init container image = %q, want %q", got, want)
	}
	if got, want := pod.Spec.Containers[0].Image, "hub.example.com/me/mytime@"+digest; got != want {
		t.Errorf("container image = %q, want %q", got, want)
	}
	if got := pod.Spec.Containers[1].Image; got != "busybox" {
		t.Errorf("busybox became %q", got)
	}
}

func TestSubresourcesAndDeleteUntouched(t *testing.T) {
	pod := podWith("proj", "mytime")
	admit(t, pod, podsResource, "status", admission.Update)
	admit(t, pod, podsResource, "", admission.Delete)
	if got := pod.Spec.Containers[0].Image; got != "mytime" {
		t.Errorf("image = %q, want it unchanged", got)
	}
}

func TestResolveNamesAnnotation(t *testing.T) {
	pod := podWith("proj", "nolookup")
	pod.Annotations = map[string]string{ResolveNamesAnnotation: "*"}
	admit(t, pod, podsResource, "", admission.Create)
	if got, want := pod.Spec.Containers[0].Image, "hub.example.com/me/nolookup@"+digest; got != want {
		t.Errorf("annotated pod image = %q, want %q", got, want)
	}

	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Namespace: "proj", Name: "rc"},
		Spec: corev1.ReplicationControllerSpec{Template: &corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{ResolveNamesAnnotation: "*"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nolookup:local"}}},
		}},
	}
	admit(t, rc, corev1.SchemeGroupVersion.WithResource("replicationcontrollers"), "", admission.Create)
	if got, want := rc.Spec.Template.Spec.Containers[0].Image, "registry.local:5000/proj/nolookup@"+digest; got != want {
		t.Errorf("annotated RC template image = %q, want %q", got, want)
	}
}

func TestDeploymentConfigTemplate(t *testing.T) {
	dc := &appsv1.DeploymentConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: "proj", Name: "dc"},
		Spec: appsv1.DeploymentConfigSpec{
			Triggers: []appsv1.DeploymentTriggerPolicy{{
				Type: appsv1.DeploymentTriggerOnImageChange,
				ImageChangeParams: &appsv1.DeploymentTriggerImageChangeParams{
					Automatic:      true,
					ContainerNames: []string{"triggered"},
					From:           corev1.ObjectReference{Kind: "ImageStreamTag", Name: "mytime:latest"},
				},
			}},
			Template: &corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				InitContainers: []corev1.Container{{Name: "init", Image: "mytime:local"}},
				Containers: []corev1.Container{
					{Name: "app", Image: "mytime:latest"},
					{Name: "triggered", Image: "mytime:latest"},
					{Name: "placeholder", Image: " "},
				},
			}},
		},
	}
	admit(t, dc, appsv1.SchemeGroupVersion.WithResource("deploymentconfigs"), "", admission.Create)
	spec := dc.Spec.Template.Spec
	want := map[string]string{
		"init":        repo + "@" + digest,
		"app":         "hub.example.com/me/mytime@" + digest,
		"triggered":   "mytime:latest",
		"placeholder": " ",
	}
	for _, c := range append(spec.InitContainers, spec.Containers...) {
		if c.Image != want[c.Name] {
			t.Errorf("container %s image = %q, want %q", c.Name, c.Image, want[c.Name])
		}
	}
}

// TestStreamReadOncePerRequest checks that several containers naming one
// stream cost one read.
func TestStreamReadOncePerRequest(t *testing.T) {
	reads := 0
	p := New(func(ctx context.Context, namespace, name string) (*imagev1.ImageStream, error) {
		reads++
		return streams(ctx, namespace, name)
	})
	pod := podWith("proj", "mytime", "mytime:local", "busybox", "busybox:1")
	a := admission.NewAttributesRecord(pod, nil, schema.GroupVersionKind{}, "proj", "p", podsResource, "", admission.Create, nil, false, nil)
	if err := p.Admit(context.Background(), a, nil); err != nil {
		t.Fatal(err)
	}
	if reads != 2 {
		t.Errorf("read streams %d times, want 2 (mytime and busybox once each)", reads)
	}
}
