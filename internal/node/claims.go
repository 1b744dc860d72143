package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubernetes/pkg/volume"
)

// localVolumesDir is where the local provisioner (slipway.dev/local) makes
// its volumes, under the data directory: the only local PersistentVolumes
// this node mounts.
func (a *Agent) localVolumesDir() string { return filepath.Join(a.cfg.DataDir, "volumes") }

// linkClaim resolves the pod's claim to the directory of the volume bound
// to it and records it as link, a symlink in the pod's volumes directory
// that the container's mount (or a host process) goes through. A claim
// not bound yet is an error: the sync is retried and the pod waits, as on
// a kubelet. With the pod's fsGroup, the volume's files are given to
// that group first, as the kubelet does.
func (a *Agent) linkClaim(ctx context.Context, pod *corev1.Pod, src *corev1.PersistentVolumeClaimVolumeSource, link string) error {
	dir, err := a.claimDir(ctx, pod.Namespace, src.ClaimName)
	if err != nil {
		return err
	}
	if sc := pod.Spec.SecurityContext; sc != nil && sc.FSGroup != nil {
		owner := volume.NewVolumeOwnership(ownershipMounter{readOnly: src.ReadOnly}, dir, sc.FSGroup, sc.FSGroupChangePolicy, nil)
		if err := owner.ChangePermissions(); err != nil {
			return fmt.Errorf("giving the volume to fsGroup %d: %w", *sc.FSGroup, err)
		}
	}
	if current, err := os.Readlink(link); err == nil && current == dir {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		return err
	}
	// RemoveAll does not follow a link: only the old link goes.
	if err := os.RemoveAll(link); err != nil {
		return err
	}
	return os.Symlink(dir, link)
}

// claimDir is the host directory of the volume bound to claim name: a
// local volume inside localVolumesDir, or a hostPath volume (a
// PersistentVolume is made by an administrator or the provisioner, never
// by a project's user).
func (a *Agent) claimDir(ctx context.Context, namespace, name string) (string, error) {
	pvc, err := readForPod(ctx, a.client.CoreV1().PersistentVolumeClaims(namespace).Get, name)
	if err != nil {
		return "", fmt.Errorf("persistent volume claim %q: %w", name, err)
	}
	if pvc.DeletionTimestamp != nil {
		return "", fmt.Errorf("persistent volume claim %q is being deleted", name)
	}
	if pvc.Status.Phase != corev1.ClaimBound || pvc.Spec.VolumeName == "" {
		return "", fmt.Errorf("persistent volume claim %q is not bound", name)
	}
	pv, err := a.client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("persistent volume %q of claim %q: %w", pvc.Spec.VolumeName, name, err)
	}
	if ref := pv.Spec.ClaimRef; ref == nil || ref.UID != pvc.UID {
		return "", fmt.Errorf("persistent volume %q is not bound to claim %q", pv.Name, name)
	}
	var dir string
	switch {
	case pv.Spec.Local != nil:
		dir = pv.Spec.Local.Path
		if !insideDir(a.localVolumesDir(), dir) {
			return "", fmt.Errorf("persistent volume %q: local path %s is outside %s, where this node's volumes are", pv.Name, dir, a.localVolumesDir())
		}
	case pv.Spec.HostPath != nil:
		dir = pv.Spec.HostPath.Path
		if !filepath.IsAbs(dir) {
			return "", fmt.Errorf("persistent volume %q: host path %q is not absolute", pv.Name, dir)
		}
		if t := pv.Spec.HostPath.Type; t != nil && *t == corev1.HostPathDirectoryOrCreate {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return "", fmt.Errorf("persistent volume %q: %w", pv.Name, err)
			}
		}
	default:
		return "", fmt.Errorf("persistent volume %q: only local and hostPath volumes can be mounted on this node", pv.Name)
	}
	dir = filepath.Clean(dir)
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("persistent volume %q: %w", pv.Name, err)
	}
	return dir, nil
}

// insideDir tells whether path, cleaned, is strictly below root.
func insideDir(root, path string) bool {
	if !filepath.IsAbs(path) {
		return false
	}
	rel, err := filepath.Rel(filepath.Clean(root), filepath.Clean(path))
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../")
}

// mountSource is the host path container c's i-th mount m binds: the
// volume's directory in the pod's, or for a claim the directory its link
// names. A subPath is opened inside that directory through no link out of
// it (its content is the containers' to write: an init container may have
// left `x -> /` there), made when missing as the kubelet does, and what
// was opened is bound at a path of the pod's own (files.subPath), which
// the runtime then mounts: a link swapped in after the check changes
// nothing.
func mountSource(files podFiles, c string, i int, m corev1.VolumeMount) (string, error) {
	root := files.volume(m.Name)
	if target, err := os.Readlink(root); err == nil {
		root = target
	}
	if m.SubPath == "" {
		return root, nil
	}
	target := files.subPath(c, i)
	if err := bindSubPath(root, m.SubPath, target); err != nil {
		return "", fmt.Errorf("subPath %q: %w", m.SubPath, err)
	}
	return target, nil
}

// bindSubPath opens subPath inside root (creating it as a directory when
// missing) and bind-mounts the opened file or directory at target.
func bindSubPath(root, subPath, target string) error {
	rootDir, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer rootDir.Close()
	opened, err := pathrs.OpenatInRoot(rootDir, subPath)
	if errors.Is(err, os.ErrNotExist) {
		opened, err = pathrs.MkdirAllHandle(rootDir, subPath, 0o755)
	}
	if err != nil {
		return err
	}
	defer opened.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(opened.Fd()), &st); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return err
	}
	// A restarted container binds again: what an earlier start left goes.
	_ = unix.Unmount(target, unix.MNT_DETACH)
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = os.MkdirAll(target, 0o700)
	} else {
		var f *os.File
		if f, err = os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			err = f.Close()
		}
	}
	if err != nil {
		return err
	}
	return unix.Mount(fmt.Sprintf("/proc/self/fd/%d", opened.Fd()), target, "", unix.MS_BIND, "")
}

// unmountSubPaths undoes bindSubPath's mounts in the pod directory dir:
// before the directory is removed (a bind of a claim's directory would
// otherwise be emptied with it) and when the pod ends.
func unmountSubPaths(dir string) error {
	subPaths := podFiles(dir).subPaths()
	entries, err := os.ReadDir(subPaths)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(subPaths, e.Name())
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("unmounting %s: %w", p, err)
		}
	}
	return nil
}

// removePodDir removes a pod's directory, its subPath binds unmounted first.
func removePodDir(dir string) error {
	if err := unmountSubPaths(dir); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// ownershipMounter is what the kubelet's volume ownership change asks of
// a mounter: whether the volume is mounted read-only.
type ownershipMounter struct {
	volume.Mounter
	readOnly bool
}

func (m ownershipMounter) GetAttributes() volume.Attributes {
	return volume.Attributes{ReadOnly: m.readOnly}
}
