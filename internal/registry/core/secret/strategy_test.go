package secret

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func newSecret(typ corev1.SecretType, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"},
		Type:       typ,
		Data:       map[string][]byte{},
	}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func TestPrepareForCreateDefaults(t *testing.T) {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"},
		Data:       map[string][]byte{"a": []byte("old"), "b": []byte("kept")},
		StringData: map[string]string{"a": "new", "c": "added"},
	}
	Strategy.PrepareForCreate(context.Background(), s)
	if s.Type != corev1.SecretTypeOpaque {
		t.Errorf("type = %q, want Opaque", s.Type)
	}
	if s.StringData != nil {
		t.Errorf("stringData not cleared: %v", s.StringData)
	}
	want := map[string]string{"a": "new", "b": "kept", "c": "added"}
	for k, v := range want {
		if string(s.Data[k]) != v {
			t.Errorf("data[%s] = %q, want %q", k, s.Data[k], v)
		}
	}
}

func TestPrepareForUpdateMergesStringData(t *testing.T) {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"}, StringData: map[string]string{"x": "y"}}
	Strategy.PrepareForUpdate(context.Background(), s, newSecret(corev1.SecretTypeOpaque, nil))
	if string(s.Data["x"]) != "y" || s.StringData != nil {
		t.Errorf("data = %v, stringData = %v", s.Data, s.StringData)
	}
}

func TestValidateSecret(t *testing.T) {
	tests := []struct {
		name   string
		secret *corev1.Secret
		want   []string // substrings of the errors, in order; none means valid
	}{
		{name: "opaque", secret: newSecret(corev1.SecretTypeOpaque, map[string]string{"a.b_c-d": "x"})},
		{name: "bad key", secret: newSecret(corev1.SecretTypeOpaque, map[string]string{"a/b": "x"}), want: []string{"data[a/b]: Invalid value"}},
		{name: "dockercfg valid", secret: newSecret(corev1.SecretTypeDockercfg, map[string]string{".dockercfg": `{"registry.example.com":{"auth":"dTpw"}}`})},
		{name: "dockercfg missing key", secret: newSecret(corev1.SecretTypeDockercfg, nil), want: []string{"data[.dockercfg]: Required value"}},
		{name: "dockercfg not json", secret: newSecret(corev1.SecretTypeDockercfg, map[string]string{".dockercfg": `{nope`}), want: []string{"data[.dockercfg]: Invalid value: \"<secret contents redacted>\""}},
		{name: "dockercfg json array", secret: newSecret(corev1.SecretTypeDockercfg, map[string]string{".dockercfg": `[1]`}), want: []string{"data[.dockercfg]: Invalid value"}},
		{name: "dockerconfigjson valid", secret: newSecret(corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": `{"auths":{"quay.io":{"auth":"dTpw"}}}`})},
		{name: "dockerconfigjson empty auths", secret: newSecret(corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": `{"auths":{}}`})},
		{name: "dockerconfigjson missing key", secret: newSecret(corev1.SecretTypeDockerConfigJson, map[string]string{".dockercfg": `{}`}), want: []string{"data[.dockerconfigjson]: Required value"}},
		{name: "dockerconfigjson without auths", secret: newSecret(corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": `{"quay.io":{"auth":"dTpw"}}`}), want: []string{`must contain an "auths" map`}},
		{name: "dockerconfigjson auths not a map", secret: newSecret(corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": `{"auths":"x"}`}), want: []string{"data[.dockerconfigjson]: Invalid value"}},
		{name: "dockerconfigjson not json", secret: newSecret(corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": `auths`}), want: []string{"data[.dockerconfigjson]: Invalid value"}},
		{name: "sa token without name", secret: newSecret(corev1.SecretTypeServiceAccountToken, nil), want: []string{"metadata.annotations[kubernetes.io/service-account.name]: Required value"}},
		{name: "basic auth password only", secret: newSecret(corev1.SecretTypeBasicAuth, map[string]string{"password": ""})},
		{name: "basic auth empty", secret: newSecret(corev1.SecretTypeBasicAuth, nil), want: []string{"data[username]: Required value", "data[password]: Required value"}},
		{name: "ssh auth", secret: newSecret(corev1.SecretTypeSSHAuth, map[string]string{"ssh-privatekey": "k"})},
		{name: "ssh auth empty key", secret: newSecret(corev1.SecretTypeSSHAuth, map[string]string{"ssh-privatekey": ""}), want: []string{"data[ssh-privatekey]: Required value"}},
		{name: "tls missing key", secret: newSecret(corev1.SecretTypeTLS, map[string]string{"tls.crt": "c"}), want: []string{"data[tls.key]: Required value"}},
		{name: "too large", secret: newSecret(corev1.SecretTypeOpaque, map[string]string{"a": strings.Repeat("x", MaxSecretSize), "b": "y"}), want: []string{"data: Too long"}},
		{name: "bad name", secret: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "Bad_Name", Namespace: "ns"}, Type: corev1.SecretTypeOpaque}, want: []string{"metadata.name: Invalid value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := Strategy.Validate(context.Background(), tt.secret)
			if len(errs) != len(tt.want) {
				t.Fatalf("errors = %v, want %d matching %q", errs, len(tt.want), tt.want)
			}
			for i, want := range tt.want {
				if !strings.Contains(errs[i].Error(), want) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i].Error(), want)
				}
			}
		})
	}
}

func TestValidateSecretUpdate(t *testing.T) {
	yes := true
	old := newSecret(corev1.SecretTypeOpaque, map[string]string{"a": "1"})
	old.ResourceVersion = "1"
	immutable := old.DeepCopy()
	immutable.Immutable = &yes

	tests := []struct {
		name   string
		old    *corev1.Secret
		mutate func(*corev1.Secret)
		want   []string
	}{
		{name: "data change", old: old, mutate: func(s *corev1.Secret) { s.Data["a"] = []byte("2") }},
		{name: "type change", old: old, mutate: func(s *corev1.Secret) { s.Type = corev1.SecretTypeSSHAuth; s.Data["ssh-privatekey"] = []byte("k") }, want: []string{"type: Invalid value"}},
		{name: "immutable label change", old: immutable, mutate: func(s *corev1.Secret) { s.Labels = map[string]string{"a": "b"} }},
		{name: "immutable data change", old: immutable, mutate: func(s *corev1.Secret) { s.Data["a"] = []byte("2") }, want: []string{"data: Forbidden"}},
		{name: "immutable unset", old: immutable, mutate: func(s *corev1.Secret) { s.Immutable = nil }, want: []string{"immutable: Forbidden"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.old.DeepCopy()
			tt.mutate(s)
			errs := Strategy.ValidateUpdate(context.Background(), s, tt.old)
			if len(errs) != len(tt.want) {
				t.Fatalf("errors = %v, want %q", errs, tt.want)
			}
			for i, want := range tt.want {
				if !strings.Contains(errs[i].Error(), want) {
					t.Errorf("error %d = %q, want %q", i, errs[i].Error(), want)
				}
			}
		})
	}
}

func TestTable(t *testing.T) {
	list := &corev1.SecretList{Items: []corev1.Secret{*newSecret(corev1.SecretTypeDockerConfigJson, map[string]string{".dockerconfigjson": "{}"})}}
	list.ResourceVersion = "7"
	table, err := TableConvertor.ConvertToTable(context.Background(), list, nil)
	if err != nil {
		t.Fatal(err)
	}
	if table.ResourceVersion != "7" || len(table.ColumnDefinitions) != 4 || len(table.Rows) != 1 {
		t.Fatalf("table = %+v", table)
	}
	cells := table.Rows[0].Cells
	if cells[0] != "s" || cells[1] != "kubernetes.io/dockerconfigjson" || cells[2] != int64(1) || cells[3] != "<unknown>" {
		t.Errorf("cells = %v", cells)
	}
	if table.Rows[0].Object.Object == nil {
		t.Error("row has no object")
	}
}
