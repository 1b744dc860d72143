package pki

import (
	"crypto/x509"
	"os"
	"testing"
)

func TestEnsureCreatesAndKeeps(t *testing.T) {
	f := FilesIn(t.TempDir())
	if err := Ensure(f, []string{"127.0.0.1", "localhost"}); err != nil {
		t.Fatal(err)
	}
	ca, err := readCert(f.CACert)
	if err != nil {
		t.Fatal(err)
	}
	serving, err := readCert(f.ServingCert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	for _, h := range []string{"127.0.0.1", "localhost"} {
		if _, err := serving.Verify(x509.VerifyOptions{Roots: pool, DNSName: h}); err != nil {
			t.Errorf("serving cert does not verify for %s: %v", h, err)
		}
	}
	before, _ := os.ReadFile(f.CACert)
	beforeServing, _ := os.ReadFile(f.ServingCert)
	if err := Ensure(f, []string{"127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(f.CACert)
	afterServing, _ := os.ReadFile(f.ServingCert)
	if string(before) != string(after) || string(beforeServing) != string(afterServing) {
		t.Fatal("Ensure replaced certificates that were still valid")
	}
	// A new host needs a new serving certificate, signed by the same CA.
	if err := Ensure(f, []string{"127.0.0.1", "slipway.example"}); err != nil {
		t.Fatal(err)
	}
	serving, _ = readCert(f.ServingCert)
	if _, err := serving.Verify(x509.VerifyOptions{Roots: pool, DNSName: "slipway.example"}); err != nil {
		t.Fatalf("re-issued cert: %v", err)
	}
}
