// Package pki creates the certificate authority and the serving certificate
// Slipway's listeners use, once, in the data directory.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Files names the PEM files of a CA and a serving certificate signed by it.
type Files struct {
	CACert, CAKey           string
	ServingCert, ServingKey string
}

// FilesIn returns the standard file names under dir.
func FilesIn(dir string) Files {
	return Files{
		CACert:      filepath.Join(dir, "ca.crt"),
		CAKey:       filepath.Join(dir, "ca.key"),
		ServingCert: filepath.Join(dir, "serving.crt"),
		ServingKey:  filepath.Join(dir, "serving.key"),
	}
}

// Ensure creates the CA (if absent) and a serving certificate for hosts (if
// absent or not covering every host). Existing files are kept so clients'
// kubeconfigs stay valid across restarts.
func Ensure(f Files, hosts []string) error {
	ca, err := LoadOrCreateCA(f.CACert, f.CAKey, "slipway-ca")
	if err != nil {
		return err
	}
	return ca.EnsureServingCert(f.ServingCert, f.ServingKey, "slipway", hosts)
}

func covers(cert *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if cert.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

func writePair(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func readCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return x509.ParseCertificate(block.Bytes)
}

func readKey(path string) (*ecdsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM key", path)
	}
	return x509.ParseECPrivateKey(block.Bytes)
}

// CA is a certificate authority loaded from (or created in) two PEM files.
type CA struct {
	Cert     *x509.Certificate
	Key      *ecdsa.PrivateKey
	CertFile string
}

// LoadOrCreateCA loads the CA in certFile/keyFile, creating it with
// commonName when neither exists.
func LoadOrCreateCA(certFile, keyFile, commonName string) (*CA, error) {
	cert, certErr := readCert(certFile)
	key, keyErr := readKey(keyFile)
	if certErr == nil && keyErr == nil {
		return &CA{Cert: cert, Key: key, CertFile: certFile}, nil
	}
	if certErr != nil && !errors.Is(certErr, os.ErrNotExist) {
		return nil, certErr
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("creating CA %s: %w", commonName, err)
	}
	if err := writePair(certFile, keyFile, der, key); err != nil {
		return nil, err
	}
	cert, err = x509.ParseCertificate(der)
	return &CA{Cert: cert, Key: key, CertFile: certFile}, err
}

// EnsureClientCert issues a client certificate for user commonName in the
// groups orgs into certFile/keyFile, unless a valid one for the same
// identity signed by ca is there already.
func (ca *CA) EnsureClientCert(certFile, keyFile, commonName string, orgs []string) error {
	if cert, err := readCert(certFile); err == nil && ca.signed(cert) && cert.Subject.CommonName == commonName &&
		slices.Equal(cert.Subject.Organization, orgs) && time.Until(cert.NotAfter) > 30*24*time.Hour {
		return nil
	}
	return ca.issue(certFile, keyFile, &x509.Certificate{
		Subject:     pkix.Name{CommonName: commonName, Organization: orgs},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

// EnsureServingCert issues a serving certificate for hosts (IP addresses
// or DNS names) into certFile/keyFile, unless a valid one signed by ca
// covers them already.
func (ca *CA) EnsureServingCert(certFile, keyFile, commonName string, hosts []string) error {
	if cert, err := readCert(certFile); err == nil && ca.signed(cert) && covers(cert, hosts) && time.Until(cert.NotAfter) > 30*24*time.Hour {
		return nil
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: commonName},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return ca.issue(certFile, keyFile, tmpl)
}

func (ca *CA) signed(cert *x509.Certificate) bool {
	return cert.CheckSignatureFrom(ca.Cert) == nil
}

func (ca *CA) issue(certFile, keyFile string, tmpl *x509.Certificate) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl.SerialNumber = serial()
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(5 * 365 * 24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return fmt.Errorf("signing %s: %w", certFile, err)
	}
	return writePair(certFile, keyFile, der, key)
}

// EnsureSigningKey creates an ECDSA P-256 key pair (private key in keyFile,
// PKIX public key in pubFile) unless keyFile exists; service account tokens
// are signed with it.
func EnsureSigningKey(keyFile, pubFile string) error {
	if key, err := readKey(keyFile); err == nil {
		if _, err := os.Stat(pubFile); err == nil {
			return nil
		}
		return writePublicKey(pubFile, key)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writePublicKey(pubFile, key)
}

func writePublicKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
}
