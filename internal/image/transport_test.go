package image

import "testing"

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:5000": true,
		"127.8.9.10":     true,
		"localhost:5000": true,
		"[::1]:5000":     true,
		"::1":            true,
		"10.0.0.1:5000":  false,
		"quay.io":        false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestKeyringLogins(t *testing.T) {
	k, err := ParseDockerConfig([]byte(`{"auths":{"https://index.docker.io/v1/":{"auth":"dTpwOnc="},"reg:5000":{"username":"a","password":"b"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	k.Logins(func(host, user, password string) { got[host] = user + "/" + password })
	if len(got) != 2 || got["docker.io"] != "u/p:w" || got["reg:5000"] != "a/b" {
		t.Errorf("Logins = %v", got)
	}
}
