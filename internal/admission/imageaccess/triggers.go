package imageaccess

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/slipway-dev/slipway/internal/admission/webhook"
	"github.com/slipway-dev/slipway/internal/triggerannotation"
)

// TriggersWebhookPath is where the OpenShift API server serves the check
// of Kubernetes workloads' image.openshift.io/triggers annotation as a
// validating webhook of the kube-apiserver.
const TriggersWebhookPath = "/admission/imagetriggers"

// TriggersWebhook is the plugin's check for the kinds the kube-apiserver
// serves (Deployments, StatefulSets, DaemonSets, CronJobs): a trigger
// annotation that follows an image stream tag of another namespace needs
// its requester to be allowed to read that stream's layers, as a
// DeploymentConfig's trigger does.
type TriggersWebhook struct{ authz authorizer.Authorizer }

// NewTriggersWebhook returns the webhook deciding with authz.
func NewTriggersWebhook(authz authorizer.Authorizer) *TriggersWebhook {
	return &TriggersWebhook{authz: authz}
}

func (h *TriggersWebhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	webhook.Serve(w, r, func(r *http.Request, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
		resp := &admissionv1.AdmissionResponse{Allowed: true}
		if req.SubResource != "" || req.Namespace == "" {
			return resp
		}
		refs, err := triggerReferences(req.Object.Raw, req.Namespace)
		if err != nil || len(refs) == 0 {
			// A malformed annotation is the trigger controller's to report.
			return resp
		}
		known := map[stream]bool{}
		if len(req.OldObject.Raw) > 0 {
			old, _ := triggerReferences(req.OldObject.Raw, req.Namespace)
			for _, s := range old {
				known[s] = true
			}
		}
		requester := webhook.UserInfo(req.UserInfo)
		for _, s := range refs {
			if known[s] {
				continue
			}
			known[s] = true
			if err := MayRead(r.Context(), h.authz, requester, s.namespace, s.name); err != nil {
				webhook.Deny(resp, apierrors.NewForbidden(schema.GroupResource{Group: req.Resource.Group, Resource: req.Resource.Resource}, req.Name,
					fmt.Errorf("%w, which this %s's %s annotation names", err, req.Kind.Kind, triggerannotation.Key)))
				return resp
			}
		}
		return resp
	})
}

// triggerReferences are the image streams of namespaces other than ns
// that the trigger annotation of the object in raw follows.
func triggerReferences(raw []byte, ns string) ([]stream, error) {
	var obj struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	triggers, err := triggerannotation.Parse(obj.Metadata.Annotations)
	if err != nil {
		return nil, err
	}
	var out []stream
	for _, t := range triggers {
		if t.From.Kind != "ImageStreamTag" || t.From.Namespace == "" || t.From.Namespace == ns {
			continue
		}
		name, _, _ := strings.Cut(t.From.Name, ":")
		out = append(out, stream{namespace: t.From.Namespace, name: name})
	}
	return out, nil
}
