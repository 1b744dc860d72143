package build

import (
	"fmt"
	"slices"

	buildv1 "github.com/openshift/api/build/v1"
	buildscheme "github.com/openshift/client-go/build/clientset/versioned/scheme"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/slipway-dev/slipway/internal/buildgenerator"
	"github.com/slipway-dev/slipway/internal/registry/build/buildspec"
)

// Build pod contract shared with the node agent and the builder.
const (
	// ContainerName is the build pod's one container.
	ContainerName = "docker-build"
	// BuilderImage names the builder; the node agent runs host-process
	// pods from the slipway binary itself, whatever the image.
	BuilderImage = "slipway/builder"
	// HostProcessAnnotation asks the node agent to run the pod as a host
	// process (the builder needs the privileges to drive BuildKit).
	HostProcessAnnotation = "slipway.dev/host-process"
	// DefaultActiveDeadlineSeconds bounds a build without
	// completionDeadlineSeconds: one week, as in OpenShift.
	DefaultActiveDeadlineSeconds int64 = 604800

	PushSecretMountPath   = "/var/run/secrets/openshift.io/push"
	PullSecretMountPath   = "/var/run/secrets/openshift.io/pull"
	SourceSecretMountPath = "/var/run/secrets/openshift.io/source"
)

// allowedStrategyEnv are the strategy env vars the builder process itself
// sees; the rest only go into the image.
var allowedStrategyEnv = []string{
	"BUILD_LOGLEVEL", "GIT_SSL_NO_VERIFY", "GIT_LFS_SKIP_SMUDGE", "LANG",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
}

// BuildPod returns the pod that runs b. b must already carry the resolved
// output reference and the chosen secrets: it is handed to the builder
// whole, as JSON in env BUILD.
//
// OpenShift splits the work into init containers (git-clone,
// manage-dockerfile) and docker-build; Slipway's builder does every step
// in the one docker-build container, so a host-process pod is one process.
func BuildPod(b *buildv1.Build) (*corev1.Pod, error) {
	buildJSON, err := runtime.Encode(buildscheme.Codecs.LegacyCodec(buildv1.GroupVersion), b)
	if err != nil {
		return nil, fmt.Errorf("encoding build %s/%s for its pod: %w", b.Namespace, b.Name, err)
	}
	env := []corev1.EnvVar{
		{Name: "BUILD", Value: string(buildJSON)},
		{Name: "LANG", Value: "C.utf8"},
	}
	if git := b.Spec.Source.Git; git != nil {
		env = append(env,
			corev1.EnvVar{Name: "SOURCE_REPOSITORY", Value: git.URI},
			corev1.EnvVar{Name: "SOURCE_URI", Value: git.URI},
		)
		if git.Ref != "" {
			env = append(env, corev1.EnvVar{Name: "SOURCE_REF", Value: git.Ref})
		}
	}
	if b.Spec.Source.ContextDir != "" {
		env = append(env, corev1.EnvVar{Name: "SOURCE_CONTEXT_DIR", Value: b.Spec.Source.ContextDir})
	}
	if strategyEnv := buildgenerator.StrategyEnv(&b.Spec.Strategy); strategyEnv != nil {
		for _, e := range *strategyEnv {
			if slices.Contains(allowedStrategyEnv, e.Name) && e.ValueFrom == nil {
				if i := slices.IndexFunc(env, func(x corev1.EnvVar) bool { return x.Name == e.Name }); i >= 0 {
					env[i] = e
				} else {
					env = append(env, e)
				}
			}
		}
	}

	var volumes []corev1.Volume
	var mounts []corev1.VolumeMount
	mountSecret := func(volume string, secret *corev1.LocalObjectReference, path, envName string) {
		if secret == nil || secret.Name == "" {
			return
		}
		volumes = append(volumes, corev1.Volume{Name: volume, VolumeSource: corev1.VolumeSource{
			Secret: &corev1.SecretVolumeSource{SecretName: secret.Name},
		}})
		mounts = append(mounts, corev1.VolumeMount{Name: volume, MountPath: path, ReadOnly: true})
		env = append(env, corev1.EnvVar{Name: envName, Value: path})
	}
	if b.Spec.Output.To != nil {
		mountSecret("push-secret", b.Spec.Output.PushSecret, PushSecretMountPath, "PUSH_DOCKERCFG_PATH")
	}
	if pull := buildspec.StrategyPullSecret(&b.Spec.Strategy); pull != nil {
		mountSecret("pull-secret", *pull, PullSecretMountPath, "PULL_DOCKERCFG_PATH")
	}
	mountSecret("source-secret", b.Spec.Source.SourceSecret, SourceSecretMountPath, "SOURCE_SECRET_PATH")

	deadline := DefaultActiveDeadlineSeconds
	if d := b.Spec.CompletionDeadlineSeconds; d != nil && *d > 0 {
		deadline = *d
	}
	name := buildgenerator.PodName(b.Name)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: b.Namespace,
			Labels:    map[string]string{buildv1.BuildLabel: buildgenerator.LabelValue(b.Name)},
			Annotations: map[string]string{
				buildv1.BuildAnnotation: b.Name,
				HostProcessAnnotation:   "true",
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: buildv1.GroupVersion.String(),
				Kind:       "Build",
				Name:       b.Name,
				UID:        b.UID,
				Controller: ptr(true),
			}},
		},
		Spec: corev1.PodSpec{
			ServiceAccountName:    b.Spec.ServiceAccount,
			RestartPolicy:         corev1.RestartPolicyNever,
			ActiveDeadlineSeconds: &deadline,
			NodeSelector:          b.Spec.NodeSelector,
			Containers: []corev1.Container{{
				Name:                     ContainerName,
				Image:                    BuilderImage,
				Command:                  []string{"slipway", "builder"},
				Env:                      env,
				Resources:                b.Spec.Resources,
				VolumeMounts:             mounts,
				TerminationMessagePath:   corev1.TerminationMessagePathDefault,
				TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				// A binary build's input arrives on stdin
				// (buildconfigs/instantiatebinary writes it), once.
				Stdin:     b.Spec.Source.Binary != nil,
				StdinOnce: b.Spec.Source.Binary != nil,
			}},
			Volumes: volumes,
		},
	}, nil
}

func ptr[T any](v T) *T { return &v }
