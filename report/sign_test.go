package report

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func signedReport(t testing.TB, key ed25519.PrivateKey) (*Report, []byte) {
	t.Helper()
	site := testSite(t, true)
	snap := engineAt(t, site, time.Second, nil).Snapshot()
	r, err := Build(&snap, site, 3)
	if err != nil {
		t.Fatal(err)
	}
	env, err := Sign(r, key)
	if err != nil {
		t.Fatal(err)
	}
	return r, env
}

func TestSignVerifyRoundTrip(t *testing.T) {
	key := newKey(t)
	r, env := signedReport(t, key)
	got, err := Verify(env, key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	a, _ := json.Marshal(r)
	b, _ := json.Marshal(got)
	if !bytes.Equal(a, b) {
		t.Fatalf("verified report differs:\n%s\n%s", a, b)
	}
	var e Envelope
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	if e.Signature.KeyID != KeyID(key.Public().(ed25519.PublicKey)) || len(e.Signature.KeyID) != 16 {
		t.Fatalf("key id %q", e.Signature.KeyID)
	}
}

// A platform that re-serialises the report (pretty-printed, keys in
// another order) still verifies it: that is what JCS buys.
func TestVerifyAfterReserialisation(t *testing.T) {
	key := newKey(t)
	_, env := signedReport(t, key)
	var generic map[string]any
	if err := json.Unmarshal(env, &generic); err != nil {
		t.Fatal(err)
	}
	pretty, err := json.MarshalIndent(generic, "", "    ")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(pretty, env) {
		t.Fatal("re-serialisation changed nothing; the test proves nothing")
	}
	if _, err := Verify(pretty, key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatalf("Verify re-serialised: %v", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	key := newKey(t)
	pub := key.Public().(ed25519.PublicKey)
	other := newKey(t)
	_, env := signedReport(t, key)
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(env, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	rep := func(m map[string]any) map[string]any { return m["report"].(map[string]any) }
	sig := func(m map[string]any) map[string]any { return m["signature"].(map[string]any) }
	// resign signs an edited report with the right key, to reach the
	// checks behind the signature.
	resign := func(f func(r map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(env, &m); err != nil {
			t.Fatal(err)
		}
		f(rep(m))
		raw, _ := json.Marshal(rep(m))
		canon, err := Canonical(raw)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := json.Marshal(Envelope{Report: canon, Signature: &Signature{Alg: Alg, KeyID: KeyID(pub), Value: b64(ed25519.Sign(key, canon))}})
		return out
	}
	otherEnv, err := Sign(mustBuild(t), other)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"not json", []byte("{"), ErrMalformed},
		{"empty", nil, ErrMalformed},
		{"array", []byte("[]"), ErrMalformed},
		{"no report", []byte(`{"signature":{"alg":"Ed25519"}}`), ErrMalformed},
		{"unsigned", edit(func(m map[string]any) { delete(m, "signature") }), ErrUnsigned},
		{"tampered count", edit(func(m map[string]any) { rep(m)["totals"].(map[string]any)["beds_available"] = 99.0 }), ErrBadSignature},
		{"tampered sequence", edit(func(m map[string]any) { rep(m)["sequence"] = 4.0 }), ErrBadSignature},
		{"other key", otherEnv, ErrKeyMismatch},
		{"key id relabelled", edit(func(m map[string]any) { sig(m)["key_id"] = KeyID(other.Public().(ed25519.PublicKey)) }), ErrKeyMismatch},
		{"wrong alg", edit(func(m map[string]any) { sig(m)["alg"] = "RS256" }), ErrBadSignature},
		{"bad base64", edit(func(m map[string]any) { sig(m)["value"] = "!!" }), ErrBadSignature},
		{"short signature", edit(func(m map[string]any) { sig(m)["value"] = "AAAA" }), ErrBadSignature},
		{"signed unknown field", resign(func(r map[string]any) { r["extra"] = true }), ErrInvalid},
		{"signed inconsistent counts", resign(func(r map[string]any) { r["totals"].(map[string]any)["beds_available"] = 99.0 }), ErrInvalid},
		{"signed wrong schema", resign(func(r map[string]any) { r["schema"] = "other/v9" }), ErrInvalid},
		{"signed wrong type", resign(func(r map[string]any) { r["sequence"] = "3" }), ErrMalformed},
		{"duplicate key", []byte(strings.Replace(string(env), `"schema":`, `"sequence":1,"schema":`, 1)), ErrMalformed},
		{"too large", append(bytes.Repeat([]byte(" "), MaxEnvelopeBytes), env...), ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Verify(tc.data, pub)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, %v; want %v", r, err, tc.want)
			}
		})
	}
}

func mustBuild(t testing.TB) *Report {
	t.Helper()
	site := testSite(t, false)
	snap := engineAt(t, site, time.Second, nil).Snapshot()
	r, err := Build(&snap, site, 1)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
