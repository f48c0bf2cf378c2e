package influx

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/icugate/icugate/config"
)

// TokenEnv is the environment variable that carries the InfluxDB token when
// no token file is configured. For InfluxDB 1.8 the token is "user:password".
const TokenEnv = "ICUGATE_INFLUXDB_TOKEN"

// secret holds a credential and never prints it.
type secret string

// String hides the value in logs and error messages.
func (secret) String() string { return "******" }

// GoString hides the value from %#v.
func (secret) GoString() string { return "******" }

// loadToken reads the token from the configured file, else from TokenEnv.
// An empty token is allowed (a server without authentication).
func loadToken(file string, getenv func(string) string) (secret, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("influxdb token file %s: %w", file, err)
		}
		return secret(strings.TrimSpace(string(b))), nil
	}
	return secret(strings.TrimSpace(getenv(TokenEnv))), nil
}

// tlsConfig builds the client TLS configuration: a CA file to trust, an
// optional client certificate, and an optional server name.
func tlsConfig(c *config.TLS) (*tls.Config, error) {
	if c == nil {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("influxdb tls ca_file %s: %w", c.CAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("influxdb tls ca_file %s: no PEM certificate found", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, errors.New("influxdb tls: cert_file and key_file go together")
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("influxdb tls client certificate %s: %w", c.CertFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
