package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// CheckFiles checks every file a loaded site names (MQTT credentials, TLS
// CA, certificate and key, InfluxDB and API tokens, the report signing key)
// the way the gateway will use it, so that `icugate check` finds at the desk
// what would otherwise stop a gateway at start or, worse, at its first
// report hours later. Each file must be a regular file the current user can
// read; secrets (passwords, tokens, private keys) must not be readable by
// group or others; certificates and TLS keys must parse, and a TLS
// certificate must match its key.
//
// parseReportKey parses the report signing key as the gateway does; it is
// passed in because the report package, which owns that format, imports
// config. Nil checks the key file without parsing it.
//
// Load does not call CheckFiles: a site is valid on its own, and tests and
// tools load sites whose files live elsewhere. Each problem is located at
// the line of the field that names the file, in site.File.
func CheckFiles(site *Site, parseReportKey func(data []byte) error) []Problem {
	fc := fileChecker{file: site.File, d: siteDoc(site.File)}
	if m := site.MQTT; m != nil {
		fc.check(m.UsernameFile, false, nil, "mqtt", "username_file")
		fc.check(m.PasswordFile, true, nil, "mqtt", "password_file")
		fc.checkTLS(m.TLS, "mqtt", "tls")
	}
	if db := site.InfluxDB; db != nil {
		fc.check(db.TokenFile, true, nil, "influxdb", "token_file")
		fc.checkTLS(db.TLS, "influxdb", "tls")
	}
	fc.check(site.Report.KeyFile, true, parseReportKey, "report", "key_file")
	fc.check(site.HTTP.TokenFile, true, func(b []byte) error {
		_, err := ParseAPITokens(string(b), "")
		return err
	}, "http", "token_file")
	fc.checkServerTLS(site.HTTP.TLS, time.Now())
	if a := site.Alerts; a != nil {
		for i, r := range a.Receivers {
			fc.check(r.SecretFile, true, nil, "alerts", "receivers", i, "secret_file")
			fc.check(r.UsernameFile, false, nil, "alerts", "receivers", i, "username_file")
			fc.check(r.PasswordFile, true, nil, "alerts", "receivers", i, "password_file")
			fc.checkTLS(r.TLS, "alerts", "receivers", i, "tls")
		}
	}
	sort.SliceStable(fc.list, func(i, j int) bool { return fc.list[i].Line < fc.list[j].Line })
	return fc.list
}

// siteDoc re-reads the site file for the lines of its fields; Load does not
// keep its node tree. Without it (a site built in code, a file changed
// since) problems have line 0 but are still reported.
func siteDoc(file string) *doc {
	data, err := readFile(file)
	if err != nil {
		return newDoc(file, nil)
	}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return newDoc(file, nil)
	}
	return newDoc(file, &root)
}

// fileChecker collects the problems of CheckFiles.
type fileChecker struct {
	file string
	d    *doc
	list []Problem
}

func (fc *fileChecker) add(path []any, format string, args ...any) {
	fc.list = append(fc.list, Problem{
		File:    fc.file,
		Line:    fc.d.line(path...),
		Message: fieldName(path) + ": " + fmt.Sprintf(format, args...),
	})
}

// fieldName spells a path of keys as in the docs: mqtt.tls.key_file.
func fieldName(path []any) string { return pathString(path) }

// check checks one named file and returns its contents, or nil when the
// field is empty or the file is unusable (the problem is recorded). A
// secret that others can read is reported but still parsed, so one run
// names every problem of the file.
func (fc *fileChecker) check(name string, secret bool, parse func([]byte) error, path ...any) []byte {
	if name == "" {
		return nil
	}
	fi, err := os.Stat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist) && unsetCredentialPath(name):
		fc.add(path, "%s names $%s, which is not set: systemd sets it for the service (LoadCredential=); to check at the desk, run with %s=/etc/icugate/credentials (the directory holding the secrets)", name, CredentialsVar, CredentialsVar)
		return nil
	case errors.Is(err, fs.ErrNotExist) && inCredentialsDirectory(name):
		fc.add(path, "no credential %s in $%s: put the file %s in the directory the service loads (the icugate unit: /etc/icugate/credentials, mode 0600) and restart it", filepath.Base(name), CredentialsVar, filepath.Base(name))
		return nil
	case errors.Is(err, fs.ErrNotExist):
		fc.add(path, "no file %s; create it or correct the path (relative paths are relative to the site file)", name)
		return nil
	case err != nil:
		fc.add(path, "%v", err)
		return nil
	case !fi.Mode().IsRegular():
		fc.add(path, "%s is %s, not a regular file; name the file itself", name, kindOf(fi.Mode()))
		return nil
	}
	if perm := fi.Mode().Perm(); secret && perm&0o077 != 0 {
		fc.add(path, "%s has mode %04o, which lets group or others read a secret; run chmod 600 %s", name, perm, name)
	}
	data, err := readFile(name)
	if errors.Is(err, fs.ErrPermission) {
		fc.add(path, "cannot read %s: permission denied; make it readable by the user icugate runs as", name)
		return nil
	}
	if err != nil {
		fc.add(path, "cannot read %s: %v", name, err)
		return nil
	}
	if parse != nil {
		if err := parse(data); err != nil {
			fc.add(path, "%s: %v", name, err)
			return nil
		}
	}
	return data
}

// checkTLS checks a TLS block's files: the CA and the certificate parse as
// PEM certificates, the key as a PEM private key (and is a secret), and
// the certificate and key belong together.
func (fc *fileChecker) checkTLS(t *TLS, path ...any) {
	if t == nil {
		return
	}
	at := func(key string) []any { return append(append([]any(nil), path...), key) }
	fc.check(t.CAFile, false, parseCertificates, at("ca_file")...)
	cert := fc.check(t.CertFile, false, parseCertificates, at("cert_file")...)
	key := fc.check(t.KeyFile, true, parsePrivateKey, at("key_file")...)
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		fc.add(at("cert_file"), "a client certificate needs its key: set key_file too, or neither")
	case t.CertFile == "" && t.KeyFile != "":
		fc.add(at("key_file"), "a client key needs its certificate: set cert_file too, or neither")
	case cert != nil && key != nil:
		if _, err := tls.X509KeyPair(cert, key); err != nil {
			fc.add(at("key_file"), "%s does not go with cert_file %s (%v); name the key the certificate was issued for", t.KeyFile, t.CertFile, err)
		}
	}
}

// checkServerTLS checks http.tls: both files are set, parse, belong
// together, and the certificate is valid now (an expired one would make
// every browser and script refuse the dashboard).
func (fc *fileChecker) checkServerTLS(t *ServerTLS, now time.Time) {
	if t == nil {
		return
	}
	cert := fc.check(t.CertFile, false, parseCertificates, "http", "tls", "cert_file")
	key := fc.check(t.KeyFile, true, parsePrivateKey, "http", "tls", "key_file")
	if cert == nil || key == nil {
		return
	}
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		fc.add([]any{"http", "tls", "key_file"}, "%s does not go with cert_file %s (%v); name the key the certificate was issued for", t.KeyFile, t.CertFile, err)
		return
	}
	if err := CertificateValidAt(pair.Leaf, now); err != nil {
		fc.add([]any{"http", "tls", "cert_file"}, "%s: %v", t.CertFile, err)
	}
}

// CertificateValidAt says why a served certificate is not valid at now:
// expired, or not valid yet (often a wrong clock).
func CertificateValidAt(c *x509.Certificate, now time.Time) error {
	switch {
	case c == nil:
		return errors.New("no certificate")
	case now.After(c.NotAfter):
		return fmt.Errorf("the certificate expired on %s; renew it (browsers and scripts refuse an expired one)", c.NotAfter.UTC().Format(time.DateOnly))
	case now.Before(c.NotBefore):
		return fmt.Errorf("the certificate is not valid before %s; check the clock of this machine", c.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// parseCertificates accepts one or more PEM certificates, all of which
// parse. Other blocks (a key bundled with the certificate) are ignored, as
// crypto/tls does.
func parseCertificates(data []byte) error {
	n := 0
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		n++
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("certificate %d: %w", n, err)
		}
	}
	if n == 0 {
		return errors.New("no PEM certificate found; want a file of -----BEGIN CERTIFICATE----- blocks")
	}
	return nil
}

// parsePrivateKey accepts the PEM private keys crypto/tls accepts: PKCS#8,
// PKCS#1 (RSA) and SEC 1 (EC).
func parsePrivateKey(data []byte) error {
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "PRIVATE KEY" && !strings.HasSuffix(block.Type, " PRIVATE KEY") {
			continue
		}
		if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
			return nil
		}
		if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
			return nil
		}
		if _, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
			return nil
		}
		return fmt.Errorf("the %s block is not a PKCS#8, PKCS#1 or EC private key", block.Type)
	}
	return errors.New("no PEM private key found; want a -----BEGIN PRIVATE KEY----- block")
}
