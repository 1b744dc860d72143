package imageregistry

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestMayAccess(t *testing.T) {
	tests := []struct {
		name      string
		id        *Identity
		namespace string
		want      bool
	}{
		{"admin anywhere", &Identity{Username: "system:admin", Groups: []string{"system:masters"}}, "any", true},
		{"service account at home", &Identity{Username: "system:serviceaccount:proj:builder"}, "proj", true},
		{"service account elsewhere", &Identity{Username: "system:serviceaccount:proj:builder"}, "other", false},
		{"service account, namespace prefix", &Identity{Username: "system:serviceaccount:proj:builder"}, "proj2", false},
		{"other user", &Identity{Username: "alice", Groups: []string{"system:authenticated"}}, "proj", false},
		{"nobody", nil, "proj", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.id.MayAccess(tt.namespace); got != tt.want {
				t.Errorf("MayAccess(%q) = %v, want %v", tt.namespace, got, tt.want)
			}
		})
	}
}

func TestSplitRepository(t *testing.T) {
	tests := []struct {
		repo, namespace, stream string
		ok                      bool
	}{
		{"proj/app", "proj", "app", true},
		{"app", "", "", false},
		{"proj/app/extra", "", "", false},
		{"/app", "", "", false},
		{"proj/", "", "", false},
	}
	for _, tt := range tests {
		ns, stream, ok := SplitRepository(tt.repo)
		if ns != tt.namespace || stream != tt.stream || ok != tt.ok {
			t.Errorf("SplitRepository(%q) = %q, %q, %v; want %q, %q, %v", tt.repo, ns, stream, ok, tt.namespace, tt.stream, tt.ok)
		}
	}
}

func TestTokenReviewsAreCached(t *testing.T) {
	createNamespace(t, "cache")
	token := serviceAccountToken(t, "cache", "builder")
	reviewer, err := NewTokenReviewer(api.Admin)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	reviewer.now = func() time.Time { return now }
	ctx := context.Background()
	id, err := reviewer.Review(ctx, token)
	if err != nil || id == nil || id.Username != "system:serviceaccount:cache:builder" {
		t.Fatalf("Review = %+v, %v", id, err)
	}
	if err := kube.CoreV1().Secrets("cache").Delete(ctx, "builder-token-test", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if id, err := reviewer.ask(ctx, token); err == nil && id == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the API server still accepts a deleted token")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if id, _ := reviewer.Review(ctx, token); id == nil {
		t.Error("a review within a minute was not answered from the cache")
	}
	now = now.Add(validTokenTTL + time.Second)
	if id, err := reviewer.Review(ctx, token); err != nil || id != nil {
		t.Errorf("after the cache expired Review = %+v, %v; want the token refused", id, err)
	}
}

func TestPushFailsWhenTheImageStreamCannotBeUpdated(t *testing.T) {
	// The namespace does not exist, so the API refuses the mapping: the
	// push must fail with the reason, and the tag must not exist.
	img, _ := random.Image(128, 1)
	err := remote.Write(ref(t, "nosuchproject/app:latest"), img, basic(api.AdminToken))
	if err == nil {
		t.Fatal("push into a missing namespace succeeded")
	}
	if statusCode(err) != http.StatusForbidden || !strings.Contains(err.Error(), "nosuchproject") {
		t.Errorf("push failed with %d %v, want 403 DENIED naming the namespace", statusCode(err), err)
	}
	if _, err := remote.Head(ref(t, "nosuchproject/app:latest"), basic(api.AdminToken)); statusCode(err) != http.StatusNotFound {
		t.Errorf("HEAD of the refused tag: %v, want 404", err)
	}
}
