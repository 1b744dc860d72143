package build

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseDockerConfig(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Keyring
		wantErr bool
	}{
		{
			name: "config.json form with auth",
			in:   `{"auths":{"https://index.docker.io/v1/":{"auth":"dTpwOnc="}}}`, // u:p:w
			want: Keyring{"docker.io": {Username: "u", Password: "p:w"}},
		},
		{
			name: "legacy .dockercfg form",
			in:   `{"127.0.0.1:5000":{"auth":"c2VydmljZWFjY291bnQ6dG9rZW4=","email":"x@y"}}`,
			want: Keyring{"127.0.0.1:5000": {Username: "serviceaccount", Password: "token"}},
		},
		{
			name: "username and password fields",
			in:   `{"auths":{"quay.io":{"username":"a","password":"b"}}}`,
			want: Keyring{"quay.io": {Username: "a", Password: "b"}},
		},
		{name: "not JSON", in: `auths: {}`, wantErr: true},
		{name: "auth not base64", in: `{"auths":{"h":{"auth":"%%%"}}}`, wantErr: true},
		{name: "auth without colon", in: `{"auths":{"h":{"auth":"dXNlcg=="}}}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDockerConfig([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLoadKeyring(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadKeyring(dir); err == nil {
		t.Fatal("LoadKeyring of a dir without docker config: no error")
	}
	// .dockerconfigjson wins over .dockercfg, as in OpenShift's builder.
	os.WriteFile(filepath.Join(dir, ".dockercfg"), []byte(`{"a:1":{"auth":"eDp5"}}`), 0o600)
	os.WriteFile(filepath.Join(dir, ".dockerconfigjson"), []byte(`{"auths":{"b:2":{"auth":"eDp5"}}}`), 0o600)
	k, err := LoadKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := k.Lookup("b:2"); !ok || len(k) != 1 {
		t.Fatalf("keyring = %v, want only b:2", k)
	}
	if k, err := LoadKeyring(""); err != nil || len(k) != 0 {
		t.Fatalf("LoadKeyring(\"\") = %v, %v", k, err)
	}
	os.WriteFile(filepath.Join(dir, ".dockerconfigjson"), []byte(`{"auths":{"b:2":{"auth":"c2VjcmV0"}}}`), 0o600)
	if _, err := LoadKeyring(dir); err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("bad docker config: err = %v (must fail and not echo the content)", err)
	}
}

func TestPushFirst(t *testing.T) {
	push := Keyring{"reg:5000": {Username: "pusher", Password: "p"}}
	pull := Keyring{"reg:5000": {Username: "puller", Password: "q"}, "docker.io": {Username: "hub", Password: "h"}, "other:1": {Username: "o"}}
	k := pushFirst(push, pull, "reg:5000")
	if k["reg:5000"].Username != "pusher" || k["docker.io"].Username != "hub" || k["other:1"].Username != "o" {
		t.Fatalf("pushFirst = %v", k)
	}
	// No push login for the output's registry: the pull one is better than none.
	if k := pushFirst(Keyring{}, pull, "reg:5000"); k["reg:5000"].Username != "puller" {
		t.Fatalf("pushFirst without push login = %v", k)
	}
}
