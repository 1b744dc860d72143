package node

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	resourcehelper "k8s.io/kubernetes/pkg/api/v1/resource"
	"k8s.io/kubernetes/pkg/fieldpath"
)

// podFiles is the layout of one pod's directory on this machine.
type podFiles string

func (d podFiles) volume(name string) string { return filepath.Join(string(d), "volumes", name) }
func (d podFiles) work() string              { return filepath.Join(string(d), "work") }
func (d podFiles) home() string              { return filepath.Join(string(d), "home") }
func (d podFiles) terminationLog() string    { return filepath.Join(string(d), "termination-log") }
func (d podFiles) pidFile() string           { return filepath.Join(string(d), "pid") }
func (d podFiles) subPaths() string          { return filepath.Join(string(d), "subpaths") }

// subPath is where container c's i-th mount's subPath is bound.
func (d podFiles) subPath(c string, i int) string {
	return filepath.Join(d.subPaths(), fmt.Sprintf("%s-%d", c, i))
}

// removeSecrets deletes the pod's copies of secrets (volumes, tokens) once
// nothing runs that could read them.
func (d podFiles) removeSecrets() error {
	return os.RemoveAll(filepath.Join(string(d), "volumes"))
}

// serviceAccountMountPath is where pods find their service account token:
// the ServiceAccount admission plugin mounts the pod's kube-api-access
// projected volume there.
const serviceAccountMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"

// serviceAccountDir is the host directory holding what container c sees
// at serviceAccountMountPath (token, ca.crt, namespace), or "" when
// nothing is mounted there (automountServiceAccountToken: false).
func serviceAccountDir(c *corev1.Container, files podFiles) string {
	for _, m := range c.VolumeMounts {
		if strings.TrimSuffix(m.MountPath, "/") == serviceAccountMountPath {
			dir := files.volume(m.Name)
			if m.SubPath != "" {
				dir = filepath.Join(dir, filepath.Clean("/"+m.SubPath))
			}
			return dir
		}
	}
	return ""
}

// tokenRefreshAfter is the share of a projected token's lifetime after
// which it is requested again, the kubelet's.
const tokenRefreshAfter = 0.8

// volumeRefresh collects, while a pod's volumes are written, the earliest
// time one of them must be written again (a token's 80%).
type volumeRefresh struct {
	mu sync.Mutex
	at time.Time
}

func (r *volumeRefresh) add(t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.at.IsZero() || t.Before(r.at) {
		r.at = t
	}
}

// materializeVolumes writes the pod's secret, config map, projected and
// downward API volumes and creates its emptyDirs under the pod directory;
// it returns when a projected token in them must be renewed (zero when
// none). A missing secret or config map that is not optional is an error:
// the pod waits, as on a kubelet.
func (a *Agent) materializeVolumes(ctx context.Context, pod *corev1.Pod, files podFiles) (time.Time, error) {
	return a.writeVolumes(ctx, pod, files, func(corev1.Volume) bool { return true })
}

// refreshTokenVolumes writes again the pod's volumes that hold a projected
// service account token, with new tokens.
func (a *Agent) refreshTokenVolumes(ctx context.Context, pod *corev1.Pod, files podFiles) (time.Time, error) {
	return a.writeVolumes(ctx, pod, files, func(v corev1.Volume) bool {
		if v.Projected == nil {
			return false
		}
		for _, src := range v.Projected.Sources {
			if src.ServiceAccountToken != nil {
				return true
			}
		}
		return false
	})
}

func (a *Agent) writeVolumes(ctx context.Context, pod *corev1.Pod, files podFiles, selected func(corev1.Volume) bool) (time.Time, error) {
	// One API read per volume, side by side: a build pod has two or three
	// secrets and its token and waits for all of them before it starts.
	refresh := &volumeRefresh{}
	g, gctx := errgroup.WithContext(ctx)
	for _, v := range pod.Spec.Volumes {
		if !selected(v) {
			continue
		}
		dir := files.volume(v.Name)
		if v.PersistentVolumeClaim != nil {
			g.Go(func() error {
				if err := a.linkClaim(gctx, pod, v.PersistentVolumeClaim, dir); err != nil {
					return fmt.Errorf("volume %q: %w", v.Name, err)
				}
				return nil
			})
			continue
		}
		mode := os.FileMode(0o755)
		if v.EmptyDir != nil {
			// Writable by whatever user the containers run as, as the
			// kubelet makes it.
			mode = 0o777
		}
		if err := os.MkdirAll(dir, mode); err != nil {
			return time.Time{}, err
		}
		if err := os.Chmod(dir, mode); err != nil {
			return time.Time{}, err
		}
		g.Go(func() error {
			if err := a.materializeVolume(gctx, pod, v, dir, refresh); err != nil {
				return fmt.Errorf("volume %q: %w", v.Name, err)
			}
			return nil
		})
	}
	err := g.Wait()
	return refresh.at, err
}

// volumeFile is one file of a volume: its content and mode.
type volumeFile struct {
	data []byte
	mode os.FileMode
}

// materializeVolume writes volume v of pod into dir.
func (a *Agent) materializeVolume(ctx context.Context, pod *corev1.Pod, v corev1.Volume, dir string, refresh *volumeRefresh) error {
	out := map[string]volumeFile{}
	var err error
	switch {
	case v.Secret != nil:
		err = a.secretFiles(ctx, pod.Namespace, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional, v.Secret.DefaultMode, out)
	case v.ConfigMap != nil:
		err = a.configMapFiles(ctx, pod.Namespace, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional, v.ConfigMap.DefaultMode, out)
	case v.DownwardAPI != nil:
		err = a.downwardAPIFiles(pod, v.DownwardAPI.Items, v.DownwardAPI.DefaultMode, out)
	case v.Projected != nil:
		err = a.projectedFiles(ctx, pod, v.Projected, out, refresh)
	case v.EmptyDir != nil:
		// The directory is the volume.
		return nil
	default:
		return errors.New("only secret, configMap, projected, downwardAPI, emptyDir and persistentVolumeClaim volumes are supported")
	}
	if err != nil {
		return err
	}
	return writeFiles(dir, out)
}

// fileMode is the mode of a volume's file: the item's, else the volume's
// default, else 0644 (the API server's default for these volumes).
func fileMode(item, defaultMode *int32) os.FileMode {
	switch {
	case item != nil:
		return os.FileMode(*item) & os.ModePerm
	case defaultMode != nil:
		return os.FileMode(*defaultMode) & os.ModePerm
	}
	return 0o644
}

func optional(b *bool) bool { return b != nil && *b }

// keyFiles adds data to out, each key as a file named after it, or only
// the keys items selects, at their paths.
func keyFiles(data map[string][]byte, items []corev1.KeyToPath, optionalKeys bool, defaultMode *int32, out map[string]volumeFile) error {
	if len(items) == 0 {
		for k, b := range data {
			out[k] = volumeFile{data: b, mode: fileMode(nil, defaultMode)}
		}
		return nil
	}
	for _, item := range items {
		b, ok := data[item.Key]
		if !ok {
			if optionalKeys {
				continue
			}
			return fmt.Errorf("key %q not found", item.Key)
		}
		out[item.Path] = volumeFile{data: b, mode: fileMode(item.Mode, defaultMode)}
	}
	return nil
}

func (a *Agent) secretFiles(ctx context.Context, namespace, name string, items []corev1.KeyToPath, opt *bool, defaultMode *int32, out map[string]volumeFile) error {
	secret, err := readForPod(ctx, a.client.CoreV1().Secrets(namespace).Get, name)
	if apierrors.IsNotFound(err) && optional(opt) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("secret %q: %w", name, err)
	}
	return keyFiles(secret.Data, items, optional(opt), defaultMode, out)
}

func (a *Agent) configMapFiles(ctx context.Context, namespace, name string, items []corev1.KeyToPath, opt *bool, defaultMode *int32, out map[string]volumeFile) error {
	cm, err := readForPod(ctx, a.client.CoreV1().ConfigMaps(namespace).Get, name)
	if apierrors.IsNotFound(err) && optional(opt) {
		return nil
	}
	if err != nil {
		// kube-root-ca.crt, in every pod's token volume, is published in
		// a new namespace by kube-controller-manager a moment after the
		// namespace: the sync is retried until it is there.
		return fmt.Errorf("config map %q: %w", name, err)
	}
	data := map[string][]byte{}
	for k, s := range cm.Data {
		data[k] = []byte(s)
	}
	for k, b := range cm.BinaryData {
		data[k] = b
	}
	return keyFiles(data, items, optional(opt), defaultMode, out)
}

// downwardAPIFiles adds the pod's fields and its containers' resources
// the items name.
func (a *Agent) downwardAPIFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, defaultMode *int32, out map[string]volumeFile) error {
	for _, item := range items {
		var value string
		var err error
		switch {
		case item.FieldRef != nil:
			value, err = fieldpath.ExtractFieldPathAsString(pod, item.FieldRef.FieldPath)
		case item.ResourceFieldRef != nil:
			value, err = resourcehelper.ExtractResourceValueByContainerNameAndNodeAllocatable(
				item.ResourceFieldRef, pod, item.ResourceFieldRef.ContainerName, a.allocatable())
		default:
			err = errors.New("neither fieldRef nor resourceFieldRef")
		}
		if err != nil {
			return fmt.Errorf("downward API item %q: %w", item.Path, err)
		}
		out[item.Path] = volumeFile{data: []byte(value), mode: fileMode(item.Mode, defaultMode)}
	}
	return nil
}

// projectedFiles adds the sources of a projected volume: secrets, config
// maps, downward API items and service account tokens. The sources are
// read side by side (a pod's token volume asks for a token and reads
// kube-root-ca.crt) and added in their order.
func (a *Agent) projectedFiles(ctx context.Context, pod *corev1.Pod, p *corev1.ProjectedVolumeSource, out map[string]volumeFile, refresh *volumeRefresh) error {
	parts := make([]map[string]volumeFile, len(p.Sources))
	g, gctx := errgroup.WithContext(ctx)
	for i, src := range p.Sources {
		part := map[string]volumeFile{}
		parts[i] = part
		g.Go(func() error {
			switch {
			case src.Secret != nil:
				return a.secretFiles(gctx, pod.Namespace, src.Secret.Name, src.Secret.Items, src.Secret.Optional, p.DefaultMode, part)
			case src.ConfigMap != nil:
				return a.configMapFiles(gctx, pod.Namespace, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, p.DefaultMode, part)
			case src.DownwardAPI != nil:
				return a.downwardAPIFiles(pod, src.DownwardAPI.Items, p.DefaultMode, part)
			case src.ServiceAccountToken != nil:
				token, renew, err := a.requestToken(gctx, pod, src.ServiceAccountToken)
				if err != nil {
					return err
				}
				part[src.ServiceAccountToken.Path] = volumeFile{data: token, mode: fileMode(nil, p.DefaultMode)}
				refresh.add(renew)
				return nil
			}
			return errors.New("only secret, configMap, downwardAPI and serviceAccountToken projections are supported")
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, part := range parts {
		maps.Copy(out, part)
	}
	return nil
}

// requestToken asks the TokenRequest API for a token of the pod's service
// account bound to the pod (it stops working when the pod is deleted),
// with the audience and lifetime the projection asks for; renew is when
// tokenRefreshAfter of its lifetime has passed.
func (a *Agent) requestToken(ctx context.Context, pod *corev1.Pod, p *corev1.ServiceAccountTokenProjection) (token []byte, renew time.Time, err error) {
	account := pod.Spec.ServiceAccountName
	if account == "" {
		account = "default"
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: p.ExpirationSeconds,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID},
	}}
	if p.Audience != "" {
		req.Spec.Audiences = []string{p.Audience}
	}
	issued := time.Now()
	resp, err := a.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, account, req, metav1.CreateOptions{})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("token of service account %q: %w", account, err)
	}
	lifetime := resp.Status.ExpirationTimestamp.Sub(issued)
	if lifetime <= 0 {
		lifetime = time.Hour
	}
	return []byte(resp.Status.Token), issued.Add(time.Duration(float64(lifetime) * tokenRefreshAfter)), nil
}

// writeFiles writes files into dir at their relative paths, each replaced
// in one step (a new file renamed over the old) so that a reader never
// sees half a token.
func writeFiles(dir string, files map[string]volumeFile) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for rel, f := range files {
		clean := filepath.Clean(rel)
		if filepath.IsAbs(clean) || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
			return fmt.Errorf("path %q leaves the volume", rel)
		}
		if parent := filepath.Dir(clean); parent != "." {
			if err := root.MkdirAll(parent, 0o755); err != nil {
				return err
			}
		}
		tmp := filepath.Join(filepath.Dir(clean), "."+filepath.Base(clean)+".tmp")
		w, err := root.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, f.mode)
		if err != nil {
			return err
		}
		_, err = w.Write(f.data)
		err = errors.Join(err, w.Chmod(f.mode), w.Close())
		if err == nil {
			err = root.Rename(tmp, clean)
		}
		if err != nil {
			_ = root.Remove(tmp)
			return fmt.Errorf("writing %s: %w", rel, err)
		}
	}
	return nil
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
