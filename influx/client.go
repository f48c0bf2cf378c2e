package influx

import (
	"crypto/tls"
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
	return c.ClientConfig("influxdb")
}
