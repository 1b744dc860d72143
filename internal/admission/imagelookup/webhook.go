package imagelookup

import (
	"encoding/json"
	"fmt"
	"net/http"

	imagev1 "github.com/openshift/api/image/v1"
	"github.com/slipway-dev/slipway/internal/admission/webhook"
	admissionv1 "k8s.io/api/admission/v1"
	kappsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// WebhookPath is where the OpenShift API server serves the plugin as a
// mutating admission webhook for the kube-apiserver's pod-making kinds.
const WebhookPath = "/admission/imagelookup"

// newObject returns an empty object of the kinds the webhook is sent.
func newObject(kind string) runtime.Object {
	switch kind {
	case "Pod":
		return &corev1.Pod{}
	case "ReplicationController":
		return &corev1.ReplicationController{}
	case "Deployment":
		return &kappsv1.Deployment{}
	case "ReplicaSet":
		return &kappsv1.ReplicaSet{}
	case "StatefulSet":
		return &kappsv1.StatefulSet{}
	case "DaemonSet":
		return &kappsv1.DaemonSet{}
	case "Job":
		return &batchv1.Job{}
	case "CronJob":
		return &batchv1.CronJob{}
	}
	return nil
}

// ServeHTTP answers an AdmissionReview: a JSON patch replacing each
// container image that is a short name of a local-lookup image stream of
// the object's namespace. It never denies (failurePolicy Ignore too).
func (p *Plugin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	webhook.Serve(w, r, func(r *http.Request, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
		resp := &admissionv1.AdmissionResponse{Allowed: true}
		if req.SubResource == "" && req.Namespace != "" && (req.Operation == admissionv1.Create || req.Operation == admissionv1.Update) {
			_ = webhook.Patch(resp, p.patch(r, req))
		}
		return resp
	})
}

func (p *Plugin) patch(r *http.Request, req *admissionv1.AdmissionRequest) []webhook.PatchOp {
	obj := newObject(req.Kind.Kind)
	if obj == nil || json.Unmarshal(req.Object.Raw, obj) != nil {
		return nil
	}
	t, ok := podTemplateOf(obj)
	if !ok {
		return nil
	}
	// The admission plugin's own rewrite, then a patch of what it changed.
	before := map[string][]string{"initContainers": images(t.spec.InitContainers), "containers": images(t.spec.Containers)}
	res := &resolver{ctx: r.Context(), namespace: req.Namespace, get: p.streams, streams: map[string]*imagev1.ImageStream{}}
	rewriteSpec(t.spec, t.force, t.skip, res.resolve)
	var ops []webhook.PatchOp
	for list, after := range map[string][]corev1.Container{"initContainers": t.spec.InitContainers, "containers": t.spec.Containers} {
		for i, c := range after {
			if c.Image != before[list][i] {
				ops = append(ops, webhook.PatchOp{Op: "replace", Path: fmt.Sprintf("%s/%s/%d/image", t.pointer, list, i), Value: c.Image})
			}
		}
	}
	return ops
}

func images(containers []corev1.Container) []string {
	out := make([]string, len(containers))
	for i, c := range containers {
		out[i] = c.Image
	}
	return out
}
