package config

import (
	"fmt"
	"strings"
)

// APIToken is one API token of http.token_file: a name (who, in the audit
// trail) and the secret.
type APIToken struct {
	Name   string
	Secret string
}

// MinTokenLength is the shortest secret an API token may have.
const MinTokenLength = 16

// ParseAPITokens reads the API tokens of http.token_file (or
// ICUGATE_API_TOKEN): one per line, "SECRET" (named "token") or "NAME
// SECRET"; blank lines and # comments are skipped. where names the source
// in errors (where:line; empty: "line N"); a secret never appears in one.
func ParseAPITokens(text, where string) ([]APIToken, error) {
	var out []APIToken
	at := func(n int) string {
		if where == "" {
			return fmt.Sprintf("line %d", n+1)
		}
		return fmt.Sprintf("%s:%d", where, n+1)
	}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, secret := "token", line
		if f := strings.Fields(line); len(f) == 2 {
			name, secret = f[0], f[1]
		} else if len(f) > 2 {
			return nil, fmt.Errorf("%s: want \"SECRET\" or \"NAME SECRET\"", at(n))
		}
		if len(secret) < MinTokenLength {
			return nil, fmt.Errorf("%s: the token is shorter than %d characters; use a long random one (openssl rand -hex 32)", at(n), MinTokenLength)
		}
		out = append(out, APIToken{Name: name, Secret: secret})
	}
	return out, nil
}
