package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podFiles is the layout of one pod's directory on this machine.
type podFiles string

func (d podFiles) volume(name string) string { return filepath.Join(string(d), "volumes", name) }
func (d podFiles) serviceAccount() string    { return filepath.Join(string(d), "serviceaccount") }
func (d podFiles) work() string              { return filepath.Join(string(d), "work") }
func (d podFiles) home() string              { return filepath.Join(string(d), "home") }
func (d podFiles) terminationLog() string    { return filepath.Join(string(d), "termination-log") }
func (d podFiles) pidFile() string           { return filepath.Join(string(d), "pid") }

// removeSecrets deletes the pod's copies of secrets (volumes, token) once
// nothing runs that could read them.
func (d podFiles) removeSecrets() error {
	return errors.Join(os.RemoveAll(filepath.Join(string(d), "volumes")), os.RemoveAll(d.serviceAccount()))
}

// materializeVolumes writes the pod's secret and config map volumes and
// creates its emptyDirs under the pod directory. A missing secret or config
// map that is not optional is an error: the pod waits, as on a kubelet.
func (a *Agent) materializeVolumes(ctx context.Context, pod *corev1.Pod, files podFiles) error {
	// One API read per volume, side by side: a build pod has two or three
	// secrets and waits for all of them before it starts.
	g, gctx := errgroup.WithContext(ctx)
	for _, v := range pod.Spec.Volumes {
		dir := files.volume(v.Name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		g.Go(func() error { return a.materializeVolume(gctx, pod.Namespace, v, dir) })
	}
	return g.Wait()
}

// materializeVolume writes volume v into dir.
func (a *Agent) materializeVolume(ctx context.Context, namespace string, v corev1.Volume, dir string) error {
	switch {
	case v.Secret != nil:
		secret, err := readForPod(ctx, a.client.CoreV1().Secrets(namespace).Get, v.Secret.SecretName)
		if apierrors.IsNotFound(err) && v.Secret.Optional != nil && *v.Secret.Optional {
			return nil
		}
		if err != nil {
			return fmt.Errorf("volume %q: secret %q: %w", v.Name, v.Secret.SecretName, err)
		}
		if err := writeKeys(dir, secret.Data, v.Secret.Items); err != nil {
			return fmt.Errorf("volume %q: %w", v.Name, err)
		}
	case v.ConfigMap != nil:
		cm, err := readForPod(ctx, a.client.CoreV1().ConfigMaps(namespace).Get, v.ConfigMap.Name)
		if apierrors.IsNotFound(err) && v.ConfigMap.Optional != nil && *v.ConfigMap.Optional {
			return nil
		}
		if err != nil {
			return fmt.Errorf("volume %q: config map %q: %w", v.Name, v.ConfigMap.Name, err)
		}
		data := map[string][]byte{}
		for k, s := range cm.Data {
			data[k] = []byte(s)
		}
		for k, b := range cm.BinaryData {
			data[k] = b
		}
		if err := writeKeys(dir, data, v.ConfigMap.Items); err != nil {
			return fmt.Errorf("volume %q: %w", v.Name, err)
		}
	case v.EmptyDir != nil:
		// The directory is the volume.
	default:
		return fmt.Errorf("volume %q: only secret, configMap and emptyDir volumes are supported", v.Name)
	}
	return nil
}

// writeKeys writes data into dir, one 0600 file per key, or only the keys
// items selects, at their paths.
func writeKeys(dir string, data map[string][]byte, items []corev1.KeyToPath) error {
	paths := map[string]string{}
	if len(items) == 0 {
		for k := range data {
			paths[k] = k
		}
	}
	for _, item := range items {
		if _, ok := data[item.Key]; !ok {
			return fmt.Errorf("key %q not found", item.Key)
		}
		paths[item.Key] = item.Path
	}
	for key, rel := range paths {
		clean := filepath.Clean(rel)
		if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			return fmt.Errorf("path %q leaves the volume", rel)
		}
		target := filepath.Join(dir, clean)
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(target, data[key], 0o600); err != nil {
			return err
		}
	}
	return nil
}

// materializeServiceAccount writes the token secret of the pod's service
// account as token, ca.crt and namespace; false when the pod opted out.
func (a *Agent) materializeServiceAccount(ctx context.Context, pod *corev1.Pod, files podFiles) (bool, error) {
	if pod.Spec.AutomountServiceAccountToken != nil && !*pod.Spec.AutomountServiceAccountToken {
		return false, nil
	}
	name := pod.Spec.ServiceAccountName
	if name == "" {
		name = "default"
	}
	secret, err := a.serviceAccountToken(ctx, pod.Namespace, name)
	if err != nil {
		return false, err
	}
	dir := files.serviceAccount()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, err
	}
	data := map[string][]byte{
		corev1.ServiceAccountTokenKey:     secret.Data[corev1.ServiceAccountTokenKey],
		corev1.ServiceAccountRootCAKey:    secret.Data[corev1.ServiceAccountRootCAKey],
		corev1.ServiceAccountNamespaceKey: []byte(pod.Namespace),
	}
	return true, writeKeys(dir, data, nil)
}

// serviceAccountToken finds the token secret of a service account: one it
// references, else any secret annotated with its name.
func (a *Agent) serviceAccountToken(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	sa, err := readForPod(ctx, a.client.CoreV1().ServiceAccounts(namespace).Get, name)
	if err != nil {
		return nil, fmt.Errorf("service account %q: %w", name, err)
	}
	isToken := func(s *corev1.Secret) bool {
		return s.Type == corev1.SecretTypeServiceAccountToken && s.Annotations[corev1.ServiceAccountNameKey] == name &&
			len(s.Data[corev1.ServiceAccountTokenKey]) > 0
	}
	// Token secrets are named <account>-token-<suffix> by the service
	// account controller: those first, the pull secrets the account also
	// lists (dockercfg, linked ones) after, so one GET usually does.
	refs := append([]corev1.ObjectReference(nil), sa.Secrets...)
	sort.SliceStable(refs, func(i, j int) bool {
		return strings.HasPrefix(refs[i].Name, name+"-token-") && !strings.HasPrefix(refs[j].Name, name+"-token-")
	})
	for _, ref := range refs {
		s, err := readForPod(ctx, a.client.CoreV1().Secrets(namespace).Get, ref.Name)
		if err == nil && isToken(s) {
			return s, nil
		}
	}
	// Secrets are not selectable by type here, so filter the whole list.
	list, err := a.client.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing token secrets of %q: %w", namespace, err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	for i := range list.Items {
		if isToken(&list.Items[i]) {
			return &list.Items[i], nil
		}
	}
	return nil, fmt.Errorf("service account %q has no token secret yet", name)
}

// rewriteVolumePaths maps an env value naming a path inside a volume mount
// to the same path in the volume's host directory: a host process sees the
// host's file system, not the pod's mounts.
func rewriteVolumePaths(value string, mounts []corev1.VolumeMount, files podFiles) string {
	// Longest mount path first, so /a/b wins over /a.
	sorted := append([]corev1.VolumeMount(nil), mounts...)
	sort.Slice(sorted, func(i, j int) bool { return len(sorted[i].MountPath) > len(sorted[j].MountPath) })
	for _, m := range sorted {
		mp := strings.TrimSuffix(m.MountPath, "/")
		if mp == "" {
			continue
		}
		if value == mp || strings.HasPrefix(value, mp+"/") {
			host := files.volume(m.Name)
			if m.SubPath != "" {
				host = filepath.Join(host, m.SubPath)
			}
			return host + strings.TrimPrefix(value, mp)
		}
	}
	return value
}
