// Package webhook serves admission webhooks: it reads an AdmissionReview
// (bounded), hands its request to the webhook's own function and writes
// the review back with that function's response.
package webhook

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/authentication/user"
)

// maxReviewBytes bounds an AdmissionReview body (the kube-apiserver's own
// request limit is 3 MiB of object).
const maxReviewBytes = 8 << 20

// Review answers one admission request; it sets the response's UID.
type Review func(r *http.Request, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse

// Serve answers the AdmissionReview in r with review.
func Serve(w http.ResponseWriter, r *http.Request, review Review) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReviewBytes+1))
	if err != nil || len(body) > maxReviewBytes {
		http.Error(w, "reading the admission review", http.StatusBadRequest)
		return
	}
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &ar); err != nil || ar.Request == nil {
		http.Error(w, "not an AdmissionReview", http.StatusBadRequest)
		return
	}
	resp := review(r, ar.Request)
	resp.UID = ar.Request.UID
	ar.Response = resp
	ar.Request = nil
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&ar)
}

// PatchOp is one JSON patch operation.
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// Patch sets ops as resp's JSON patch; no ops leave resp as it is.
func Patch(resp *admissionv1.AdmissionResponse, ops []PatchOp) error {
	if len(ops) == 0 {
		return nil
	}
	data, err := json.Marshal(ops)
	if err != nil {
		return err
	}
	pt := admissionv1.PatchTypeJSONPatch
	resp.Patch, resp.PatchType = data, &pt
	return nil
}

// UserInfo is the requester an admission request names.
func UserInfo(u authenticationv1.UserInfo) user.Info {
	info := &user.DefaultInfo{Name: u.Username, UID: u.UID, Groups: u.Groups}
	if len(u.Extra) > 0 {
		info.Extra = map[string][]string{}
		for k, v := range u.Extra {
			info.Extra[k] = v
		}
	}
	return info
}

// Deny makes resp a refusal with err's status (a 400 for an error that
// carries none).
func Deny(resp *admissionv1.AdmissionResponse, err error) {
	status := apierrors.NewBadRequest(err.Error()).ErrStatus
	var s apierrors.APIStatus
	if errors.As(err, &s) {
		status = s.Status()
	}
	resp.Allowed, resp.Result, resp.Patch, resp.PatchType = false, &status, nil, nil
}
