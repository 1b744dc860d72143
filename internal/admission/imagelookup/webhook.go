package imagelookup

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	imagev1 "github.com/openshift/api/image/v1"
	admissionv1 "k8s.io/api/admission/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WebhookPath is where the OpenShift API server serves the plugin as a
// mutating admission webhook for the kube-apiserver's pod-making kinds.
const WebhookPath = "/admission/imagelookup"

// maxReviewBytes bounds an AdmissionReview body (the kube-apiserver's own
// request limit is 3 MiB of object).
const maxReviewBytes = 8 << 20

// podTemplate returns the pod spec of a Kubernetes object the webhook
// handles, the JSON pointer of that spec, and whether its annotations ask
// every short name to resolve.
func podTemplate(kind string, raw []byte) (spec *corev1.PodSpec, pointer string, force bool, err error) {
	var meta struct {
		metav1.ObjectMeta `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		return nil, "", false, err
	}
	force = forced(meta.Annotations)
	template := func(t *corev1.PodTemplateSpec, p string) (*corev1.PodSpec, string, bool, error) {
		if t == nil {
			return nil, "", false, nil
		}
		return &t.Spec, p, force || forced(t.Annotations), nil
	}
	switch kind {
	case "Pod":
		var o corev1.Pod
		err = json.Unmarshal(raw, &o)
		return &o.Spec, "/spec", force, err
	case "ReplicationController":
		var o corev1.ReplicationController
		if err = json.Unmarshal(raw, &o); err != nil {
			return nil, "", false, err
		}
		return template(o.Spec.Template, "/spec/template/spec")
	case "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet":
		// Their specs share the template's place.
		var o struct {
			Spec struct {
				Template corev1.PodTemplateSpec `json:"template"`
			} `json:"spec"`
		}
		if err = json.Unmarshal(raw, &o); err != nil {
			return nil, "", false, err
		}
		return template(&o.Spec.Template, "/spec/template/spec")
	case "Job":
		var o batchv1.Job
		if err = json.Unmarshal(raw, &o); err != nil {
			return nil, "", false, err
		}
		return template(&o.Spec.Template, "/spec/template/spec")
	case "CronJob":
		var o batchv1.CronJob
		if err = json.Unmarshal(raw, &o); err != nil {
			return nil, "", false, err
		}
		return template(&o.Spec.JobTemplate.Spec.Template, "/spec/jobTemplate/spec/template/spec")
	}
	return nil, "", false, nil
}

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value string `json:"value"`
}

// ServeHTTP answers an AdmissionReview: a JSON patch replacing each
// container image that is a short name of a local-lookup image stream of
// the object's namespace. It never denies (failurePolicy Ignore too).
func (p *Plugin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReviewBytes+1))
	if err != nil || len(body) > maxReviewBytes {
		http.Error(w, "reading the admission review", http.StatusBadRequest)
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
		http.Error(w, "not an AdmissionReview", http.StatusBadRequest)
		return
	}
	req := review.Request
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	if req.SubResource == "" && req.Namespace != "" && (req.Operation == admissionv1.Create || req.Operation == admissionv1.Update) {
		if patch := p.patch(r, req); len(patch) > 0 {
			if data, err := json.Marshal(patch); err == nil {
				pt := admissionv1.PatchTypeJSONPatch
				resp.Patch, resp.PatchType = data, &pt
			}
		}
	}
	review.Response = resp
	review.Request = nil
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&review)
}

func (p *Plugin) patch(r *http.Request, req *admissionv1.AdmissionRequest) []patchOp {
	spec, pointer, force, err := podTemplate(req.Kind.Kind, req.Object.Raw)
	if err != nil || spec == nil {
		return nil
	}
	res := &resolver{ctx: r.Context(), namespace: req.Namespace, get: p.streams, streams: map[string]*imagev1.ImageStream{}}
	var ops []patchOp
	for _, list := range []struct {
		name       string
		containers []corev1.Container
	}{{"initContainers", spec.InitContainers}, {"containers", spec.Containers}} {
		for i, c := range list.containers {
			if image := res.resolve(c.Image, force); image != "" && image != c.Image {
				ops = append(ops, patchOp{Op: "replace", Path: fmt.Sprintf("%s/%s/%d/image", pointer, list.name, i), Value: image})
			}
		}
	}
	return ops
}
