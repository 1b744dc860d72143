package imagestreamsecrets

import (
	"context"
	"sort"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/kubernetes"

	"github.com/slipway-dev/slipway/internal/testserver"
)

func nsContext(ns string) context.Context {
	return genericapirequest.WithNamespace(genericapirequest.NewContext(), ns)
}

func TestGetListsPullSecretsOfTheNamespace(t *testing.T) {
	// The secrets live in the kube-apiserver; the storage reads them
	// through a client, as the OpenShift API server does.
	api := testserver.Start(t, testserver.Options{})
	client := kubernetes.NewForConfigOrDie(api.Admin)
	ctx := t.Context()
	for _, ns := range []string{"app", "other"} {
		if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	create := func(ns, name string, typ corev1.SecretType, data map[string][]byte, annotations map[string]string) {
		t.Helper()
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations}, Type: typ, Data: data}
		if _, err := client.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating secret %s: %v", name, err)
		}
	}
	dockercfg := map[string][]byte{corev1.DockerConfigKey: []byte(`{"reg.example.com":{"auth":"dTpw"}}`)}
	dockerjson := map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"reg.example.com":{"auth":"dTpw"}}}`)}
	create("app", "old-style", corev1.SecretTypeDockercfg, dockercfg, nil)
	create("app", "new-style", corev1.SecretTypeDockerConfigJson, dockerjson, nil)
	create("app", "excluded", corev1.SecretTypeDockerConfigJson, dockerjson, map[string]string{imagev1.ExcludeImageSecretAnnotation: "true"})
	create("app", "not-excluded", corev1.SecretTypeDockerConfigJson, dockerjson, map[string]string{imagev1.ExcludeImageSecretAnnotation: "false"})
	create("app", "opaque", corev1.SecretTypeOpaque, map[string][]byte{"config.json": dockerjson[corev1.DockerConfigJsonKey]}, nil)
	create("other", "elsewhere", corev1.SecretTypeDockerConfigJson, dockerjson, nil)

	r := NewREST(FromClient(client.CoreV1()))
	// The stream does not need to exist.
	obj, err := r.Get(nsContext("app"), "missing-stream", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	list, ok := obj.(*corev1.SecretList)
	if !ok {
		t.Fatalf("got %T, want *SecretList", obj)
	}
	var names []string
	for _, s := range list.Items {
		names = append(names, s.Name)
		if len(s.Data) == 0 {
			t.Errorf("secret %s has no data: imports need the credentials", s.Name)
		}
	}
	sort.Strings(names)
	want := []string{"new-style", "not-excluded", "old-style"}
	if len(names) != len(want) {
		t.Fatalf("secrets = %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("secrets = %v, want %v", names, want)
		}
	}
	if gvk := r.GroupVersionKind(imagev1.GroupVersion); gvk.Kind != "SecretList" || gvk.Group != "" || gvk.Version != "v1" {
		t.Errorf("kind = %v, want v1 SecretList", gvk)
	}
}
