package scc

import (
	"encoding/json"
	"net/http"

	"github.com/slipway-dev/slipway/internal/admission/webhook"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
)

// WebhookPath is where the OpenShift API server serves the admission as a
// mutating webhook for the kube-apiserver's pods.
const WebhookPath = "/admission/scc"

// ServeHTTP answers an AdmissionReview of a pod's creation: a JSON patch
// with the constraint's defaults and the openshift.io/scc annotation, or
// a refusal saying why no constraint admits the pod.
func (a *Admission) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	webhook.Serve(w, r, func(r *http.Request, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
		resp := &admissionv1.AdmissionResponse{Allowed: true}
		if req.Kind.Kind != "Pod" || req.Operation != admissionv1.Create || req.SubResource != "" || req.Namespace == "" {
			return resp
		}
		if err := a.review(r, req, resp); err != nil {
			webhook.Deny(resp, err)
		}
		return resp
	})
}

func (a *Admission) review(r *http.Request, req *admissionv1.AdmissionRequest, resp *admissionv1.AdmissionResponse) error {
	pod := &corev1.Pod{}
	if err := json.Unmarshal(req.Object.Raw, pod); err != nil {
		return err
	}
	requester := webhook.UserInfo(req.UserInfo)
	name, err := a.Admit(r.Context(), pod, req.Namespace, requester)
	if err != nil || name == "" {
		return err
	}
	ops := []webhook.PatchOp{{Op: "replace", Path: "/spec", Value: pod.Spec}}
	if len(pod.Annotations) == 1 {
		ops = append(ops, webhook.PatchOp{Op: "add", Path: "/metadata/annotations", Value: pod.Annotations})
	} else {
		ops = append(ops, webhook.PatchOp{Op: "add", Path: "/metadata/annotations/openshift.io~1scc", Value: name})
	}
	return webhook.Patch(resp, ops)
}
