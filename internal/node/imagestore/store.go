// Package imagestore pulls container images for the node agent and keeps
// them unpacked on disk: each layer once per diffID, as a directory that
// serves as an overlayfs lowerdir (whiteouts converted to overlay
// whiteouts), and each image as its config plus its ordered layer list.
// Containers get an overlay rootfs over those layers (Mount).
package imagestore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/containerd/containerd/v2/pkg/archive"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"github.com/slipway-dev/slipway/internal/image"
)

// Platform is the only platform images are pulled for.
var Platform = v1.Platform{OS: "linux", Architecture: "amd64"}

// Store is the on-disk image store under one directory:
//
//	layers/<algo>-<hex>/   one unpacked layer per diffID
//	images/<algo>-<hex>.json   an image (config, layer diffIDs) by manifest digest
//	refs/<sha256 of reference>  the digest a reference last resolved to
//
// A Store is safe for concurrent use; concurrent pulls of one reference or
// one layer happen once.
type Store struct {
	dir    string
	client *image.Client
	pulls  singleflight.Group
	layers singleflight.Group
	// accessMu serialises the read-modify-write of access files.
	accessMu sync.Mutex
}

// Image is a pulled image.
type Image struct {
	// Digest is the manifest digest of the linux/amd64 image.
	Digest string `json:"digest"`
	// Config is the image's config file.
	Config v1.ConfigFile `json:"config"`
	// DiffIDs are the layers, lowest first.
	DiffIDs []string `json:"diffIDs"`
	// layers are the unpacked layer directories, lowest first.
	layers []string
}

// New returns the store under dir, pulling through client.
func New(dir string, client *image.Client) (*Store, error) {
	for _, sub := range []string{"layers", "images", "refs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	// Unpacking left half-done by a stopped server is started over.
	entries, _ := os.ReadDir(filepath.Join(dir, "tmp"))
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(dir, "tmp", e.Name()))
	}
	return &Store{dir: dir, client: client}, nil
}

// Pull returns the image ref names, honouring policy: Always resolves the
// reference at the registry every time (layers already here are not
// fetched again); IfNotPresent uses the image the reference resolved to
// before (or, for a digest reference, the image of that digest); Never
// only uses what is here.
func (s *Store) Pull(ctx context.Context, ref string, policy corev1.PullPolicy, keyring image.Keyring) (*Image, error) {
	parsed, err := image.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", ref, err)
	}
	if policy != corev1.PullAlways {
		if img, err := s.cached(parsed); err == nil {
			if err := s.mayUse(ctx, parsed, img, policy, keyring); err != nil {
				return nil, fmt.Errorf("image %q: %w", ref, err)
			}
			return img, nil
		}
		if policy == corev1.PullNever {
			return nil, fmt.Errorf("image %q is not present with pull policy of Never", ref)
		}
	}
	ch := s.pulls.DoChan(parsed.Exact(), func() (any, error) {
		// Detached from one caller's cancellation: others may share it.
		return s.pull(context.WithoutCancel(ctx), parsed, keyring)
	})
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*Image), nil
	}
}

func keyName(digest string) string { return strings.Replace(digest, ":", "-", 1) }

func refKey(ref image.Reference) string {
	sum := sha256.Sum256([]byte(ref.Exact()))
	return hex.EncodeToString(sum[:])
}

// cached returns the image ref resolved to last time, if it is complete.
func (s *Store) cached(ref image.Reference) (*Image, error) {
	digest := ref.Digest
	if digest == "" {
		b, err := os.ReadFile(filepath.Join(s.dir, "refs", refKey(ref)))
		if err != nil {
			return nil, err
		}
		digest = strings.TrimSpace(string(b))
	}
	return s.load(digest)
}

// load reads the image of digest and checks its layers are unpacked.
func (s *Store) load(digest string) (*Image, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, "images", keyName(digest)+".json"))
	if err != nil {
		return nil, err
	}
	img := &Image{}
	if err := json.Unmarshal(b, img); err != nil {
		return nil, fmt.Errorf("image %s in the store: %w", digest, err)
	}
	for _, d := range img.DiffIDs {
		dir := s.layerDir(d)
		if _, err := os.Stat(dir); err != nil {
			return nil, err
		}
		img.layers = append(img.layers, dir)
	}
	return img, nil
}

func (s *Store) layerDir(diffID string) string {
	return filepath.Join(s.dir, "layers", keyName(diffID))
}

func (s *Store) pull(ctx context.Context, ref image.Reference, keyring image.Keyring) (*Image, error) {
	nref, opts, err := s.client.RemoteOptions(ctx, ref, image.ImportOptions{Keyring: keyring})
	if err != nil {
		return nil, fmt.Errorf("pulling %s: %w", ref.String(), err)
	}
	opts = append(opts, remote.WithPlatform(Platform))
	// remote.Image picks the platform's entry of a manifest list.
	remoteImg, err := remote.Image(nref, opts...)
	if err != nil {
		return nil, fmt.Errorf("pulling %s: %w", ref.String(), err)
	}
	digest, err := remoteImg.Digest()
	if err != nil {
		return nil, fmt.Errorf("pulling %s: digest: %w", ref.String(), err)
	}
	login := loginKey(ref, keyring)
	if err := image.CheckLimits(digest.String(), remoteImg); err != nil {
		return nil, fmt.Errorf("pulling %s: %w", ref.String(), err)
	}
	if img, err := s.load(digest.String()); err == nil {
		if err := s.allow(img.Digest, login); err != nil {
			return nil, err
		}
		return img, s.remember(ref, img)
	}
	cfg, err := remoteImg.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("pulling %s: config: %w", ref.String(), err)
	}
	layers, err := remoteImg.Layers()
	if err != nil {
		return nil, fmt.Errorf("pulling %s: layers: %w", ref.String(), err)
	}
	img := &Image{Digest: digest.String(), Config: *cfg}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(3)
	img.layers = make([]string, len(layers))
	img.DiffIDs = make([]string, len(layers))
	for i, l := range layers {
		diffID, err := l.DiffID()
		if err != nil {
			return nil, fmt.Errorf("pulling %s: layer %d: %w", ref.String(), i, err)
		}
		img.DiffIDs[i] = diffID.String()
		img.layers[i] = s.layerDir(diffID.String())
		g.Go(func() error {
			_, err, _ := s.layers.Do(diffID.String(), func() (any, error) { return nil, s.unpack(gctx, l, diffID.String()) })
			if err != nil {
				return fmt.Errorf("pulling %s: layer %s: %w", ref.String(), diffID, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(img)
	if err != nil {
		return nil, err
	}
	// Who may use it is on disk before the image is: a crash in between
	// leaves an image that is pulled again, never one nobody is checked for.
	if err := s.allow(img.Digest, login); err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(s.dir, "images", keyName(img.Digest)+".json"), b, filepath.Join(s.dir, "tmp")); err != nil {
		return nil, fmt.Errorf("pulling %s: recording the image: %w", ref.String(), err)
	}
	return img, s.remember(ref, img)
}

// access is who has pulled an image onto this node: anyone (it was pulled
// without credentials), or the logins (loginKey) that did.
type access struct {
	Anonymous bool     `json:"anonymous,omitempty"`
	Logins    []string `json:"logins,omitempty"`
}

// loginKey names the credentials keyring holds for ref's registry: ""
// for none, else a hash of the registry, user and password (never the
// password itself on disk).
func loginKey(ref image.Reference, keyring image.Keyring) string {
	user, password, ok := keyring.Lookup(ref.Registry)
	if !ok {
		return ""
	}
	sum := sha256.Sum256([]byte(ref.Registry + "\x00" + user + "\x00" + password))
	return hex.EncodeToString(sum[:])
}

func (s *Store) accessFile(digest string) string {
	return filepath.Join(s.dir, "images", keyName(digest)+".access")
}

func (s *Store) readAccess(digest string) access {
	var a access
	if b, err := os.ReadFile(s.accessFile(digest)); err == nil {
		_ = json.Unmarshal(b, &a)
	}
	return a
}

// allow records that login ("" for none) pulled image digest.
func (s *Store) allow(digest, login string) error {
	s.accessMu.Lock()
	defer s.accessMu.Unlock()
	a := s.readAccess(digest)
	switch {
	case login == "" && a.Anonymous, login != "" && slices.Contains(a.Logins, login):
		return nil
	case login == "":
		a.Anonymous = true
	default:
		a.Logins = append(a.Logins, login)
	}
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if err := writeAtomic(s.accessFile(digest), b, filepath.Join(s.dir, "tmp")); err != nil {
		return fmt.Errorf("recording who pulled %s: %w", digest, err)
	}
	return nil
}

// mayUse decides whether a pod with keyring may use img, found in the
// store for ref, as the kubelet's ensure-secret-pulled-images check does:
// yes when img was pulled without credentials or with the same ones;
// otherwise, unless the policy is Never, the registry is asked (a
// manifest HEAD of the digest with the pod's credentials), and a yes is
// remembered.
func (s *Store) mayUse(ctx context.Context, ref image.Reference, img *Image, policy corev1.PullPolicy, keyring image.Keyring) error {
	login := loginKey(ref, keyring)
	a := s.readAccess(img.Digest)
	if a.Anonymous || (login != "" && slices.Contains(a.Logins, login)) {
		return nil
	}
	if policy == corev1.PullNever {
		return errors.New("it is on this node but was pulled with other credentials than the pod's, and the pull policy Never forbids checking them with the registry")
	}
	pinned := ref
	pinned.Tag, pinned.Digest = "", img.Digest
	if _, err := s.client.Head(ctx, pinned, image.ImportOptions{Keyring: keyring}); err != nil {
		return fmt.Errorf("it is on this node, but the pod's pull secrets cannot pull it: %w", err)
	}
	return s.allow(img.Digest, login)
}

// remember records what ref resolved to, for IfNotPresent.
func (s *Store) remember(ref image.Reference, img *Image) error {
	return writeAtomic(filepath.Join(s.dir, "refs", refKey(ref)), []byte(img.Digest), filepath.Join(s.dir, "tmp"))
}

// unpack extracts layer l into its directory, unless it is there already.
// containerd's archive.Apply handles hard links, symlinks, ownership,
// modes, xattrs and path escapes; OverlayConvertWhiteout turns .wh. files
// into overlay whiteouts (0/0 character devices, trusted.overlay.opaque),
// so that the directory works as a lowerdir.
func (s *Store) unpack(ctx context.Context, l v1.Layer, diffID string) error {
	final := s.layerDir(diffID)
	if _, err := os.Stat(final); err == nil {
		return nil
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), "layer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	rc, err := l.Uncompressed()
	if err != nil {
		return fmt.Errorf("fetching: %w", err)
	}
	defer rc.Close()
	if _, err := archive.Apply(ctx, tmp, rc, archive.WithConvertWhiteout(archive.OverlayConvertWhiteout)); err != nil {
		return fmt.Errorf("unpacking: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("storing: %w", err)
	}
	return nil
}

func writeAtomic(path string, data []byte, tmpDir string) error {
	f, err := os.CreateTemp(tmpDir, "write-")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err = errors.Join(err, f.Close()); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}

// Mount mounts the image's overlay rootfs at target, with upper and work
// (created here) holding the container's own changes.
func (img *Image) Mount(target, upper, work string) error {
	for _, d := range []string{target, upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	lower := make([]string, 0, len(img.layers)+1)
	// overlayfs lists the top layer first.
	for i := len(img.layers) - 1; i >= 0; i-- {
		lower = append(lower, img.layers[i])
	}
	if len(lower) == 0 {
		// An image without layers still needs one lowerdir.
		empty := filepath.Join(filepath.Dir(work), "empty")
		if err := os.MkdirAll(empty, 0o755); err != nil {
			return err
		}
		lower = append(lower, empty)
	}
	opts := "lowerdir=" + strings.Join(lower, ":") + ",upperdir=" + upper + ",workdir=" + work
	if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mounting the rootfs at %s: %w", target, err)
	}
	return nil
}

// Unmount unmounts a rootfs Mount mounted; not mounted is not an error.
func Unmount(target string) error {
	err := unix.Unmount(target, unix.MNT_DETACH)
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmounting %s: %w", target, err)
	}
	return nil
}
