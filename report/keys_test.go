package report

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerateKeyFiles(t *testing.T) {
	dir := t.TempDir()
	id, err := GenerateKeyFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	privPath, pubPath := filepath.Join(dir, PrivateKeyFile), filepath.Join(dir, PublicKeyFile)
	st, err := os.Stat(privPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode %04o, want 0600", st.Mode().Perm())
	}
	priv, err := LoadPrivateKey(privPath)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := LoadPublicKey(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(priv.Public()) || KeyID(pub) != id {
		t.Fatalf("key pair mismatch or key id %s != %s", KeyID(pub), id)
	}
	if !strings.Contains(string(mustRead(t, privPath)), "BEGIN PRIVATE KEY") {
		t.Fatal("private key is not PKCS#8 PEM")
	}
	if _, err := GenerateKeyFiles(dir); err == nil {
		t.Fatal("GenerateKeyFiles overwrote an existing key")
	}
}

func TestLoadPrivateKeyRefusesReadableFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := GenerateKeyFiles(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, PrivateKeyFile)
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := LoadPrivateKey(path)
		if err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: err = %v, want a refusal that says chmod 600", mode, err)
		}
	}
}

func TestParseKeysRejectGarbage(t *testing.T) {
	if _, err := ParsePrivateKey([]byte("not pem")); err == nil {
		t.Error("ParsePrivateKey accepted garbage")
	}
	if _, err := ParsePublicKey([]byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")); err == nil {
		t.Error("ParsePublicKey accepted garbage")
	}
	pubPEM, err := MarshalPublicKey(newKey(t).Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePrivateKey(pubPEM); err == nil {
		t.Error("ParsePrivateKey accepted a public key")
	}
}
