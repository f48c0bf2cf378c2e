package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeKeyPair writes a self-signed certificate and its key as PEM files
// in dir and returns their paths.
func writeKeyPair(t *testing.T, dir, name string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	writeFile(t, cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, key, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
	return cert, key
}

// TestClientConfig covers TLS.ClientConfig: what it builds from each
// combination of files, and each error naming the connection and file.
func TestClientConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, caKey := writeKeyPair(t, dir, "ca")
	cert, key := writeKeyPair(t, dir, "client")
	notPEM := filepath.Join(dir, "not.pem")
	writeFile(t, notPEM, "hello\n")
	missing := filepath.Join(dir, "missing.pem")

	if tc, err := (*TLS)(nil).ClientConfig("mqtt"); tc != nil || err != nil {
		t.Errorf("nil TLS: %v, %v; want no config and no error", tc, err)
	}
	for _, c := range []struct {
		name    string
		tls     TLS
		roots   bool
		certs   int
		errText string // prefix of the error; "" for none
	}{
		{"system roots", TLS{ServerName: "broker.local"}, false, 0, ""},
		{"own CA", TLS{CAFile: ca}, true, 0, ""},
		{"mutual TLS", TLS{CAFile: ca, CertFile: cert, KeyFile: key}, true, 1, ""},
		{"ca_file missing", TLS{CAFile: missing}, false, 0, "mqtt tls ca_file: open " + missing},
		{"ca_file not PEM", TLS{CAFile: notPEM}, false, 0, "mqtt tls ca_file " + notPEM + ": no PEM certificate found"},
		{"cert without key", TLS{CertFile: cert}, false, 0, "mqtt tls: cert_file and key_file go together"},
		{"key without cert", TLS{KeyFile: key}, false, 0, "mqtt tls: cert_file and key_file go together"},
		{"key of another cert", TLS{CertFile: cert, KeyFile: caKey}, false, 0, "mqtt tls cert_file " + cert + " / key_file " + caKey + ": "},
		{"cert not PEM", TLS{CertFile: notPEM, KeyFile: key}, false, 0, "mqtt tls cert_file " + notPEM + " / key_file " + key + ": "},
	} {
		tc, err := c.tls.ClientConfig("mqtt")
		if c.errText != "" {
			if err == nil || !strings.HasPrefix(err.Error(), c.errText) {
				t.Errorf("%s: error %v, want one starting %q", c.name, err, c.errText)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if tc.MinVersion != tls.VersionTLS12 || tc.ServerName != c.tls.ServerName || (tc.RootCAs != nil) != c.roots || len(tc.Certificates) != c.certs {
			t.Errorf("%s: min version %x, server name %q, own roots %v, %d certificates", c.name, tc.MinVersion, tc.ServerName, tc.RootCAs != nil, len(tc.Certificates))
		}
	}
	if _, err := (&TLS{CAFile: missing}).ClientConfig("influxdb"); !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "influxdb tls") {
		t.Errorf("a missing ca_file: %v, want an fs.ErrNotExist naming influxdb", err)
	}
}

// TestReadSecret covers ReadSecret: from a file (trimmed), from the
// environment, and the errors, which never hold the secret.
func TestReadSecret(t *testing.T) {
	// Not parallel: t.Setenv.
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	writeFile(t, file, "  s3cret-token \n\n")
	t.Setenv("ICUGATE_TEST_SECRET", " from-env\n")
	for _, c := range []struct {
		name, file, env, want, errText string
	}{
		{"file, trimmed", file, "ICUGATE_TEST_SECRET", "s3cret-token", ""},
		{"environment, trimmed", "", "ICUGATE_TEST_SECRET", "from-env", ""},
		{"environment unset", "", "ICUGATE_TEST_UNSET", "", ""},
		{"file missing", filepath.Join(dir, "nope"), "ICUGATE_API_TOKEN", "",
			"secret file " + filepath.Join(dir, "nope") + " does not exist (or set ICUGATE_API_TOKEN)"},
		{"file is a directory", dir, "ICUGATE_API_TOKEN", "", "secret file " + dir + ": read " + dir + ": is a directory"},
	} {
		got, err := ReadSecret(c.file, c.env)
		switch {
		case c.errText != "" && (err == nil || err.Error() != c.errText):
			t.Errorf("%s: error %v, want %q", c.name, err, c.errText)
		case c.errText == "" && (err != nil || got != c.want):
			t.Errorf("%s: %q, %v; want %q", c.name, got, err, c.want)
		case err != nil && strings.Contains(err.Error(), "s3cret"):
			t.Errorf("%s: the error shows the secret: %v", c.name, err)
		}
	}
}

// TestTLSFilesNotCheckedByLoad documents that Load resolves the TLS and
// secret paths but does not open them: a missing CA file passes
// `icugate check` and fails only when the connection is made.
func TestTLSFilesNotCheckedByLoad(t *testing.T) {
	t.Parallel()
	s := loadClean(t, minimalSite+"mqtt: {broker: \"ssl://broker:8883\", password_file: nope, tls: {ca_file: missing-ca.pem}}\n")
	if _, err := s.MQTT.TLS.ClientConfig("mqtt"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ClientConfig with a missing ca_file: %v", err)
	}
	if _, err := ReadSecret(s.MQTT.PasswordFile, "ICUGATE_MQTT_PASSWORD"); err == nil {
		t.Fatal("ReadSecret of a missing password_file succeeded")
	}
}
