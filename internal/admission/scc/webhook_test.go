package scc

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
)

// The webhook's answer is what the kube-apiserver applies: its patch on
// the pod gives the restricted-v2 pod Admit made, and a refusal carries
// the Forbidden status.
func TestWebhookPatchesAndRefuses(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "p", Annotations: map[string]string{UIDRangeAnnotation: "1000650000/10000"}}}
	a := New(func(context.Context, string) (*corev1.Namespace, error) { return ns, nil },
		func(_ context.Context, _ user.Info, name, _ string) (bool, error) { return name == RestrictedV2, nil })
	review := func(pod *corev1.Pod) *admissionv1.AdmissionResponse {
		t.Helper()
		raw, err := json.Marshal(pod)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(&admissionv1.AdmissionReview{
			TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
			Request: &admissionv1.AdmissionRequest{
				UID: "u1", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Namespace: "p", Operation: admissionv1.Create,
				UserInfo: authenticationv1.UserInfo{Username: "alice", Groups: []string{user.AllAuthenticated}},
				Object:   runtime.RawExtension{Raw: raw},
			},
		})
		rec := httptest.NewRecorder()
		a.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, WebhookPath, bytes.NewReader(body)))
		var out admissionv1.AdmissionReview
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil || out.Response.UID != "u1" {
			t.Fatalf("answer %s: %v", rec.Body.String(), err)
		}
		return out.Response
	}

	pod := testPod()
	pod.Annotations = map[string]string{"keep": "me"}
	resp := review(pod)
	if !resp.Allowed || resp.PatchType == nil {
		t.Fatalf("response %+v; want allowed with a patch", resp)
	}
	raw, _ := json.Marshal(pod)
	patch, err := jsonpatch.DecodePatch(resp.Patch)
	if err != nil {
		t.Fatal(err)
	}
	patched, err := patch.Apply(raw)
	if err != nil {
		t.Fatal(err)
	}
	var got corev1.Pod
	if err := json.Unmarshal(patched, &got); err != nil {
		t.Fatal(err)
	}
	want := testPod()
	want.Annotations = map[string]string{"keep": "me"}
	if _, err := a.Admit(context.Background(), want, "p", &user.DefaultInfo{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	if got.Annotations[PodAnnotation] != RestrictedV2 || got.Annotations["keep"] != "me" || *got.Spec.Containers[0].SecurityContext.RunAsUser != 1000650000 {
		t.Errorf("patched pod %+v %+v; want %+v", got.Annotations, got.Spec.Containers[0].SecurityContext, want.Spec.Containers[0].SecurityContext)
	}

	root := testPod()
	zero := int64(0)
	root.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsUser: &zero}
	if resp := review(root); resp.Allowed || resp.Result == nil || resp.Result.Code != http.StatusForbidden || resp.Patch != nil {
		t.Errorf("a root pod: %+v; want refused with 403", resp)
	}
}
