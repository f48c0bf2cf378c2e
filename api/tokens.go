package api

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// ParseTokens reads API tokens from the contents of a token file (http:
// token_file), one per line: either "SECRET" (named "token") or
// "NAME SECRET", where NAME is what the audit trail records. Blank lines
// and lines starting with # are ignored. Errors name the line, never the
// secret.
func ParseTokens(file string, data []byte) ([]Token, error) {
	var out []Token
	names := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		var t Token
		switch len(f) {
		case 1:
			t = Token{Name: "token", Secret: f[0]}
		case 2:
			t = Token{Name: f[0], Secret: f[1]}
		default:
			return nil, fmt.Errorf("%s:%d: expected \"SECRET\" or \"NAME SECRET\", got %d fields", file, n, len(f))
		}
		if len(t.Secret) < 16 {
			return nil, fmt.Errorf("%s:%d: token of %q is shorter than 16 characters; use a long random one (e.g. openssl rand -hex 32)", file, n, t.Name)
		}
		if prev, dup := names[t.Name]; dup {
			return nil, fmt.Errorf("%s:%d: token name %q already used on line %d", file, n, t.Name, prev)
		}
		names[t.Name] = n
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no token in the file", file)
	}
	return out, nil
}
