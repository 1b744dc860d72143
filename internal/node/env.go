package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	resourcehelper "k8s.io/kubernetes/pkg/api/v1/resource"
	"k8s.io/kubernetes/pkg/fieldpath"

	"github.com/slipway-dev/slipway/internal/podenv"
)

// containerEnv is the environment of a host-process container: PATH from
// the agent, HOME in the pod directory, the container's env with values
// that name a volume mount's path rewritten to the volume's host directory,
// then what the agent gives every pod (API address, BuildKit address, the
// builders' source cache, work dir, termination log, service account
// directory, the local git root).
func (a *Agent) containerEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container, files podFiles) ([]string, error) {
	var names []string
	values := map[string]string{}
	set := func(name, value string) {
		if _, ok := values[name]; !ok {
			names = append(names, name)
		}
		values[name] = value
	}
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	set("PATH", path)
	set("HOME", files.home())
	set("HOSTNAME", pod.Name)
	for _, e := range c.Env {
		value, err := a.envValue(ctx, pod, c, e)
		if err != nil {
			return nil, err
		}
		set(e.Name, rewriteVolumePaths(value, c.VolumeMounts, files))
	}
	set("KUBERNETES_SERVICE_HOST", a.cfg.APIHost)
	set("KUBERNETES_SERVICE_PORT", a.cfg.APIPort)
	if a.cfg.BuildkitHost != "" {
		set("BUILDKIT_HOST", a.cfg.BuildkitHost)
	}
	// Shared by the builds of this node, unlike the work dir: a build of a
	// commit checked out before copies it instead of cloning.
	set("SLIPWAY_SOURCE_CACHE", filepath.Join(a.cfg.DataDir, "builds", "source-cache"))
	// Always set, even empty: the admin's choice, never the pod's.
	set(podenv.EnvLocalGitRoot, a.cfg.LocalGitRoot)
	set("SLIPWAY_WORK_DIR", files.work())
	set("SLIPWAY_TERMINATION_LOG", files.terminationLog())
	// The pod's kube-api-access volume (token, ca.crt, namespace): a host
	// process does not see its mount at serviceAccountMountPath.
	if dir := serviceAccountDir(c, files); dir != "" {
		set(podenv.EnvServiceAccountDir, dir)
	}
	// Lets the next agent recognise this process as the pod's (killOrphans).
	set(podUIDEnv, string(pod.UID))
	env := make([]string, 0, len(names))
	for _, n := range names {
		env = append(env, n+"="+values[n])
	}
	return env, nil
}

// appEnv is the environment a runc container adds to its image's: the
// container's env (sources resolved), then the API server's address.
func (a *Agent) appEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container) ([]string, error) {
	env := make([]string, 0, len(c.Env)+2)
	for _, e := range c.Env {
		value, err := a.envValue(ctx, pod, c, e)
		if err != nil {
			return nil, err
		}
		env = append(env, e.Name+"="+value)
	}
	env = append(env, "HOSTNAME="+pod.Name, "KUBERNETES_SERVICE_HOST="+a.cfg.APIHost, "KUBERNETES_SERVICE_PORT="+a.cfg.APIPort)
	return env, nil
}

// envValue is the value of the container env var e: its value, or its
// source resolved.
func (a *Agent) envValue(ctx context.Context, pod *corev1.Pod, c *corev1.Container, e corev1.EnvVar) (string, error) {
	if e.ValueFrom == nil {
		return e.Value, nil
	}
	v, err := a.valueFrom(ctx, pod, c, e.ValueFrom)
	if err != nil {
		return "", fmt.Errorf("env %s: %w", e.Name, err)
	}
	return v, nil
}

// valueFrom resolves an env var's source: pod fields, container
// resources, secret and config map keys.
func (a *Agent) valueFrom(ctx context.Context, pod *corev1.Pod, c *corev1.Container, from *corev1.EnvVarSource) (string, error) {
	switch {
	case from.FieldRef != nil:
		switch from.FieldRef.FieldPath {
		case "metadata.name":
			return pod.Name, nil
		case "metadata.namespace":
			return pod.Namespace, nil
		case "metadata.uid":
			return string(pod.UID), nil
		case "spec.serviceAccountName":
			return pod.Spec.ServiceAccountName, nil
		case "spec.nodeName":
			return pod.Spec.NodeName, nil
		case "status.hostIP":
			return a.cfg.HostIP, nil
		}
		// metadata.labels['key'], metadata.annotations['key'], ...
		return fieldpath.ExtractFieldPathAsString(pod, from.FieldRef.FieldPath)
	case from.ResourceFieldRef != nil:
		ref := from.ResourceFieldRef.DeepCopy()
		if ref.ContainerName == "" {
			ref.ContainerName = c.Name
		}
		// An unset limit is the node's allocatable, as on a kubelet.
		return resourcehelper.ExtractResourceValueByContainerNameAndNodeAllocatable(ref, pod, ref.ContainerName, a.allocatable())
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		s, err := readForPod(ctx, a.client.CoreV1().Secrets(pod.Namespace).Get, ref.Name)
		if err != nil {
			return "", fmt.Errorf("secret %q: %w", ref.Name, err)
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			return "", fmt.Errorf("secret %q has no key %q", ref.Name, ref.Key)
		}
		return string(v), nil
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		cm, err := readForPod(ctx, a.client.CoreV1().ConfigMaps(pod.Namespace).Get, ref.Name)
		if err != nil {
			return "", fmt.Errorf("config map %q: %w", ref.Name, err)
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			return "", fmt.Errorf("config map %q has no key %q", ref.Name, ref.Key)
		}
		return v, nil
	}
	return "", fmt.Errorf("unsupported value source")
}
