package config

import (
	"fmt"
	"strings"
)

// API token roles, from least to most allowed. A viewer may read (where
// http.read_requires_token protects reading); an engineer may also put
// devices into maintenance, move them, acknowledge alerts and read the
// audit trail; an admin may also reload the configuration.
const (
	RoleViewer   = "viewer"
	RoleEngineer = "engineer"
	RoleAdmin    = "admin"
)

// Roles lists the roles, least allowed first.
var Roles = []string{RoleViewer, RoleEngineer, RoleAdmin}

// RoleRank orders roles: 1 viewer, 2 engineer, 3 admin; 0 for anything
// else.
func RoleRank(role string) int {
	for i, r := range Roles {
		if r == role {
			return i + 1
		}
	}
	return 0
}

// APIToken is one API token of http.token_file: a name (who, in the audit
// trail), its role and the secret.
type APIToken struct {
	Name   string
	Role   string
	Secret string
}

// MinTokenLength is the shortest secret an API token may have.
const MinTokenLength = 16

// ParseAPITokens reads the API tokens of http.token_file (or
// ICUGATE_API_TOKEN): one per line, "NAME ROLE SECRET", or the older
// "NAME SECRET" and "SECRET" (named "token"), which get the admin role as
// every token had before roles existed. Blank lines and # comments are
// skipped. where names the source in errors (where:line; empty: "line N");
// a secret never appears in one. Two tokens may not share a name (the
// audit trail could not tell them apart) or a secret.
func ParseAPITokens(text, where string) ([]APIToken, error) {
	var out []APIToken
	at := func(n int) string {
		if where == "" {
			return fmt.Sprintf("line %d", n+1)
		}
		return fmt.Sprintf("%s:%d", where, n+1)
	}
	names := map[string]int{}
	secrets := map[string]int{}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		tok := APIToken{Name: "token", Role: RoleAdmin}
		switch f := strings.Fields(line); len(f) {
		case 1:
			tok.Secret = f[0]
		case 2:
			tok.Name, tok.Secret = f[0], f[1]
		case 3:
			tok.Name, tok.Role, tok.Secret = f[0], f[1], f[2]
			if RoleRank(tok.Role) == 0 {
				return nil, fmt.Errorf("%s: unknown role %q; want %s", at(n), clipText(tok.Role), strings.Join(Roles, ", "))
			}
		default:
			return nil, fmt.Errorf("%s: want \"NAME ROLE SECRET\" (role: %s)", at(n), strings.Join(Roles, ", "))
		}
		if len(tok.Secret) < MinTokenLength {
			return nil, fmt.Errorf("%s: the token is shorter than %d characters; use a long random one (openssl rand -hex 32)", at(n), MinTokenLength)
		}
		if prev, dup := names[tok.Name]; dup {
			return nil, fmt.Errorf("%s: token name %q is already used on line %d; each holder needs a name of their own (the audit trail records it)", at(n), clipText(tok.Name), prev+1)
		}
		if prev, dup := secrets[tok.Secret]; dup {
			return nil, fmt.Errorf("%s: the same secret as on line %d; give each token its own", at(n), prev+1)
		}
		names[tok.Name], secrets[tok.Secret] = n, n
		out = append(out, tok)
	}
	return out, nil
}

// clipText shortens text echoed from a file into an error.
func clipText(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
