package api

import (
	"strings"
	"testing"
)

func TestParseTokens(t *testing.T) {
	toks, err := ParseTokens("api.tokens", []byte("# engineers\nbiomed 0123456789abcdef0123\n\n  fedcba9876543210fedc  \n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 2 || toks[0] != (Token{"biomed", "0123456789abcdef0123"}) || toks[1] != (Token{"token", "fedcba9876543210fedc"}) {
		t.Fatalf("tokens: %+v", toks)
	}
	bad := []struct{ data, want string }{
		{"", "api.tokens: no token"},
		{"short", "api.tokens:1: token of \"token\" is shorter"},
		{"a b c", "api.tokens:1: expected"},
		{"x 0123456789abcdef0\nx 0123456789abcdef1", "api.tokens:2: token name \"x\" already used on line 1"},
	}
	for _, c := range bad {
		_, err := ParseTokens("api.tokens", []byte(c.data))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.data, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "0123456789abcdef") {
			t.Errorf("%q: error shows the secret: %v", c.data, err)
		}
	}
}
