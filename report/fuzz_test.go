package report

import (
	"crypto/ed25519"
	"encoding/base64"
	"testing"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// FuzzVerify feeds arbitrary bytes to Verify: malformed JSON, huge numbers,
// wrong types, deep nesting. It must never panic, and whatever it accepts
// must pass Check.
func FuzzVerify(f *testing.F) {
	seed := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	pub := seed.Public().(ed25519.PublicKey)
	_, env := signedReport(f, seed)
	f.Add(env)
	f.Add([]byte(`{"report":{"schema":"icugate.capacity/v1","sequence":1e400},"signature":{"alg":"Ed25519","key_id":"` + KeyID(pub) + `","value":"` + b64(make([]byte, 64)) + `"}}`))
	f.Add([]byte(`{"report":[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]],"signature":{}}`))
	f.Add([]byte(`{"report":{"totals":{"beds_total":-99999999999999999999999}},"signature":null}`))
	f.Add([]byte(`{"report":"x","signature":{"alg":1,"key_id":[],"value":{}}}`))
	f.Add([]byte(`{"report":{"sequence":18446744073709551616},"signature":{"alg":"Ed25519"}}`))
	f.Add([]byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Verify(data, pub)
		if err == nil {
			if cerr := r.Check(); cerr != nil {
				t.Fatalf("accepted a report that fails Check: %v", cerr)
			}
		}
	})
}
