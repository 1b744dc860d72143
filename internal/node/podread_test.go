package node

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// readForPod asks the watch cache first and etcd only for what the cache
// lacks, against a real API server.
func TestReadForPod(t *testing.T) {
	api := startAPI(t)
	ctx := context.Background()
	secrets := api.client.CoreV1().Secrets(api.ns)
	var asked []string
	get := func(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Secret, error) {
		asked = append(asked, opts.ResourceVersion)
		return secrets.Get(ctx, name, opts)
	}

	created, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "push"}, Data: map[string][]byte{"k": []byte("v1")}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Once the watch cache has the secret, one cached read does.
	err = wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		s, err := secrets.Get(ctx, "push", metav1.GetOptions{ResourceVersion: "0"})
		return err == nil && s.ResourceVersion == created.ResourceVersion, nil
	})
	if err != nil {
		t.Fatalf("the watch cache never had the secret: %v", err)
	}
	s, err := readForPod(ctx, get, "push")
	if err != nil || string(s.Data["k"]) != "v1" {
		t.Fatalf("readForPod = %v, %v; want the secret", s, err)
	}
	if len(asked) != 1 || asked[0] != "0" {
		t.Errorf("reads of a cached secret: resourceVersions %q, want one from the cache (\"0\")", asked)
	}

	// What the cache does not have is asked of etcd before it is missing.
	asked = nil
	if _, err := readForPod(ctx, get, "nope"); !apierrors.IsNotFound(err) {
		t.Fatalf("readForPod of a missing secret: %v, want NotFound", err)
	}
	if len(asked) != 2 || asked[0] != "0" || asked[1] != "" {
		t.Errorf("reads of a missing secret: resourceVersions %q, want the cache's then etcd's (\"0\", \"\")", asked)
	}
}
