package auth

import (
	"context"
	"net/http/httptest"
	"testing"

	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

func TestAuthorizer(t *testing.T) {
	admin := &user.DefaultInfo{Name: AdminUser, Groups: []string{user.SystemPrivilegedGroup}}
	builder := serviceaccount.UserInfo("proj", "builder", "uid")
	cases := []struct {
		name  string
		attrs authorizer.AttributesRecord
		want  authorizer.Decision
	}{
		{"admin anywhere", authorizer.AttributesRecord{User: admin, Verb: "delete", Namespace: "other", Resource: "secrets", ResourceRequest: true}, authorizer.DecisionAllow},
		{"admin cluster scope", authorizer.AttributesRecord{User: admin, Verb: "create", Resource: "namespaces", ResourceRequest: true}, authorizer.DecisionAllow},
		{"sa own namespace", authorizer.AttributesRecord{User: builder, Verb: "update", Namespace: "proj", APIGroup: "build.openshift.io", Resource: "builds", Subresource: "details", ResourceRequest: true}, authorizer.DecisionAllow},
		{"sa other namespace", authorizer.AttributesRecord{User: builder, Verb: "get", Namespace: "other", Resource: "secrets", ResourceRequest: true}, authorizer.DecisionNoOpinion},
		{"sa cluster-scoped list", authorizer.AttributesRecord{User: builder, Verb: "list", Resource: "namespaces", ResourceRequest: true}, authorizer.DecisionNoOpinion},
		{"sa get own namespace", authorizer.AttributesRecord{User: builder, Verb: "get", Resource: "namespaces", Name: "proj", ResourceRequest: true}, authorizer.DecisionAllow},
		{"sa delete own namespace", authorizer.AttributesRecord{User: builder, Verb: "delete", Resource: "namespaces", Name: "proj", ResourceRequest: true}, authorizer.DecisionNoOpinion},
		{"sa images (cluster scoped)", authorizer.AttributesRecord{User: builder, Verb: "create", APIGroup: "image.openshift.io", Resource: "images", ResourceRequest: true}, authorizer.DecisionNoOpinion},
		{"sa discovery", authorizer.AttributesRecord{User: builder, Verb: "get", Path: "/apis/build.openshift.io/v1"}, authorizer.DecisionAllow},
		{"sa metrics", authorizer.AttributesRecord{User: builder, Verb: "get", Path: "/metrics"}, authorizer.DecisionNoOpinion},
		{"sa whoami", authorizer.AttributesRecord{User: builder, Verb: "create", APIGroup: "authentication.k8s.io", Resource: "selfsubjectreviews", ResourceRequest: true}, authorizer.DecisionAllow},
		{"anonymous webhook", authorizer.AttributesRecord{User: &user.DefaultInfo{Name: user.Anonymous}, Verb: "create", Namespace: "p", APIGroup: "build.openshift.io", Resource: "buildconfigs", Subresource: "webhooks", Name: "time", ResourceRequest: true}, authorizer.DecisionAllow},
		{"anonymous instantiate", authorizer.AttributesRecord{User: &user.DefaultInfo{Name: user.Anonymous}, Verb: "create", Namespace: "p", APIGroup: "build.openshift.io", Resource: "buildconfigs", Subresource: "instantiate", Name: "time", ResourceRequest: true}, authorizer.DecisionNoOpinion},
		{"anonymous discovery", authorizer.AttributesRecord{User: &user.DefaultInfo{Name: user.Anonymous}, Verb: "get", Path: "/api"}, authorizer.DecisionNoOpinion},
		{"plain user", authorizer.AttributesRecord{User: &user.DefaultInfo{Name: "bob"}, Verb: "get", Namespace: "proj", Resource: "pods", ResourceRequest: true}, authorizer.DecisionNoOpinion},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, _, err := Authorizer{}.Authorize(context.Background(), c.attrs)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("decision %v, want %v", got, c.want)
			}
		})
	}
}

func TestWebhookAnonymous(t *testing.T) {
	for path, want := range map[string]bool{
		"/apis/build.openshift.io/v1/namespaces/p/buildconfigs/time/webhooks/s3cr3t/generic": true,
		"/apis/build.openshift.io/v1/namespaces/p/buildconfigs/time/instantiate":             false,
		"/api/v1/namespaces/p/secrets":                          false,
		"/apis/build.openshift.io/v1/namespaces/p/buildconfigs": false,
	} {
		req := httptest.NewRequest("POST", path, nil)
		_, ok, _ := WebhookAnonymous{}.AuthenticateRequest(req)
		if ok != want {
			t.Errorf("%s: authenticated %v, want %v", path, ok, want)
		}
	}
	req := httptest.NewRequest("POST", "/apis/build.openshift.io/v1/namespaces/p/buildconfigs/time/webhooks/s/generic", nil)
	req.Header.Set("Authorization", "Bearer bad")
	if _, ok, _ := (WebhookAnonymous{}).AuthenticateRequest(req); ok {
		t.Error("a request with a (bad) token must not fall back to anonymous")
	}
}
