package triggerannotation

import (
	"strings"
	"testing"

	kappsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestParseAndFormat(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        []Trigger
		err         string
	}{
		{name: "oc new-app's", value: `[{"from":{"kind":"ImageStreamTag","name":"mytime:latest"},"fieldPath":"spec.template.spec.containers[?(@.name==\"mytime\")].image"}]`,
			want: []Trigger{{From: Reference{Kind: "ImageStreamTag", Name: "mytime:latest"}, FieldPath: `spec.template.spec.containers[?(@.name=="mytime")].image`}}},
		{name: "paused, other namespace", value: `[{"from":{"kind":"ImageStreamTag","name":"a:v1","namespace":"shared"},"fieldPath":"spec.template.spec.containers[0].image","paused":true}]`,
			want: []Trigger{{From: Reference{Kind: "ImageStreamTag", Name: "a:v1", Namespace: "shared"}, FieldPath: "spec.template.spec.containers[0].image", Paused: true}}},
		{name: "empty", value: `[]`, want: []Trigger{}},
		{name: "malformed", value: `{"from":`, err: "reading annotation"},
		{name: "duplicate", value: `[{"from":{"kind":"ImageStreamTag","name":"a:1"},"fieldPath":"x"},{"from":{"kind":"ImageStreamTag","name":"b:1"},"fieldPath":"x"}]`, err: "duplicate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(map[string]string{Key: tc.value, "other": "x"})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("trigger %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
			if again, err := Parse(map[string]string{Key: Format(got)}); err != nil || len(again) != len(got) {
				t.Errorf("Format does not read back: %v %+v", err, again)
			}
		})
	}
	if got, err := Parse(map[string]string{"a": "b"}); got != nil || err != nil {
		t.Errorf("no annotation: %+v, %v", got, err)
	}
	// oc's exact bytes for one trigger (the annotation is compared as text
	// by tools that diff manifests).
	want := `[{"from":{"kind":"ImageStreamTag","name":"mytime:latest"},"fieldPath":"spec.template.spec.containers[?(@.name==\"mytime\")].image"}]`
	got := Format([]Trigger{{From: Reference{Kind: "ImageStreamTag", Name: "mytime:latest"}, FieldPath: ImageFieldPath("spec.template.spec", "mytime", false)}})
	if got != want {
		t.Errorf("Format = %s\nwant     %s", got, want)
	}
	if got := Format(nil); got != "[]" {
		t.Errorf("Format(nil) = %s", got)
	}
}

func TestContainer(t *testing.T) {
	spec := &corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init"}},
		Containers:     []corev1.Container{{Name: "web"}, {Name: "side"}},
	}
	for _, tc := range []struct {
		path, want, err string
	}{
		{path: `spec.template.spec.containers[?(@.name=="side")].image`, want: "side"},
		{path: `spec.template.spec.containers[0].image`, want: "web"},
		{path: `spec.template.spec.initContainers[?(@.name=="init")].image`, want: "init"},
		{path: `spec.template.spec.initContainers[0].image`, want: "init"},
		{path: `spec.template.spec.containers[?(@.name=="init")].image`, err: "no such container: init"},
		{path: `spec.template.spec.containers[2].image`, err: "no container at index 2"},
		{path: `spec.template.spec.containers[?(@.name=="web")].env`, err: "names no container image"},
		{path: `spec.template.spec.volumes[0].image`, err: "names no container"},
		{path: `spec.template.spec.containers[name=web].image`, err: "unknown container selector"},
		{path: `spec.jobTemplate.spec.template.spec.containers[0].image`, err: "is not under"},
	} {
		c, err := Container(spec, "spec.template.spec", tc.path)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: err = %v, want %q", tc.path, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.path, err)
		case tc.err == "" && c.Name != tc.want:
			t.Errorf("%s: container %s, want %s", tc.path, c.Name, tc.want)
		}
	}
}

func annotated(triggers ...Trigger) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: "app", Namespace: "proj", Annotations: map[string]string{Key: Format(triggers)}}
}

func istag(name, fieldPath string) Trigger {
	return Trigger{From: Reference{Kind: "ImageStreamTag", Name: name}, FieldPath: fieldPath}
}

func TestApply(t *testing.T) {
	tags := map[string]string{
		"proj/app:latest":   "reg.test/proj/app@sha256:1",
		"shared/base:v1":    "reg.test/shared/base@sha256:2",
		"proj/side:latest":  "reg.test/proj/side@sha256:3",
		"proj/unset:latest": "",
	}
	resolve := func(namespace, name string) string { return tags[namespace+"/"+name] }
	podSpec := corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}},
		Containers:     []corev1.Container{{Name: "app", Image: " "}, {Name: "side", Image: "side:manual"}},
	}
	deployment := func(triggers ...Trigger) *kappsv1.Deployment {
		return &kappsv1.Deployment{ObjectMeta: annotated(triggers...), Spec: kappsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: *podSpec.DeepCopy()}}}
	}
	images := func(obj runtime.Object) []string {
		spec, _, err := PodSpec(obj)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
			out = append(out, c.Image)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		obj  runtime.Object
		want []string // init, app, side; nil: unchanged
		err  string
	}{
		{name: "deployment by name",
			obj:  deployment(istag("app:latest", `spec.template.spec.containers[?(@.name=="app")].image`)),
			want: []string{"busybox", "reg.test/proj/app@sha256:1", "side:manual"}},
		{name: "init container by index, other namespace",
			obj:  deployment(Trigger{From: Reference{Kind: "ImageStreamTag", Name: "base:v1", Namespace: "shared"}, FieldPath: `spec.template.spec.initContainers[0].image`}),
			want: []string{"reg.test/shared/base@sha256:2", " ", "side:manual"}},
		{name: "paused trigger does nothing",
			obj: deployment(Trigger{From: Reference{Kind: "ImageStreamTag", Name: "app:latest"}, FieldPath: `spec.template.spec.containers[0].image`, Paused: true})},
		{name: "unresolved tag does nothing",
			obj: deployment(istag("unset:latest", `spec.template.spec.containers[0].image`), istag("missing:latest", `spec.template.spec.containers[1].image`))},
		{name: "other kinds are not followed",
			obj: deployment(Trigger{From: Reference{Kind: "DockerImage", Name: "app:latest"}, FieldPath: `spec.template.spec.containers[0].image`})},
		{name: "path outside the pod spec is skipped",
			obj: deployment(istag("app:latest", `spec.jobTemplate.spec.template.spec.containers[0].image`))},
		{name: "image already there",
			obj: func() runtime.Object {
				d := deployment(istag("side:latest", `spec.template.spec.containers[1].image`))
				d.Spec.Template.Spec.Containers[1].Image = "reg.test/proj/side@sha256:3"
				return d
			}()},
		{name: "bad container reported, others applied",
			obj: deployment(istag("app:latest", `spec.template.spec.containers[?(@.name=="nope")].image`),
				istag("side:latest", `spec.template.spec.containers[?(@.name=="side")].image`)),
			want: []string{"busybox", " ", "reg.test/proj/side@sha256:3"}, err: "no such container: nope"},
		{name: "cronjob",
			obj: &batchv1.CronJob{ObjectMeta: annotated(istag("app:latest", `spec.jobTemplate.spec.template.spec.containers[?(@.name=="app")].image`)),
				Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: *podSpec.DeepCopy()}}}}},
			want: []string{"busybox", "reg.test/proj/app@sha256:1", "side:manual"}},
		{name: "statefulset",
			obj: &kappsv1.StatefulSet{ObjectMeta: annotated(istag("app:latest", `spec.template.spec.containers[0].image`)),
				Spec: kappsv1.StatefulSetSpec{Template: corev1.PodTemplateSpec{Spec: *podSpec.DeepCopy()}}},
			want: []string{"busybox", "reg.test/proj/app@sha256:1", "side:manual"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := images(tc.obj)
			got, err := Apply(tc.obj, resolve)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("err = %v, want %q", err, tc.err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if after := images(tc.obj); strings.Join(after, ",") != strings.Join(before, ",") {
				t.Errorf("Apply changed its argument: %q -> %q", before, after)
			}
			if tc.want == nil {
				if got != nil {
					t.Errorf("changed: %q, want no change", images(got))
				}
				return
			}
			if got == nil {
				t.Fatalf("no change, want %q", tc.want)
			}
			if g := images(got); strings.Join(g, ",") != strings.Join(tc.want, ",") {
				t.Errorf("images = %q, want %q", g, tc.want)
			}
		})
	}
	if _, err := Apply(&corev1.Service{ObjectMeta: annotated(istag("app:latest", "spec"))}, resolve); err == nil {
		t.Error("a Service: no error")
	}
}
