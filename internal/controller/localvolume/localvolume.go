// Package localvolume provisions PersistentVolumes as directories on this
// machine: a claim of a StorageClass whose provisioner is ProvisionerName
// gets a local PersistentVolume at <root>/<pv-name>, pinned to the node,
// and the directory goes when the volume is released (reclaim policy
// Delete). The controller is sig-storage-lib-external-provisioner's; this
// package is only its Provisioner.
package localvolume

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/sig-storage-lib-external-provisioner/v13/controller"
)

// ProvisionerName is the provisioner of the StorageClasses this package
// serves.
const ProvisionerName = "slipway.dev/local"

// hostnameLabel is the Node label a local volume's node affinity matches:
// the kubelet sets it to the node's name.
const hostnameLabel = "kubernetes.io/hostname"

// Volumes is the directory holding one subdirectory per provisioned
// volume, and the node they are on.
type Volumes struct {
	root string
	node string
}

// Open makes root (mode 0700) if it is missing and returns the volumes in
// it, on node.
func Open(root, node string) (*Volumes, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("volumes root: %w", err)
	}
	return &Volumes{root: filepath.Clean(root), node: node}, nil
}

// Root is the directory the volumes are in.
func (v *Volumes) Root() string { return v.root }

// Path is where volume name's directory is, or an error when name is not
// one path element (a PV name never holds "/", but the caller may be
// handed anything).
func (v *Volumes) Path(name string) (string, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return "", fmt.Errorf("%q is not a volume name", name)
	}
	return filepath.Join(v.root, name), nil
}

// Contains tells whether path is a volume directory directly inside the
// root (after filepath.Clean): the only paths Delete removes and a node
// mounts from this provisioner.
func (v *Volumes) Contains(path string) bool {
	if !filepath.IsAbs(path) {
		return false
	}
	rel, err := filepath.Rel(v.root, filepath.Clean(path))
	if err != nil {
		return false
	}
	return rel != "." && rel != ".." && !strings.ContainsRune(rel, filepath.Separator)
}

// Provision creates the claim's directory and returns its PersistentVolume:
// local, on this node, the claim's size and access modes, reclaimed as the
// class says (Delete when it says nothing).
func (v *Volumes) Provision(_ context.Context, o controller.ProvisionOptions) (*corev1.PersistentVolume, controller.ProvisioningState, error) {
	if o.SelectedNodeName != "" && o.SelectedNodeName != v.node {
		// Another node's volumes are not ours to make: let the scheduler
		// choose again.
		return nil, controller.ProvisioningReschedule, fmt.Errorf("node %q was selected, this provisioner serves node %q", o.SelectedNodeName, v.node)
	}
	if mode := o.PVC.Spec.VolumeMode; mode != nil && *mode != corev1.PersistentVolumeFilesystem {
		return nil, controller.ProvisioningFinished, fmt.Errorf("volume mode %s is not supported, only Filesystem", *mode)
	}
	size, ok := o.PVC.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok {
		return nil, controller.ProvisioningFinished, errors.New("the claim requests no storage size")
	}
	dir, err := v.Path(o.PVName)
	if err != nil {
		return nil, controller.ProvisioningFinished, err
	}
	// Existing is fine: a retry after the PV could not be saved.
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, controller.ProvisioningFinished, fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, controller.ProvisioningFinished, err
	}
	reclaim := corev1.PersistentVolumeReclaimDelete
	if o.StorageClass != nil && o.StorageClass.ReclaimPolicy != nil {
		reclaim = *o.StorageClass.ReclaimPolicy
	}
	filesystem := corev1.PersistentVolumeFilesystem
	pv := &corev1.PersistentVolume{
		Spec: corev1.PersistentVolumeSpec{
			PersistentVolumeReclaimPolicy: reclaim,
			AccessModes:                   o.PVC.Spec.AccessModes,
			VolumeMode:                    &filesystem,
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				Local: &corev1.LocalVolumeSource{Path: dir},
			},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: hostnameLabel, Operator: corev1.NodeSelectorOpIn, Values: []string{v.node},
				}}}},
			}},
		},
	}
	pv.Name = o.PVName
	if o.StorageClass != nil {
		pv.Spec.MountOptions = o.StorageClass.MountOptions
	}
	return pv, controller.ProvisioningFinished, nil
}

// Delete removes the volume's directory. Only a local volume whose path is
// a directory directly inside the root is removed, through os.Root so that
// no link inside leads out of it; anything else is refused.
func (v *Volumes) Delete(_ context.Context, pv *corev1.PersistentVolume) error {
	if pv.Spec.Local == nil {
		return &controller.IgnoredError{Reason: "not a local volume"}
	}
	path := pv.Spec.Local.Path
	if !v.Contains(path) {
		return fmt.Errorf("refusing to delete %s: not a volume directory in %s", path, v.root)
	}
	name := filepath.Base(filepath.Clean(path))
	root, err := os.OpenRoot(v.root)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := root.RemoveAll(name); err != nil {
		return fmt.Errorf("deleting volume %s: %w", pv.Name, err)
	}
	return nil
}

// Controller provisions and deletes the volumes of claims of
// ProvisionerName's StorageClasses.
type Controller struct {
	provisioner *controller.ProvisionController
}

// New returns the provisioner controller, on the factory's claim, volume
// and class informers; call it before the factory starts (it adds an
// index). workers is how many claims and volumes it handles at once.
func New(ctx context.Context, client kubernetes.Interface, factory informers.SharedInformerFactory, volumes *Volumes, workers int) *Controller {
	return &Controller{provisioner: controller.NewProvisionController(ctx, client, ProvisionerName, volumes,
		controller.LeaderElection(false), // one server, one provisioner
		controller.Threadiness(max(workers, 1)),
		controller.ClaimsInformer(factory.Core().V1().PersistentVolumeClaims().Informer()),
		controller.VolumesInformer(factory.Core().V1().PersistentVolumes().Informer()),
		controller.ClassesInformer(factory.Storage().V1().StorageClasses().Informer()),
	)}
}

// Run provisions and deletes until ctx ends; workers was given to New.
func (c *Controller) Run(ctx context.Context, _ int) error {
	c.provisioner.Run(ctx)
	return nil
}
