package scheme

import (
	"testing"

	buildv1 "github.com/openshift/api/build/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestRoundTripThroughInternal checks that the "internal" version is the
// external struct itself: decoding to internal and encoding back to v1 keeps
// every field and the apiVersion.
func TestRoundTripThroughInternal(t *testing.T) {
	in := &buildv1.BuildConfig{
		TypeMeta:   metav1.TypeMeta{APIVersion: "build.openshift.io/v1", Kind: "BuildConfig"},
		ObjectMeta: metav1.ObjectMeta{Name: "time", Namespace: "p"},
		Spec: buildv1.BuildConfigSpec{RunPolicy: buildv1.BuildRunPolicySerial,
			CommonSpec: buildv1.CommonSpec{Source: buildv1.BuildSource{Git: &buildv1.GitBuildSource{URI: "https://example.com/x.git"}}}},
	}
	codec := Codecs.LegacyCodec(GroupVersions...)
	data, err := runtime.Encode(codec, in)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := runtime.Decode(Codecs.UniversalDecoder(), data)
	if err != nil {
		t.Fatal(err)
	}
	bc, ok := obj.(*buildv1.BuildConfig)
	if !ok {
		t.Fatalf("decoded %T, want *BuildConfig", obj)
	}
	if bc.Spec.Source.Git.URI != "https://example.com/x.git" {
		t.Fatalf("lost git uri: %+v", bc.Spec.Source)
	}
	out, err := runtime.Encode(codec, bc)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != string(data) {
		t.Fatalf("round trip changed the object:\n%s\n%s", data, out)
	}
	if _, _, err := Scheme.ObjectKinds(&corev1.Secret{}); err != nil {
		t.Fatal(err)
	}
}
