package apiserver

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/kubernetes"
)

// systemNamespaces exist on every Slipway, as on a Kubernetes cluster.
var systemNamespaces = []string{"default", "kube-system", "kube-public", "openshift"}

func ensureSystemNamespaces(client kubernetes.Interface) genericapiserver.PostStartHookFunc {
	return func(hook genericapiserver.PostStartHookContext) error {
		ctx, cancel := context.WithTimeout(hook, time.Minute)
		defer cancel()
		for _, name := range systemNamespaces {
			err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
				_, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
				if err == nil || apierrors.IsAlreadyExists(err) {
					return true, nil
				}
				// The server may not serve yet right after start: retry.
				return false, nil
			})
			if err != nil {
				return fmt.Errorf("creating namespace %s: %w", name, err)
			}
		}
		return nil
	}
}
