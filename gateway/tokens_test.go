package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAPITokens(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(text string) string {
		p := filepath.Join(dir, "tokens")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noEnv := func(string) string { return "" }
	toks, err := apiTokens(write("# biomed team\nbiomed 0123456789abcdef:with=colon\n\nffffffffffffffffffff\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 2 || toks[0].Name != "biomed" || toks[0].Secret != "0123456789abcdef:with=colon" || toks[1].Name != "token" {
		t.Errorf("tokens = %+v", toks)
	}
	if _, err := apiTokens(write("short\n"), noEnv); err == nil || !strings.Contains(err.Error(), ":1:") {
		t.Errorf("short token: err = %v, want a file:line error", err)
	}
	if _, err := apiTokens(write("ok 0123456789abcdef0\na b c\n"), noEnv); err == nil || !strings.Contains(err.Error(), ":2:") {
		t.Errorf("three fields: err = %v, want a file:line error", err)
	}
	toks, err = apiTokens("", func(k string) string {
		if k == "ICUGATE_API_TOKEN" {
			return "0123456789abcdef0123"
		}
		return ""
	})
	if err != nil || len(toks) != 1 {
		t.Errorf("env token: %+v, %v", toks, err)
	}
	if toks, _ := apiTokens("", noEnv); toks != nil {
		t.Errorf("no token configured: %+v", toks)
	}
}
