package serviceaccount

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestNewTokenSecretName(t *testing.T) {
	long := strings.Repeat("a", 70)
	tests := []struct {
		sa   string
		want *regexp.Regexp
	}{
		{"builder", regexp.MustCompile(`^builder-token-[a-z0-9]{5}$`)},
		{"default", regexp.MustCompile(`^default-token-[a-z0-9]{5}$`)},
		{long, regexp.MustCompile(`^a{58}[a-z0-9]{5}$`)},
	}
	for _, tt := range tests {
		name, err := NewTokenSecretName(tt.sa)
		if err != nil {
			t.Fatal(err)
		}
		if !tt.want.MatchString(name) {
			t.Errorf("NewTokenSecretName(%q) = %q, want match %s", tt.sa, name, tt.want)
		}
		if len(name) > 63 {
			t.Errorf("NewTokenSecretName(%q) = %q longer than 63", tt.sa, name)
		}
	}
	a, _ := NewTokenSecretName("x")
	b, _ := NewTokenSecretName("x")
	c, _ := NewTokenSecretName("x")
	if a == b && b == c {
		t.Errorf("three generated names are all %q", a)
	}
}

func TestNewTokenSecret(t *testing.T) {
	sa := testSA("builder", "u1")
	s := NewTokenSecret(sa, "builder-token-abcde")
	if s.Name != "builder-token-abcde" || s.Namespace != "p" || s.Type != corev1.SecretTypeServiceAccountToken {
		t.Errorf("unexpected metadata/type: %s/%s %s", s.Namespace, s.Name, s.Type)
	}
	if s.Annotations["kubernetes.io/service-account.name"] != "builder" || s.Annotations["kubernetes.io/service-account.uid"] != "u1" {
		t.Errorf("annotations = %v", s.Annotations)
	}
	// Kubernetes' token controller fills the data in.
	if len(s.Data) != 0 {
		t.Errorf("data = %q, want none", s.Data)
	}
	if !IsTokenSecretFor(s, sa) {
		t.Error("IsTokenSecretFor(new secret) = false")
	}
	if HasToken(s) {
		t.Error("HasToken(new secret) = true before the token controller signed one")
	}
}

func TestHasToken(t *testing.T) {
	signed := testToken("builder-token-aaaaa", "builder", "u1")
	empty := testToken("builder-token-aaaaa", "builder", "u1")
	empty.Data = nil
	stale := testToken("builder-token-aaaaa", "builder", "u1")
	stale.Data = map[string][]byte{"token": []byte(staleTokenValue)}
	tests := []struct {
		name   string
		secret *corev1.Secret
		want   bool
	}{
		{"signed JWT", signed, true},
		{"not filled in yet", empty, false},
		{"random token of the old layout", stale, false},
	}
	for _, tt := range tests {
		if got := HasToken(tt.secret); got != tt.want {
			t.Errorf("%s: HasToken = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func testSA(name, uid string, refs ...string) *corev1.ServiceAccount {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "p", UID: types.UID(uid)}}
	for _, r := range refs {
		sa.Secrets = append(sa.Secrets, corev1.ObjectReference{Name: r})
	}
	return sa
}

func testToken(name, sa, uid string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "p", UID: types.UID("s-" + name), Annotations: map[string]string{
			corev1.ServiceAccountNameKey: sa, corev1.ServiceAccountUIDKey: uid,
		}},
		Type: corev1.SecretTypeServiceAccountToken,
		Data: map[string][]byte{"token": []byte(signedTokenValue)},
	}
}

// signedTokenValue has the shape of a JWT the token controller signs;
// staleTokenValue is a random token Slipway made before Kubernetes did
// (32 bytes, base64url).
const (
	signedTokenValue = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
	staleTokenValue  = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq83"
)

func TestIsTokenSecretFor(t *testing.T) {
	sa := testSA("builder", "u1")
	opaque := testToken("builder-token-aaaaa", "builder", "u1")
	opaque.Type = corev1.SecretTypeOpaque
	empty := testToken("builder-token-aaaaa", "builder", "u1")
	empty.Data = nil
	deleting := testToken("builder-token-aaaaa", "builder", "u1")
	deleting.DeletionTimestamp = &metav1.Time{}
	stale := testToken("builder-token-aaaaa", "builder", "u1")
	stale.Data = map[string][]byte{"token": []byte(staleTokenValue)}
	tests := []struct {
		name   string
		secret *corev1.Secret
		want   bool
	}{
		{"matching", testToken("builder-token-aaaaa", "builder", "u1"), true},
		{"no uid annotation", testToken("builder-token-aaaaa", "builder", ""), true},
		{"other account", testToken("default-token-aaaaa", "default", "u1"), false},
		{"older account of same name", testToken("builder-token-aaaaa", "builder", "u0"), false},
		{"opaque type", opaque, false},
		{"token not filled in yet", empty, true},
		{"random token of the old layout", stale, false},
		{"being deleted", deleting, false},
	}
	for _, tt := range tests {
		if got := IsTokenSecretFor(tt.secret, sa); got != tt.want {
			t.Errorf("%s: IsTokenSecretFor = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestMissingServiceAccounts(t *testing.T) {
	tests := []struct {
		existing []*corev1.ServiceAccount
		want     []string
	}{
		{nil, []string{"builder", "default", "deployer"}},
		{[]*corev1.ServiceAccount{testSA("default", "1"), testSA("robot", "2")}, []string{"builder", "deployer"}},
		{[]*corev1.ServiceAccount{testSA("deployer", "1"), testSA("default", "2"), testSA("builder", "3")}, nil},
	}
	for _, tt := range tests {
		if got := MissingServiceAccounts(DefaultServiceAccounts, tt.existing); !slices.Equal(got, tt.want) {
			t.Errorf("MissingServiceAccounts = %v, want %v", got, tt.want)
		}
	}
}

func TestOrphanedTokenSecrets(t *testing.T) {
	sas := []*corev1.ServiceAccount{testSA("builder", "u1")}
	user := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "mine", Namespace: "p"}, Type: corev1.SecretTypeOpaque}
	unannotated := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "raw", Namespace: "p"}, Type: corev1.SecretTypeServiceAccountToken}
	stale := testToken("builder-token-ddddd", "builder", "u1")
	stale.Data = map[string][]byte{"token": []byte(staleTokenValue)}
	empty := testToken("builder-token-eeeee", "builder", "u1")
	empty.Data = nil
	secrets := []*corev1.Secret{
		testToken("builder-token-aaaaa", "builder", "u1"),
		testToken("builder-token-bbbbb", "builder", "u0"),
		testToken("gone-token-ccccc", "gone", "u9"),
		stale, empty,
		user, unannotated,
	}
	var got []string
	for _, s := range OrphanedTokenSecrets(sas, secrets) {
		got = append(got, s.Name)
	}
	want := []string{"builder-token-bbbbb", "gone-token-ccccc", "builder-token-ddddd"}
	if !slices.Equal(got, want) {
		t.Errorf("OrphanedTokenSecrets = %v, want %v", got, want)
	}
}

func TestSecretReferences(t *testing.T) {
	tok := testToken("builder-token-aaaaa", "builder", "u1")
	tests := []struct {
		name        string
		sa          *corev1.ServiceAccount
		tokens      []*corev1.Secret
		existing    []string
		want        []string
		wantChanged bool
	}{
		{"adds missing reference", testSA("builder", "u1"), []*corev1.Secret{tok}, []string{tok.Name}, []string{tok.Name}, true},
		{"already referenced", testSA("builder", "u1", "pull", tok.Name), []*corev1.Secret{tok}, []string{tok.Name}, []string{"pull", tok.Name}, false},
		{"drops deleted token, adds new", testSA("builder", "u1", "builder-token-zzzzz", "linked"), []*corev1.Secret{tok}, []string{tok.Name},
			[]string{"linked", tok.Name}, true},
		{"keeps user links to missing secrets", testSA("builder", "u1", "not-yet-created", tok.Name), []*corev1.Secret{tok}, []string{tok.Name},
			[]string{"not-yet-created", tok.Name}, false},
		{"no token yet, dangling dropped", testSA("builder", "u1", "builder-token-zzzzz"), nil, nil, nil, true},
	}
	for _, tt := range tests {
		existing := map[string]bool{}
		for _, n := range tt.existing {
			existing[n] = true
		}
		refs, changed := SecretReferences(tt.sa, tt.tokens, existing)
		var got []string
		for _, r := range refs {
			got = append(got, r.Name)
		}
		if !slices.Equal(got, tt.want) || changed != tt.wantChanged {
			t.Errorf("%s: SecretReferences = %v, %v; want %v, %v", tt.name, got, changed, tt.want, tt.wantChanged)
		}
	}
}

func TestPlanNamespace(t *testing.T) {
	complete := func() ([]*corev1.ServiceAccount, []*corev1.Secret) {
		return []*corev1.ServiceAccount{
				testSA("builder", "u1", "builder-token-aaaaa"),
				testSA("default", "u2", "default-token-aaaaa"),
				testSA("deployer", "u3", "deployer-token-aaaaa"),
			}, []*corev1.Secret{
				testToken("builder-token-aaaaa", "builder", "u1"),
				testToken("default-token-aaaaa", "default", "u2"),
				testToken("deployer-token-aaaaa", "deployer", "u3"),
			}
	}
	sas, secrets := complete()
	if p := PlanNamespace(DefaultServiceAccounts, sas, secrets); !p.Empty() {
		t.Errorf("complete namespace: plan = %+v, want empty", p)
	}

	// The builder token was deleted: a new token and a fixed list are needed.
	sas, secrets = complete()
	p := PlanNamespace(DefaultServiceAccounts, sas, secrets[1:])
	if len(p.NeedToken) != 1 || p.NeedToken[0].Name != "builder" {
		t.Errorf("deleted token: NeedToken = %v", p.NeedToken)
	}
	if refs, ok := p.FixReferences["builder"]; !ok || len(refs) != 0 {
		t.Errorf("deleted token: FixReferences = %v", p.FixReferences)
	}

	// The deployer account was deleted: it is recreated and its token is an orphan.
	sas, secrets = complete()
	p = PlanNamespace(DefaultServiceAccounts, sas[:2], secrets)
	if !slices.Equal(p.CreateServiceAccounts, []string{"deployer"}) {
		t.Errorf("deleted account: CreateServiceAccounts = %v", p.CreateServiceAccounts)
	}
	if len(p.DeleteSecrets) != 1 || p.DeleteSecrets[0].Name != "deployer-token-aaaaa" {
		t.Errorf("deleted account: DeleteSecrets = %v", p.DeleteSecrets)
	}

	// A user's account gets a token too.
	sas, secrets = complete()
	p = PlanNamespace(DefaultServiceAccounts, append(sas, testSA("robot", "u4")), secrets)
	if len(p.NeedToken) != 1 || p.NeedToken[0].Name != "robot" || len(p.CreateServiceAccounts) != 0 {
		t.Errorf("user account: plan = %+v", p)
	}
}
