package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/icugate/icugate/report"
)

func TestKeygenWritesUsableKeyPair(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	var out, errb bytes.Buffer
	if code := keygen([]string{"-out", dir}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	priv, err := report.LoadPrivateKey(filepath.Join(dir, report.PrivateKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := report.LoadPublicKey(filepath.Join(dir, report.PublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(priv.Public()) || !strings.Contains(out.String(), "key id "+report.KeyID(pub)) {
		t.Fatalf("output %q does not name key id %s", out.String(), report.KeyID(pub))
	}
	if code := keygen([]string{"-out", dir}, &out, &errb); code != 1 {
		t.Fatalf("second keygen into the same directory: exit %d, want 1", code)
	}
}
