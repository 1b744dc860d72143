package auth

import (
	"net/http"
	"strings"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// WebhookAnonymous authenticates requests without credentials as
// system:anonymous, but only for build webhooks
// (.../buildconfigs/NAME/webhooks/SECRET/TYPE): git servers cannot hold a
// token, the secret in the URL is their credential and the webhook checks
// it. Every other request without a token stays unauthenticated (401).
type WebhookAnonymous struct{}

// AuthenticateRequest implements authenticator.Request.
func (WebhookAnonymous) AuthenticateRequest(req *http.Request) (*authenticator.Response, bool, error) {
	if req.Header.Get("Authorization") != "" || !isWebhookPath(req.URL.Path) {
		return nil, false, nil
	}
	return &authenticator.Response{User: &user.DefaultInfo{Name: user.Anonymous, Groups: []string{user.AllUnauthenticated}}}, true, nil
}

// isWebhookPath matches /apis/build.openshift.io/v1/namespaces/NS/buildconfigs/NAME/webhooks/...
func isWebhookPath(p string) bool {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	return len(parts) >= 9 && parts[0] == "apis" && parts[1] == "build.openshift.io" && parts[3] == "namespaces" &&
		parts[5] == "buildconfigs" && parts[7] == "webhooks"
}

// allowWebhook lets system:anonymous call build webhooks and nothing else.
func allowWebhook(a authorizer.Attributes) bool {
	return a.IsResourceRequest() && a.GetAPIGroup() == "build.openshift.io" && a.GetResource() == "buildconfigs" &&
		a.GetSubresource() == "webhooks" && a.GetVerb() == "create"
}
