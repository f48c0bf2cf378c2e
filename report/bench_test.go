package report

import (
	"crypto/ed25519"
	"testing"
)

// BenchmarkSign is one report built from a snapshot's counts, encoded,
// canonicalised and signed: the gateway's cost per published report.
func BenchmarkSign(b *testing.B) {
	key := newKey(b)
	r := mustBuild(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign(r, key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify is the aggregator's cost per received report: parse,
// canonicalise, verify, decode and the round-trip check.
func BenchmarkVerify(b *testing.B) {
	key := newKey(b)
	_, env := signedReport(b, key)
	pub := key.Public().(ed25519.PublicKey)
	b.SetBytes(int64(len(env)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(env, pub); err != nil {
			b.Fatal(err)
		}
	}
}
