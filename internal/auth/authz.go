package auth

import (
	"context"
	"strings"

	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

// Authorizer lets members of system:masters (the admin and the server's own
// loopback client) do everything, and a service account act only inside its
// own namespace. Every authenticated user may read discovery and OpenAPI and
// ask who it is (selfsubjectreviews).
type Authorizer struct{}

// Authorize implements authorizer.Authorizer.
func (Authorizer) Authorize(ctx context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	u := a.GetUser()
	if u == nil {
		return authorizer.DecisionNoOpinion, "no user", nil
	}
	for _, g := range u.GetGroups() {
		if g == user.SystemPrivilegedGroup {
			return authorizer.DecisionAllow, "", nil
		}
	}
	if u.GetName() == user.Anonymous {
		if allowWebhook(a) {
			return authorizer.DecisionAllow, "", nil
		}
		return authorizer.DecisionNoOpinion, "anonymous requests may only call build webhooks", nil
	}
	if !a.IsResourceRequest() {
		if a.GetVerb() == "get" && isDiscoveryPath(a.GetPath()) {
			return authorizer.DecisionAllow, "", nil
		}
		return authorizer.DecisionNoOpinion, "", nil
	}
	if a.GetAPIGroup() == "authentication.k8s.io" && a.GetResource() == "selfsubjectreviews" && a.GetVerb() == "create" {
		return authorizer.DecisionAllow, "", nil
	}
	ns, _, err := serviceaccount.SplitUsername(u.GetName())
	if err != nil {
		return authorizer.DecisionNoOpinion, "", nil
	}
	if a.GetNamespace() == ns {
		return authorizer.DecisionAllow, "", nil
	}
	// Its own namespace and project, read-only.
	if (a.GetResource() == "namespaces" || a.GetResource() == "projects") && a.GetName() == ns && a.GetSubresource() == "" &&
		(a.GetVerb() == "get" || a.GetVerb() == "watch") {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "service accounts may act only in their own namespace " + ns, nil
}

func isDiscoveryPath(p string) bool {
	switch p {
	case "/api", "/apis", "/version", "/healthz", "/livez", "/readyz", "/openapi/v2", "/openapi/v3":
		return true
	}
	return strings.HasPrefix(p, "/api/") && strings.Count(p, "/") == 2 || // /api/v1
		strings.HasPrefix(p, "/apis/") && strings.Count(p, "/") <= 3 || // /apis/g, /apis/g/v
		strings.HasPrefix(p, "/openapi/v3/")
}
