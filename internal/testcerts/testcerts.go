// Package testcerts makes throwaway TLS certificates for tests: a CA and a
// server certificate it signs for 127.0.0.1 and localhost, so that a
// client trusting the CA verifies the server as it would a real one
// (chain and name, no InsecureSkipVerify).
package testcerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Files are the paths Write wrote.
type Files struct {
	// CA is the CA certificate (PEM) that signs Cert.
	CA string
	// Cert and Key are the server's certificate and private key (PEM).
	Cert, Key string
}

// Options shape the server certificate. Zero values: valid from an hour
// ago for a day, common name "127.0.0.1".
type Options struct {
	NotBefore, NotAfter time.Time
	CommonName          string
	// Prefix names the files: Prefix+"ca.crt", "server.crt", "server.key".
	Prefix string
}

// Write makes a CA and a server certificate for 127.0.0.1 and localhost
// signed by it, in dir: ca.crt, server.crt and server.key (mode 0600).
func Write(dir string, o Options) (Files, error) {
	now := time.Now()
	if o.NotBefore.IsZero() {
		o.NotBefore = now.Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = now.Add(24 * time.Hour)
	}
	if o.CommonName == "" {
		o.CommonName = "127.0.0.1"
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Files{}, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "testcerts CA"},
		NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	if o.NotBefore.Before(caTmpl.NotBefore) {
		caTmpl.NotBefore = o.NotBefore
	}
	if o.NotAfter.After(caTmpl.NotAfter) {
		caTmpl.NotAfter = o.NotAfter
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return Files{}, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return Files{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Files{}, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return Files{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: o.CommonName},
		NotBefore: o.NotBefore, NotAfter: o.NotAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return Files{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Files{}, err
	}
	f := Files{
		CA:   filepath.Join(dir, o.Prefix+"ca.crt"),
		Cert: filepath.Join(dir, o.Prefix+"server.crt"),
		Key:  filepath.Join(dir, o.Prefix+"server.key"),
	}
	for name, block := range map[string]*pem.Block{
		f.CA:   {Type: "CERTIFICATE", Bytes: caDER},
		f.Cert: {Type: "CERTIFICATE", Bytes: der},
		f.Key:  {Type: "PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(name, pem.EncodeToMemory(block), 0o600); err != nil {
			return Files{}, err
		}
	}
	return f, nil
}
