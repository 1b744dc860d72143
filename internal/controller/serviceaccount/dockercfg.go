package serviceaccount

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// TokenSecretNameAnnotation names, on a dockercfg secret, the token
	// secret whose token it carries (OpenShift's annotation).
	TokenSecretNameAnnotation = "openshift.io/token-secret.name"
	// DockercfgUsername is the user name the registry pull secrets carry; the
	// registry ignores it and checks the token given as the password.
	DockercfgUsername = "serviceaccount"
)

// DockercfgSecretPrefix is the name prefix of the registry pull secrets of
// service account sa.
func DockercfgSecretPrefix(sa string) string {
	return sa + "-dockercfg-"
}

// NewDockercfgSecretName returns `<sa>-dockercfg-<5 random lowercase alnum>`.
func NewDockercfgSecretName(sa string) (string, error) {
	return generateName(DockercfgSecretPrefix(sa))
}

// RegistryHosts returns the names a pull secret for the internal registry
// at hostname (host:port) must cover: hostname itself and, for a loopback
// registry, the other loopback spelling (localhost:<port> for 127.0.0.1 or
// ::1, 127.0.0.1:<port> for localhost), since clients name it either way.
func RegistryHosts(hostname string) []string {
	if hostname == "" {
		return nil
	}
	hosts := []string{hostname}
	host, port, err := net.SplitHostPort(hostname)
	if err != nil {
		return hosts
	}
	switch ip := net.ParseIP(host); {
	case host == "localhost":
		hosts = append(hosts, net.JoinHostPort("127.0.0.1", port))
	case ip != nil && ip.IsLoopback():
		hosts = append(hosts, net.JoinHostPort("localhost", port))
	}
	return hosts
}

// dockercfgEntry is one registry's credentials in a .dockercfg file.
type dockercfgEntry struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Email    string `json:"email"`
	Auth     string `json:"auth"`
}

// DockercfgData returns the .dockercfg content that lets a client log in to
// each of hosts with token: user "serviceaccount", password token, and
// auth = base64("serviceaccount:" + token).
func DockercfgData(hosts []string, token string) ([]byte, error) {
	cfg := make(map[string]dockercfgEntry, len(hosts))
	auth := base64.StdEncoding.EncodeToString([]byte(DockercfgUsername + ":" + token))
	for _, h := range hosts {
		cfg[h] = dockercfgEntry{Username: DockercfgUsername, Password: token, Email: "serviceaccount@example.org", Auth: auth}
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encoding .dockercfg: %w", err)
	}
	return data, nil
}

// NewDockercfgSecret builds the registry pull secret of sa named name, made
// from tokenSecret's token, for hosts.
func NewDockercfgSecret(sa *corev1.ServiceAccount, name string, tokenSecret *corev1.Secret, hosts []string) (*corev1.Secret, error) {
	data, err := DockercfgData(hosts, string(tokenSecret.Data[TokenKey]))
	if err != nil {
		return nil, err
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: sa.Namespace,
			Annotations: map[string]string{
				corev1.ServiceAccountNameKey: sa.Name,
				corev1.ServiceAccountUIDKey:  string(sa.UID),
				TokenSecretNameAnnotation:    tokenSecret.Name,
			},
		},
		Type: corev1.SecretTypeDockercfg,
		Data: map[string][]byte{corev1.DockerConfigKey: data},
	}, nil
}

// IsDockercfgSecretFor reports whether secret is a registry pull secret the
// controller made for sa (type, annotations naming sa and its UID).
func IsDockercfgSecretFor(secret *corev1.Secret, sa *corev1.ServiceAccount) bool {
	if secret.Type != corev1.SecretTypeDockercfg || secret.Namespace != sa.Namespace || secret.DeletionTimestamp != nil {
		return false
	}
	if secret.Annotations[TokenSecretNameAnnotation] == "" || secret.Annotations[corev1.ServiceAccountNameKey] != sa.Name {
		return false
	}
	uid := secret.Annotations[corev1.ServiceAccountUIDKey]
	return uid == "" || uid == string(sa.UID)
}

// DockercfgState is what one account's registry pull secrets need.
type DockercfgState struct {
	// Current is the pull secret to keep; nil when one must be made.
	Current *corev1.Secret
	// Stale are the account's other pull secrets: made from a token that is
	// gone or for other registry hosts, or duplicates. They are deleted.
	Stale []*corev1.Secret
}

// DockercfgStateFor sorts sa's pull secrets among secrets: the first (by
// name) that carries one of tokens for exactly hosts is current, the rest
// are stale.
func DockercfgStateFor(sa *corev1.ServiceAccount, tokens, secrets []*corev1.Secret, hosts []string) DockercfgState {
	var state DockercfgState
	var mine []*corev1.Secret
	for _, s := range secrets {
		if IsDockercfgSecretFor(s, sa) {
			mine = append(mine, s)
		}
	}
	slices.SortFunc(mine, func(a, b *corev1.Secret) int { return strings.Compare(a.Name, b.Name) })
	for _, s := range mine {
		if state.Current == nil && dockercfgIsCurrent(s, tokens, hosts) {
			state.Current = s
			continue
		}
		state.Stale = append(state.Stale, s)
	}
	return state
}

// dockercfgIsCurrent reports whether secret carries the token of one of
// tokens (the one it names) for exactly hosts.
func dockercfgIsCurrent(secret *corev1.Secret, tokens []*corev1.Secret, hosts []string) bool {
	name := secret.Annotations[TokenSecretNameAnnotation]
	i := slices.IndexFunc(tokens, func(t *corev1.Secret) bool { return t.Name == name })
	if i < 0 {
		return false
	}
	want, err := DockercfgData(hosts, string(tokens[i].Data[TokenKey]))
	return err == nil && bytes.Equal(want, secret.Data[corev1.DockerConfigKey])
}

// DockercfgReferences returns sa's secrets and imagePullSecrets lists with
// name as the only `<sa>-dockercfg-*` reference in each (appended when
// missing; name "" removes them all); other references keep their order.
func DockercfgReferences(sa *corev1.ServiceAccount, secrets []corev1.ObjectReference, name string) (refs []corev1.ObjectReference, pullRefs []corev1.LocalObjectReference, changed bool) {
	prefix := DockercfgSecretPrefix(sa.Name)
	refs, secretsChanged := keepOneReference(secrets, prefix, name,
		func(r corev1.ObjectReference) string { return r.Name },
		func(n string) corev1.ObjectReference { return corev1.ObjectReference{Name: n} })
	pullRefs, pullChanged := keepOneReference(sa.ImagePullSecrets, prefix, name,
		func(r corev1.LocalObjectReference) string { return r.Name },
		func(n string) corev1.LocalObjectReference { return corev1.LocalObjectReference{Name: n} })
	return refs, pullRefs, secretsChanged || pullChanged
}

// keepOneReference drops the references whose name has prefix except the
// first named name, and appends name when absent (unless it is "").
func keepOneReference[T any](in []T, prefix, name string, nameOf func(T) string, newRef func(string) T) (out []T, changed bool) {
	found := false
	for _, ref := range in {
		if n := nameOf(ref); strings.HasPrefix(n, prefix) {
			if n != name || found {
				changed = true
				continue
			}
			found = true
		}
		out = append(out, ref)
	}
	if !found && name != "" {
		out = append(out, newRef(name))
		changed = true
	}
	return out, changed
}

// OrphanedDockercfgSecrets returns the pull secrets among secrets made for
// an account that is not in sas (or was recreated since).
func OrphanedDockercfgSecrets(sas []*corev1.ServiceAccount, secrets []*corev1.Secret) []*corev1.Secret {
	var orphans []*corev1.Secret
	for _, s := range secrets {
		if s.Type != corev1.SecretTypeDockercfg || s.DeletionTimestamp != nil || s.Annotations[TokenSecretNameAnnotation] == "" {
			continue
		}
		name := s.Annotations[corev1.ServiceAccountNameKey]
		if name == "" {
			continue
		}
		i := slices.IndexFunc(sas, func(sa *corev1.ServiceAccount) bool { return sa.Name == name })
		if i < 0 || !IsDockercfgSecretFor(s, sas[i]) {
			orphans = append(orphans, s)
		}
	}
	return orphans
}

// DockercfgPlanEmpty reports whether every live account of the namespace
// has exactly its current pull secret for hosts, referenced from secrets
// and imagePullSecrets, and no pull secret is orphaned. With no hosts
// there is nothing to do.
func DockercfgPlanEmpty(hosts []string, sas []*corev1.ServiceAccount, secrets []*corev1.Secret) bool {
	if len(hosts) == 0 {
		return true
	}
	if len(OrphanedDockercfgSecrets(sas, secrets)) > 0 {
		return false
	}
	for _, sa := range sas {
		if sa.DeletionTimestamp != nil {
			continue
		}
		state := DockercfgStateFor(sa, TokenSecretsFor(sa, secrets), secrets, hosts)
		if state.Current == nil || len(state.Stale) > 0 {
			return false
		}
		if _, _, changed := DockercfgReferences(sa, sa.Secrets, state.Current.Name); changed {
			return false
		}
	}
	return true
}
