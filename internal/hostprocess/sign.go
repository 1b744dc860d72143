// Package hostprocess signs the pods Slipway's controllers make to run as
// host processes of the node (build and deployer pods: `slipway builder`
// and `slipway deployer`, outside any container, with the node's
// privileges), and checks the signature on the node. Admission already
// lets only the controllers create such pods; the node checks for itself,
// whatever admission says: a pod it runs on the host is one a controller
// made, with the owner, identity, program and environment it was made
// with.
package hostprocess

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotation marks a pod that runs as a host process ("true").
const Annotation = "slipway.dev/host-process"

// SignatureAnnotation holds a pod's signature.
const SignatureAnnotation = "slipway.dev/host-process-signature"

// Signer signs and checks host-process pods with one secret key, shared by
// the controllers and the node of one Slipway.
type Signer struct{ key []byte }

// NewSigner returns a Signer with key (at least 32 bytes).
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < 32 {
		return nil, errors.New("a host-process signing key needs at least 32 bytes")
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// LoadOrCreateKey reads the key in path, creating it (0600) when missing.
func LoadOrCreateKey(path string) ([]byte, error) {
	if key, err := os.ReadFile(path); err == nil {
		return key, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("writing the host-process key: %w", err)
	}
	return key, nil
}

// signed is what a signature covers: where the pod is, who owns it, as
// whom it runs and what each container runs with. Admission adds volumes
// and mounts (the service account token) after the controller signed, so
// those are left out; a pod's spec cannot change after creation.
type signed struct {
	Namespace      string                  `json:"namespace"`
	Name           string                  `json:"name"`
	Owners         []metav1.OwnerReference `json:"owners"`
	ServiceAccount string                  `json:"serviceAccount"`
	Containers     []container             `json:"containers"`
}

type container struct {
	Name       string                 `json:"name"`
	Image      string                 `json:"image"`
	Command    []string               `json:"command"`
	Args       []string               `json:"args"`
	WorkingDir string                 `json:"workingDir"`
	Env        []corev1.EnvVar        `json:"env"`
	EnvFrom    []corev1.EnvFromSource `json:"envFrom"`
	Stdin      bool                   `json:"stdin"`
}

func (s *Signer) mac(pod *corev1.Pod) ([]byte, error) {
	content := signed{
		Namespace: pod.Namespace, Name: pod.Name, Owners: pod.OwnerReferences,
		ServiceAccount: pod.Spec.ServiceAccountName,
	}
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			content.Containers = append(content.Containers, container{
				Name: c.Name, Image: c.Image, Command: c.Command, Args: c.Args,
				WorkingDir: c.WorkingDir, Env: c.Env, EnvFrom: c.EnvFrom, Stdin: c.Stdin,
			})
		}
	}
	b, err := json.Marshal(content)
	if err != nil {
		return nil, err
	}
	h := hmac.New(sha256.New, s.key)
	h.Write(b)
	return h.Sum(nil), nil
}

// Sign records pod's signature in its annotations. The pod's namespace
// and name must be set.
func (s *Signer) Sign(pod *corev1.Pod) error {
	sum, err := s.mac(pod)
	if err != nil {
		return err
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[SignatureAnnotation] = base64.RawStdEncoding.EncodeToString(sum)
	return nil
}

// Verify checks pod's signature; an error says why the pod may not run as
// a host process.
func (s *Signer) Verify(pod *corev1.Pod) error {
	got, err := base64.RawStdEncoding.DecodeString(pod.Annotations[SignatureAnnotation])
	if err != nil || len(got) == 0 {
		return errors.New("the pod carries no valid signature of Slipway's controllers")
	}
	want, err := s.mac(pod)
	if err != nil {
		return err
	}
	if !hmac.Equal(got, want) {
		return errors.New("the pod's signature does not match it: it was not made, or not left, as Slipway's controllers made it")
	}
	return nil
}
