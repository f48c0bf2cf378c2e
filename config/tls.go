package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ClientConfig builds the client TLS configuration every connection of the
// gateway uses (MQTT broker, InfluxDB, report endpoint): TLS 1.2 or newer,
// the CA that signs the server's certificate (the system roots when none
// is given) and, for mutual TLS, the client's certificate and key. what
// names the connection in errors ("mqtt", "influxdb").
func (t *TLS) ClientConfig(what string) (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s tls ca_file: %w", what, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s tls ca_file %s: no PEM certificate found", what, t.CAFile)
		}
		tc.RootCAs = pool
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, fmt.Errorf("%s tls: cert_file and key_file go together", what)
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s tls cert_file %s / key_file %s: %w", what, t.CertFile, t.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// ReadSecret reads a secret (password, token) from file, or, when file is
// empty, from the environment variable env. Surrounding white space and
// the final newline are trimmed. The secret itself never appears in an
// error.
func ReadSecret(file, env string) (string, error) {
	if file == "" {
		return strings.TrimSpace(os.Getenv(env)), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("secret file %s does not exist (or set %s)", file, env)
		}
		return "", fmt.Errorf("secret file %s: %w", file, err)
	}
	return strings.TrimSpace(string(b)), nil
}
