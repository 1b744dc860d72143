package imageregistry

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"

	"github.com/slipway-dev/slipway/internal/controller/serviceaccount"
)

// TestServiceAccountPullSecretPushes runs the real service account
// controller against the API server: the builder account's dockercfg
// secret must hold credentials the registry accepts for its namespace.
func TestServiceAccountPullSecretPushes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory := informers.NewSharedInformerFactory(kube, 0)
	core := factory.Core().V1()
	controller := serviceaccount.New(kube, core.Namespaces(), core.ServiceAccounts(), core.Secrets(),
		serviceaccount.WithRegistryHosts(serviceaccount.RegistryHosts(registry.Hostname())))
	factory.Start(ctx.Done())
	go func() { _ = controller.Run(ctx, 1) }()

	createNamespace(t, "withsecrets")
	var dockercfg []byte
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		sa, err := kube.CoreV1().ServiceAccounts("withsecrets").Get(ctx, "builder", metav1.GetOptions{})
		if err != nil || len(sa.ImagePullSecrets) == 0 {
			return false, nil
		}
		secret, err := kube.CoreV1().Secrets("withsecrets").Get(ctx, sa.ImagePullSecrets[0].Name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		if secret.Type != corev1.SecretTypeDockercfg || !strings.HasPrefix(secret.Name, "builder-dockercfg-") {
			t.Fatalf("builder's image pull secret %s has type %s", secret.Name, secret.Type)
		}
		dockercfg = secret.Data[corev1.DockerConfigKey]
		return true, nil
	})
	if err != nil {
		t.Fatalf("builder got no dockercfg secret: %v", err)
	}
	var cfg map[string]struct{ Username, Password string }
	if err := json.Unmarshal(dockercfg, &cfg); err != nil {
		t.Fatal(err)
	}
	entry, ok := cfg[registry.Hostname()]
	if !ok {
		t.Fatalf(".dockercfg has no entry for %s", registry.Hostname())
	}
	auth := remote.WithAuth(&authn.Basic{Username: entry.Username, Password: entry.Password})
	img, _ := random.Image(256, 1)
	// The token secret may reach the API server's authenticator a moment
	// after the controller made it.
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return remote.Write(ref(t, "withsecrets/app:latest"), img, auth) == nil, nil
	})
	if err != nil {
		t.Fatalf("pushing with the builder's dockercfg credentials: %v", remote.Write(ref(t, "withsecrets/app:latest"), img, auth))
	}
	if err := remote.Write(ref(t, "push/app:latest"), img, auth); statusCode(err) != 403 {
		t.Errorf("the builder of withsecrets pushed to another namespace: %v", err)
	}
}
