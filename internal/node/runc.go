package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"

	"github.com/slipway-dev/slipway/internal/image"
	"github.com/slipway-dev/slipway/internal/node/cni"
	"github.com/slipway-dev/slipway/internal/node/imagestore"
)

// Sandbox is what the containers of one pod share: its network namespace
// and address.
type Sandbox interface {
	// PodIP is the pod's address on the pod network.
	PodIP() string
}

// SandboxRuntime is a Runtime that isolates pods: each pod gets a sandbox
// before its containers start, and its containers are restarted by the
// agent per restartPolicy, probed, and pulled from registries.
type SandboxRuntime interface {
	Runtime
	// Prepare creates the pod's sandbox (network namespace, address, host
	// ports, /etc files in the pod directory).
	Prepare(ctx context.Context, pod *corev1.Pod, files podFiles) (Sandbox, error)
	// Release removes the sandbox of the pod with this UID; nothing to
	// release is not an error.
	Release(ctx context.Context, uid string) error
	// Cleanup removes every container and sandbox a previous run left.
	Cleanup(ctx context.Context) error
}

// ImagePullError is a container start that failed pulling its image: the
// container waits with ErrImagePull, then ImagePullBackOff.
type ImagePullError struct{ Err error }

func (e *ImagePullError) Error() string { return e.Err.Error() }
func (e *ImagePullError) Unwrap() error { return e.Err }

// containerIDer is a Process that has a runtime container ID.
type containerIDer interface{ ContainerID() string }

// execer is a Process that can run a command inside the container (exec
// probes).
type execer interface {
	Exec(ctx context.Context, argv []string) (int, []byte, error)
}

// runcRuntime runs pods without the host-process annotation as runc
// containers: images from imagestore, an overlay rootfs per container, a
// CNI network namespace per pod. runc runs in the foreground as the
// agent's child ("runc run"), so the container's stdio is the log file and
// its exit code is runc's.
type runcRuntime struct {
	binary string
	// root is runc's state directory (--root).
	root string
	// bundles holds one OCI bundle (config.json, rootfs, upper, work) per
	// container; sandboxes one JSON record per pod sandbox.
	bundles, sandboxes string
	images             *imagestore.Store
	network            *cni.Network
	client             kubernetes.Interface
	hostIP             string
	// clusterDNS and clusterDomain are the pods' resolver (ClusterFirst).
	clusterDNS, clusterDomain string
	// reserved are host ports no pod may take.
	reserved *portSet
	log      *slog.Logger
}

// portSet is a set of TCP/UDP port numbers, safe for concurrent use.
type portSet struct {
	mu    sync.Mutex
	ports map[int32]bool
}

func newPortSet(ports []int32) *portSet {
	s := &portSet{ports: map[int32]bool{}}
	for _, p := range ports {
		s.add(p)
	}
	return s
}

func (s *portSet) add(p int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ports[p] = true
}

func (s *portSet) has(p int32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ports[p]
}

func newRuncRuntime(cfg Config, reserved *portSet, log *slog.Logger) (*runcRuntime, error) {
	binary := cfg.RuncBinary
	if binary == "" {
		binary = "runc"
	}
	path, err := exec.LookPath(binary)
	if err != nil {
		return nil, fmt.Errorf("runc runtime: %w", err)
	}
	netCfg := cfg.Network
	if netCfg.CacheDir == "" {
		netCfg.CacheDir = filepath.Join(cfg.DataDir, "cni")
	}
	network, err := cni.New(netCfg)
	if err != nil {
		return nil, fmt.Errorf("runc runtime: %w", err)
	}
	registry := cfg.Registry
	if registry == nil {
		registry = image.NewClient(image.Options{})
	}
	images, err := imagestore.New(filepath.Join(cfg.DataDir, "images"), registry)
	if err != nil {
		return nil, fmt.Errorf("runc runtime: %w", err)
	}
	r := &runcRuntime{
		binary: path, root: filepath.Join(cfg.DataDir, "runc"),
		bundles: filepath.Join(cfg.DataDir, "containers"), sandboxes: filepath.Join(cfg.DataDir, "sandboxes"),
		images: images, network: network, client: cfg.Client, hostIP: cfg.HostIP, log: log,
		clusterDNS: cfg.ClusterDNS, clusterDomain: cfg.ClusterDomain, reserved: reserved,
	}
	for _, d := range []string{r.root, r.bundles, r.sandboxes} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("runc runtime: %w", err)
		}
	}
	return r, nil
}

func (*runcRuntime) Name() string { return "runc" }

func (*runcRuntime) Handles(pod *corev1.Pod) bool {
	return pod.Annotations[HostProcessAnnotation] != "true"
}

// podSandbox is a pod's network namespace and attachment, persisted under
// sandboxes/<uid>.json so that the next agent can remove it.
type podSandbox struct {
	NetNSName string         `json:"netnsName"`
	Attach    cni.Attachment `json:"attachment"`
	IP        string         `json:"ip"`
}

func (s *podSandbox) PodIP() string { return s.IP }

func netnsName(uid string) string { return "slipway-" + uid }

func (r *runcRuntime) Prepare(ctx context.Context, pod *corev1.Pod, files podFiles) (Sandbox, error) {
	uid := string(pod.UID)
	// A sandbox left by an earlier attempt goes first: its address and
	// host ports are this pod's to take again.
	if err := r.Release(ctx, uid); err != nil {
		return nil, err
	}
	sb := &podSandbox{NetNSName: netnsName(uid), Attach: cni.Attachment{ID: uid, NetNS: cni.NetNSPath(netnsName(uid))}}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			if r.reserved.has(p.HostPort) {
				return nil, fmt.Errorf("container %q: hostPort %d is one of the server's own ports (its traffic would go to this pod); choose another", c.Name, p.HostPort)
			}
			sb.Attach.Ports = append(sb.Attach.Ports, cni.PortMapping{HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: string(p.Protocol), HostIP: p.HostIP})
		}
	}
	// Recorded before anything is created, so a crash in between still
	// leaves something to clean up.
	if err := r.saveSandbox(sb); err != nil {
		return nil, err
	}
	if _, err := cni.CreateNetNS(sb.NetNSName); err != nil {
		return nil, err
	}
	ip, err := r.network.Add(ctx, sb.Attach)
	if err != nil {
		return nil, errors.Join(err, r.Release(ctx, uid))
	}
	sb.IP = ip.String()
	if err := r.saveSandbox(sb); err != nil {
		return nil, errors.Join(err, r.Release(ctx, uid))
	}
	if err := writeEtcFiles(pod, files, sb.IP, r.clusterDNS, r.clusterDomain); err != nil {
		return nil, errors.Join(err, r.Release(ctx, uid))
	}
	return sb, nil
}

func (r *runcRuntime) sandboxFile(uid string) string { return filepath.Join(r.sandboxes, uid+".json") }

func (r *runcRuntime) saveSandbox(sb *podSandbox) error {
	b, err := json.Marshal(sb)
	if err != nil {
		return err
	}
	return os.WriteFile(r.sandboxFile(sb.Attach.ID), b, 0o600)
}

func (r *runcRuntime) Release(ctx context.Context, uid string) error {
	b, err := os.ReadFile(r.sandboxFile(uid))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("releasing the sandbox of %s: %w", uid, err)
	}
	sb := &podSandbox{}
	if err := json.Unmarshal(b, sb); err != nil {
		return errors.Join(fmt.Errorf("releasing the sandbox of %s: %w", uid, err), os.Remove(r.sandboxFile(uid)))
	}
	// CNI DEL before the namespace goes, so the plugins can clean inside it.
	errs := []error{r.network.Del(ctx, sb.Attach), cni.DeleteNetNS(sb.NetNSName)}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return os.Remove(r.sandboxFile(uid))
}

// Cleanup removes what a previous agent left: every runc container under
// its root (killed and deleted), every mounted rootfs and bundle, every
// sandbox (CNI DEL, netns removed).
func (r *runcRuntime) Cleanup(ctx context.Context) error {
	// A runc the previous agent started may still be creating its
	// container, which "runc list" would not show yet: such processes go
	// first.
	errs := []error{killRuncProcesses(r.root)}
	out, err := exec.CommandContext(ctx, r.binary, "--root", r.root, "list", "-q").Output()
	if err != nil {
		errs = append(errs, fmt.Errorf("runc list: %w", err))
	}
	for _, id := range strings.Fields(string(out)) {
		r.log.Info("removing a container left by the previous run", "container", id)
		errs = append(errs, r.deleteContainer(id))
	}
	errs = append(errs, unmountUnder(r.bundles))
	entries, _ := os.ReadDir(r.bundles)
	for _, e := range entries {
		errs = append(errs, r.removeBundle(e.Name()))
	}
	sandboxes, _ := filepath.Glob(filepath.Join(r.sandboxes, "*.json"))
	for _, f := range sandboxes {
		uid := strings.TrimSuffix(filepath.Base(f), ".json")
		r.log.Info("removing a pod sandbox left by the previous run", "uid", uid)
		errs = append(errs, r.Release(ctx, uid))
	}
	return errors.Join(errs...)
}

func (r *runcRuntime) runc(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, r.binary, append([]string{"--root", r.root}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("runc %s: %v: %s", args[0], err, strings.TrimSpace(string(out)))
	}
	return nil
}

// deleteContainer kills and deletes container id; a container runc does
// not know is not an error.
func (r *runcRuntime) deleteContainer(id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := r.runc(ctx, "delete", "--force", id)
	if err != nil && strings.Contains(err.Error(), "does not exist") {
		return nil
	}
	return err
}

func (r *runcRuntime) bundle(id string) string { return filepath.Join(r.bundles, id) }

// removeBundle unmounts the container's rootfs and removes its bundle.
func (r *runcRuntime) removeBundle(id string) error {
	dir := r.bundle(id)
	if err := imagestore.Unmount(filepath.Join(dir, "rootfs")); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// pullSecrets returns the keyring of the pod's pull secrets. Those of its
// service account are among them: the ServiceAccount admission plugin
// copies them into the pod when it is created, and a node may not read
// service accounts. Missing secrets are skipped, as on a kubelet.
func (r *runcRuntime) pullSecrets(ctx context.Context, pod *corev1.Pod) (image.Keyring, error) {
	var secrets []corev1.Secret
	seen := map[string]bool{}
	for _, ref := range pod.Spec.ImagePullSecrets {
		if seen[ref.Name] {
			continue
		}
		seen[ref.Name] = true
		s, err := readForPod(ctx, r.client.CoreV1().Secrets(pod.Namespace).Get, ref.Name)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return image.Keyring{}, fmt.Errorf("pull secret %q: %w", ref.Name, err)
		}
		secrets = append(secrets, *s)
	}
	return image.KeyringFromSecrets(secrets), nil
}

func (r *runcRuntime) Start(spec ContainerSpec) (Process, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	pod, c := spec.Pod, spec.Container
	sb, ok := spec.Sandbox.(*podSandbox)
	if !ok {
		return nil, errors.New("runc: the pod has no sandbox")
	}
	keyring, err := r.pullSecrets(ctx, pod)
	if err != nil {
		return nil, &ImagePullError{Err: err}
	}
	policy := c.ImagePullPolicy
	if policy == "" {
		policy = corev1.PullIfNotPresent
	}
	img, err := r.images.Pull(ctx, c.Image, policy, keyring)
	if err != nil {
		return nil, &ImagePullError{Err: err}
	}
	id := fmt.Sprintf("%s-%s-%d", pod.UID, c.Name, spec.Attempt)
	// An earlier attempt of the same number (a failed start) goes first.
	_ = r.deleteContainer(id)
	if err := r.removeBundle(id); err != nil {
		return nil, err
	}
	dir := r.bundle(id)
	rootfs := filepath.Join(dir, "rootfs")
	if err := img.Mount(rootfs, filepath.Join(dir, "upper"), filepath.Join(dir, "work")); err != nil {
		return nil, err
	}
	fail := func(err error) (Process, error) {
		return nil, errors.Join(err, r.removeBundle(id))
	}
	s, err := buildSpec(ctx, spec, img, rootfs, sb)
	if err != nil {
		return fail(fmt.Errorf("container %q: %w", c.Name, err))
	}
	b, err := json.Marshal(s)
	if err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		return fail(err)
	}
	cmd := exec.Command(r.binary, "--root", r.root, "run", "--bundle", dir, id)
	cmd.Stdout, cmd.Stderr = spec.Log, spec.Log
	if spec.Stdin != nil {
		cmd.Stdin = spec.Stdin
	}
	// runc in its own process group: a signal to the agent's group (a
	// terminal's ^C) does not reach the containers.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("starting runc: %w", err))
	}
	p := &runcProc{r: r, cmd: cmd, id: id, exited: make(chan struct{}), imageID: imageID(c.Image, img.Digest)}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	// Started means the container exists (runc wrote its state): a
	// container reported running is one the next agent finds.
	state := filepath.Join(r.root, id, "state.json")
	for {
		if _, err := os.Stat(state); err == nil {
			break
		}
		select {
		case <-p.exited:
			// It ended (or failed to start): Wait tells how.
			return p, nil
		case <-time.After(10 * time.Millisecond):
		}
	}
	return p, nil
}

// runcProc is a container run by a foreground "runc run".
type runcProc struct {
	r       *runcRuntime
	cmd     *exec.Cmd
	id      string
	exited  chan struct{}
	waitErr error
	imageID string
}

// ImageID is the image the container runs, by digest, as the kubelet
// reports it in status.containerStatuses[].imageID.
func (p *runcProc) ImageID() string { return p.imageID }

// imageID is ref's repository at digest ("registry/repo@sha256:...").
func imageID(ref, digest string) string {
	parsed, err := image.ParseReference(ref)
	if err != nil || digest == "" {
		return digest
	}
	return parsed.Registry + "/" + parsed.Repository + "@" + digest
}

func (p *runcProc) PID() int            { return p.cmd.Process.Pid }
func (p *runcProc) ContainerID() string { return "runc://" + p.id }

func (p *runcProc) Wait() (int, error) {
	<-p.exited
	err := p.waitErr
	code := 0
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		err = nil
	default:
		code = -1
	}
	// runc run deletes the container when it ends; a killed runc does not.
	cleanup := errors.Join(p.r.deleteContainer(p.id), p.r.removeBundle(p.id))
	if cleanup != nil {
		p.r.log.Error("removing a container", "container", p.id, "error", cleanup)
	}
	return code, err
}

func (p *runcProc) Signal(sig syscall.Signal) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := p.r.runc(ctx, "kill", "--all", p.id, strconv.Itoa(int(sig)))
	if err != nil && (strings.Contains(err.Error(), "does not exist") || strings.Contains(err.Error(), "not running")) {
		return nil
	}
	return err
}

// Exec runs argv in the container and returns its exit code and output.
func (p *runcProc) Exec(ctx context.Context, argv []string) (int, []byte, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, p.r.binary, append([]string{"--root", p.r.root, "exec", p.id}, argv...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return -1, out.Bytes(), fmt.Errorf("exec %q: %w", argv, ctx.Err())
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), out.Bytes(), nil
	}
	if err != nil {
		return -1, out.Bytes(), fmt.Errorf("exec %q: %w", argv, err)
	}
	return 0, out.Bytes(), nil
}

// writeEtcFiles writes the pod's /etc/hosts, /etc/hostname and
// /etc/resolv.conf into its directory; containers bind-mount them.
func writeEtcFiles(pod *corev1.Pod, files podFiles, ip, clusterDNS, domain string) error {
	hosts := fmt.Sprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n", ip, pod.Name)
	for _, a := range pod.Spec.HostAliases {
		hosts += a.IP + "\t" + strings.Join(a.Hostnames, " ") + "\n"
	}
	resolv, err := hostResolvConf()
	if err != nil {
		return err
	}
	if clusterDNS != "" && (pod.Spec.DNSPolicy == "" || pod.Spec.DNSPolicy == corev1.DNSClusterFirst) {
		resolv = clusterResolvConf(pod.Namespace, clusterDNS, domain)
	}
	for name, data := range map[string]string{"hosts": hosts, "hostname": pod.Name + "\n", "resolv.conf": resolv} {
		if err := os.WriteFile(filepath.Join(string(files), name), []byte(data), 0o644); err != nil {
			return fmt.Errorf("writing the pod's %s: %w", name, err)
		}
	}
	return nil
}

// clusterResolvConf is a ClusterFirst pod's resolver, as the kubelet
// writes it: the cluster DNS server, the namespace's search domains.
func clusterResolvConf(namespace, server, domain string) string {
	return fmt.Sprintf("search %s.svc.%s svc.%s %s\nnameserver %s\noptions ndots:5\n", namespace, domain, domain, domain, server)
}

// hostResolvConf is the host's resolver configuration, the one behind
// systemd-resolved's stub when there is one: a loopback nameserver is not
// reachable from the pod's namespace.
func hostResolvConf() (string, error) {
	for _, p := range []string{"/run/systemd/resolve/resolv.conf", "/etc/resolv.conf"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) >= 2 && f[0] == "nameserver" && (strings.HasPrefix(f[1], "127.") || f[1] == "::1") {
				continue
			}
			lines = append(lines, l)
		}
		return strings.Join(lines, "\n"), nil
	}
	return "", nil
}

// specNamespace is the containerd namespace the OCI spec helpers need; it
// names the cgroup parent (/slipway/<container>).
const specNamespace = "slipway"

// buildSpec is the container's OCI spec: containerd's default Linux spec
// (Docker's default capabilities, no new privileges, runc's masked and
// read-only paths, /proc /dev /dev/pts /dev/shm /sys mounts) plus the
// image config and the container: argv, env, working directory, user,
// limits, the pod's namespace and /etc files, volumes.
func buildSpec(ctx context.Context, spec ContainerSpec, img *imagestore.Image, rootfs string, sb *podSandbox) (*specs.Spec, error) {
	pod, c := spec.Pod, spec.Container
	env := mergeEnv(img.Config.Config.Env, spec.Env)
	argv := containerArgv(c, img.Config.Config.Entrypoint, img.Config.Config.Cmd, env)
	if len(argv) == 0 {
		return nil, errors.New("no command: neither the container nor the image gives one")
	}
	cwd := c.WorkingDir
	if cwd == "" {
		cwd = img.Config.Config.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	if err := mkdirInRoot(rootfs, cwd); err != nil {
		return nil, fmt.Errorf("working directory %s: %w", cwd, err)
	}
	files := spec.Files
	mounts := []specs.Mount{
		bind(filepath.Join(string(files), "hosts"), "/etc/hosts", false),
		bind(filepath.Join(string(files), "hostname"), "/etc/hostname", false),
		bind(filepath.Join(string(files), "resolv.conf"), "/etc/resolv.conf", false),
	}
	if c.TerminationMessagePath != "" {
		if f, err := os.OpenFile(files.terminationLog(), os.O_CREATE|os.O_WRONLY, 0o666); err == nil {
			f.Close()
			mounts = append(mounts, bind(files.terminationLog(), c.TerminationMessagePath, false))
		}
	}
	readOnlyVolume := map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		readOnlyVolume[v.Name] = v.Secret != nil || v.ConfigMap != nil || v.Projected != nil || v.DownwardAPI != nil ||
			(v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ReadOnly)
	}
	// The service account token is one of these: the kube-api-access
	// projected volume the ServiceAccount admission plugin mounts.
	for i, m := range c.VolumeMounts {
		src, err := mountSource(files, c.Name, i, m)
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", m.Name, err)
		}
		mounts = append(mounts, bind(src, m.MountPath, m.ReadOnly || readOnlyVolume[m.Name]))
	}
	opts := []oci.SpecOpts{
		oci.WithRootFSPath(rootfs),
		oci.WithDefaultUnixDevices,
		oci.WithProcessArgs(argv...),
		oci.WithEnv(env),
		oci.WithProcessCwd(cwd),
		oci.WithHostname(pod.Name),
		oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: sb.Attach.NetNS}),
		oci.WithMounts(mounts),
		oci.WithNoNewPrivileges,
	}
	// Capabilities before the seccomp profile, which allows what they do.
	opts = append(opts, capabilities(c)...)
	if !unconfined(pod, c) {
		opts = append(opts, seccomp.WithDefaultProfile())
	}
	user := img.Config.Config.User
	if sc := c.SecurityContext; sc != nil && sc.RunAsUser != nil {
		user = strconv.FormatInt(*sc.RunAsUser, 10)
		if sc.RunAsGroup != nil {
			user += ":" + strconv.FormatInt(*sc.RunAsGroup, 10)
		}
	}
	if user != "" {
		opts = append(opts, oci.WithUser(user))
	}
	if mem, ok := c.Resources.Limits[corev1.ResourceMemory]; ok && mem.Value() > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(mem.Value())))
	}
	if cpu, ok := c.Resources.Limits[corev1.ResourceCPU]; ok && cpu.MilliValue() > 0 {
		// Kubernetes' CFS mapping: quota = millicores * period / 1000.
		const period = 100000
		opts = append(opts, oci.WithCPUCFS(max(cpu.MilliValue()*period/1000, 1000), period))
	}
	if cpu, ok := c.Resources.Requests[corev1.ResourceCPU]; ok && cpu.MilliValue() > 0 {
		opts = append(opts, oci.WithCPUShares(uint64(max(cpu.MilliValue()*1024/1000, 2))))
	}
	ctx = namespaces.WithNamespace(ctx, specNamespace)
	s, err := oci.GenerateSpecWithPlatform(ctx, nil, "linux/amd64", &containers.Container{ID: filepath.Base(filepath.Dir(rootfs))}, opts...)
	if err != nil {
		return nil, err
	}
	s.Process.Terminal = false
	if psc := pod.Spec.SecurityContext; psc != nil {
		// The pod's groups are every container's, as the kubelet passes
		// them: a volume given to the fsGroup is writable by any user.
		if psc.FSGroup != nil {
			s.Process.User.AdditionalGids = append(s.Process.User.AdditionalGids, uint32(*psc.FSGroup))
		}
		for _, g := range psc.SupplementalGroups {
			s.Process.User.AdditionalGids = append(s.Process.User.AdditionalGids, uint32(g))
		}
	}
	return s, nil
}

// capabilities are the container's: the runtime's default set without
// NET_RAW (no raw sockets to spoof or sniff the pod network with, as
// OpenShift's restricted SCC), less what the container drops ("ALL" for
// every one), plus what it adds (Pod Security admission decides which).
func capabilities(c *corev1.Container) []oci.SpecOpts {
	opts := []oci.SpecOpts{oci.WithDroppedCapabilities([]string{"CAP_NET_RAW"})}
	sc := c.SecurityContext
	if sc == nil || sc.Capabilities == nil {
		return opts
	}
	var drop, add []string
	for _, name := range sc.Capabilities.Drop {
		if strings.EqualFold(string(name), "ALL") {
			opts = append(opts, oci.WithCapabilities(nil))
			continue
		}
		drop = append(drop, capName(name))
	}
	for _, name := range sc.Capabilities.Add {
		add = append(add, capName(name))
	}
	return append(opts, oci.WithDroppedCapabilities(drop), oci.WithAddedCapabilities(add))
}

// capName is a Kubernetes capability name ("NET_ADMIN") as the runtime
// spells it ("CAP_NET_ADMIN").
func capName(c corev1.Capability) string {
	name := strings.ToUpper(string(c))
	if !strings.HasPrefix(name, "CAP_") {
		name = "CAP_" + name
	}
	return name
}

// unconfined tells whether the container asks for no seccomp profile
// (Pod Security's baseline level refuses that outside privileged
// namespaces); every other container gets the runtime's default profile.
func unconfined(pod *corev1.Pod, c *corev1.Container) bool {
	profile := (*corev1.SeccompProfile)(nil)
	if pod.Spec.SecurityContext != nil {
		profile = pod.Spec.SecurityContext.SeccompProfile
	}
	if c.SecurityContext != nil && c.SecurityContext.SeccompProfile != nil {
		profile = c.SecurityContext.SeccompProfile
	}
	return profile != nil && profile.Type == corev1.SeccompProfileTypeUnconfined
}

func bind(src, dst string, readOnly bool) specs.Mount {
	opts := []string{"rbind", "rprivate"}
	if readOnly {
		opts = append(opts, "ro")
	}
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: opts}
}

// mkdirInRoot creates dir inside rootfs without following links out of it.
func mkdirInRoot(rootfs, dir string) error {
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return err
	}
	defer root.Close()
	rel := strings.TrimPrefix(filepath.Clean("/"+dir), "/")
	if rel == "" {
		return nil
	}
	return root.MkdirAll(rel, 0o755)
}

// mergeEnv is the image's env overridden by the container's, by name, in
// first-seen order.
func mergeEnv(image, container []string) []string {
	var names []string
	values := map[string]string{}
	for _, kv := range append(append([]string{}, image...), container...) {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := values[k]; !ok {
			names = append(names, k)
		}
		values[k] = v
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, n+"="+values[n])
	}
	return out
}

// containerArgv applies Kubernetes' rules: command replaces the image's
// Entrypoint and drops its Cmd; args alone replace Cmd; $(VAR) in both is
// expanded from the container's environment.
func containerArgv(c *corev1.Container, entrypoint, cmd, env []string) []string {
	var argv []string
	switch {
	case len(c.Command) > 0:
		argv = append(append(argv, c.Command...), c.Args...)
	case len(c.Args) > 0:
		argv = append(append(argv, entrypoint...), c.Args...)
	default:
		argv = append(append(argv, entrypoint...), cmd...)
	}
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	if len(c.Command) > 0 || len(c.Args) > 0 {
		for i := range argv {
			argv[i] = expand(argv[i], vars)
		}
	}
	return argv
}

// expand replaces $(VAR) with the variable's value when it is defined and
// $$ with $, as Kubernetes does; anything else stays as written.
func expand(s string, vars map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '(':
			if end := strings.IndexByte(s[i+2:], ')'); end >= 0 {
				name := s[i+2 : i+2+end]
				if v, ok := vars[name]; ok {
					b.WriteString(v)
					i += 2 + end
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// killRuncProcesses kills every runc process working on root (its
// "--root" argument), found through /proc.
func killRuncProcesses(root string) error {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "--root" && args[i+1] == root {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				break
			}
		}
	}
	return nil
}

// unmountUnder detaches every mount below dir (rootfs overlays a killed
// agent left), deepest first.
func unmountUnder(dir string) error {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	var targets []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			targets = append(targets, f[4])
		}
	}
	var errs []error
	for i := len(targets) - 1; i >= 0; i-- {
		if err := unix.Unmount(targets[i], unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", targets[i], err))
		}
	}
	return errors.Join(errs...)
}
