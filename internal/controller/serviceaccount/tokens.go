package serviceaccount

import (
	"crypto/rand"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultServiceAccounts are the service accounts every active namespace gets,
// as in OpenShift: builds run as builder, deployer pods as deployer, the rest as default.
var DefaultServiceAccounts = []string{"builder", "default", "deployer"}

const (
	// TokenKey, NamespaceKey and CAKey are the data keys of a token secret; the
	// API server's service-account authenticator reads the same layout.
	TokenKey     = corev1.ServiceAccountTokenKey
	NamespaceKey = corev1.ServiceAccountNamespaceKey
	CAKey        = corev1.ServiceAccountRootCAKey

	// suffixLength is the length of the random suffix of generated secret names.
	suffixLength = 5
	// maxNameLength keeps generated names valid DNS subdomains and label values.
	maxNameLength  = 63
	suffixAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
)

// TokenSecretPrefix is the name prefix of the token secrets of service account sa.
func TokenSecretPrefix(sa string) string {
	return sa + "-token-"
}

// NewTokenSecretName returns `<sa>-token-<5 random lowercase alnum>`, with the
// prefix shortened when needed so the name stays within 63 characters.
func NewTokenSecretName(sa string) (string, error) {
	return generateName(TokenSecretPrefix(sa))
}

// generateName appends a random suffix to prefix, truncating the prefix so the
// result is at most maxNameLength long.
func generateName(prefix string) (string, error) {
	if max := maxNameLength - suffixLength; len(prefix) > max {
		prefix = prefix[:max]
	}
	b := make([]byte, suffixLength)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("reading random name suffix: %w", err)
	}
	for i := range b {
		// 256 % 36 != 0 gives a negligible bias, fine for a uniqueness suffix.
		b[i] = suffixAlphabet[int(b[i])%len(suffixAlphabet)]
	}
	return prefix + string(b), nil
}

// NewTokenSecret builds an empty token secret for sa with the given name:
// Kubernetes' token controller (kube-controller-manager) fills in a signed
// token, ca.crt and namespace, as it does for every secret of this type.
func NewTokenSecret(sa *corev1.ServiceAccount, name string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: sa.Namespace,
			Annotations: map[string]string{
				corev1.ServiceAccountNameKey: sa.Name,
				corev1.ServiceAccountUIDKey:  string(sa.UID),
			},
		},
		Type: corev1.SecretTypeServiceAccountToken,
	}
}

// IsTokenSecretFor reports whether secret is a token secret of sa: the
// right type, annotations naming sa (and its UID, so a recreated account does
// not inherit the old one's tokens), not being deleted, and either still
// empty (its token is on the way) or holding a signed token.
func IsTokenSecretFor(secret *corev1.Secret, sa *corev1.ServiceAccount) bool {
	if secret.Type != corev1.SecretTypeServiceAccountToken || secret.Namespace != sa.Namespace {
		return false
	}
	if secret.DeletionTimestamp != nil {
		return false
	}
	if secret.Annotations[corev1.ServiceAccountNameKey] != sa.Name {
		return false
	}
	if uid := secret.Annotations[corev1.ServiceAccountUIDKey]; uid != "" && uid != string(sa.UID) {
		return false
	}
	return !staleToken(secret)
}

// HasToken reports whether a token secret holds its signed token yet.
func HasToken(secret *corev1.Secret) bool {
	return len(secret.Data[TokenKey]) > 0 && !staleToken(secret)
}

// staleToken reports a token that is not a signed JWT: the random tokens
// Slipway made itself before Kubernetes' token controller did, which no API
// server accepts any more.
func staleToken(secret *corev1.Secret) bool {
	token := secret.Data[TokenKey]
	return len(token) > 0 && strings.Count(string(token), ".") != 2
}

// MissingServiceAccounts returns the names in want that have no service account in existing.
func MissingServiceAccounts(want []string, existing []*corev1.ServiceAccount) []string {
	var missing []string
	for _, name := range want {
		if !slices.ContainsFunc(existing, func(sa *corev1.ServiceAccount) bool { return sa.Name == name }) {
			missing = append(missing, name)
		}
	}
	return missing
}

// TokenSecretsFor returns the usable token secrets of sa among secrets, sorted by name.
func TokenSecretsFor(sa *corev1.ServiceAccount, secrets []*corev1.Secret) []*corev1.Secret {
	var tokens []*corev1.Secret
	for _, s := range secrets {
		if IsTokenSecretFor(s, sa) {
			tokens = append(tokens, s)
		}
	}
	slices.SortFunc(tokens, func(a, b *corev1.Secret) int { return strings.Compare(a.Name, b.Name) })
	return tokens
}

// OrphanedTokenSecrets returns the token secrets among secrets whose service
// account is not in sas, or whose recorded UID belongs to an earlier account of
// the same name.
func OrphanedTokenSecrets(sas []*corev1.ServiceAccount, secrets []*corev1.Secret) []*corev1.Secret {
	byName := make(map[string]*corev1.ServiceAccount, len(sas))
	for _, sa := range sas {
		byName[sa.Name] = sa
	}
	var orphans []*corev1.Secret
	for _, s := range secrets {
		if s.Type != corev1.SecretTypeServiceAccountToken || s.DeletionTimestamp != nil {
			continue
		}
		name := s.Annotations[corev1.ServiceAccountNameKey]
		if name == "" {
			continue // not bound to an account by us; leave it to whoever made it
		}
		if staleToken(s) {
			orphans = append(orphans, s)
			continue
		}
		sa, ok := byName[name]
		if !ok {
			orphans = append(orphans, s)
			continue
		}
		if uid := s.Annotations[corev1.ServiceAccountUIDKey]; uid != "" && sa.UID != "" && uid != string(sa.UID) {
			orphans = append(orphans, s)
		}
	}
	return orphans
}

// SecretReferences computes sa.secrets after reconciliation: references to
// token secrets of sa that no longer exist are dropped (names with the
// `<sa>-token-` prefix that are not in existing), and when none of tokens is
// referenced the first one is appended. Other references, e.g. secrets a user
// linked, are kept in order. changed reports whether the list differs.
func SecretReferences(sa *corev1.ServiceAccount, tokens []*corev1.Secret, existing map[string]bool) (refs []corev1.ObjectReference, changed bool) {
	prefix := TokenSecretPrefix(sa.Name)
	referencesToken := false
	for _, ref := range sa.Secrets {
		if strings.HasPrefix(ref.Name, prefix) && !existing[ref.Name] {
			changed = true
			continue
		}
		if slices.ContainsFunc(tokens, func(s *corev1.Secret) bool { return s.Name == ref.Name }) {
			referencesToken = true
		}
		refs = append(refs, ref)
	}
	if !referencesToken && len(tokens) > 0 {
		refs = append(refs, corev1.ObjectReference{Name: tokens[0].Name})
		changed = true
	}
	return refs, changed
}

// Plan is what one namespace needs so that its service accounts and their
// token secrets are complete.
type Plan struct {
	// CreateServiceAccounts are default accounts that do not exist.
	CreateServiceAccounts []string
	// NeedToken are accounts without a usable token secret.
	NeedToken []*corev1.ServiceAccount
	// FixReferences maps account name to its corrected secrets list.
	FixReferences map[string][]corev1.ObjectReference
	// DeleteSecrets are token secrets whose account is gone.
	DeleteSecrets []*corev1.Secret
}

// Empty reports whether the namespace is already complete.
func (p Plan) Empty() bool {
	return len(p.CreateServiceAccounts) == 0 && len(p.NeedToken) == 0 && len(p.FixReferences) == 0 && len(p.DeleteSecrets) == 0
}

// PlanNamespace compares the service accounts and secrets of one active
// namespace with what it should hold: the accounts in want, a token secret
// for every account, each referenced from its account, and no orphaned tokens.
func PlanNamespace(want []string, sas []*corev1.ServiceAccount, secrets []*corev1.Secret) Plan {
	plan := Plan{
		CreateServiceAccounts: MissingServiceAccounts(want, sas),
		DeleteSecrets:         OrphanedTokenSecrets(sas, secrets),
	}
	existing := make(map[string]bool, len(secrets))
	for _, s := range secrets {
		existing[s.Name] = true
	}
	for _, sa := range sas {
		if sa.DeletionTimestamp != nil {
			continue
		}
		tokens := TokenSecretsFor(sa, secrets)
		if len(tokens) == 0 {
			plan.NeedToken = append(plan.NeedToken, sa)
		}
		if refs, changed := SecretReferences(sa, tokens, existing); changed {
			if plan.FixReferences == nil {
				plan.FixReferences = map[string][]corev1.ObjectReference{}
			}
			plan.FixReferences[sa.Name] = refs
		}
	}
	return plan
}
