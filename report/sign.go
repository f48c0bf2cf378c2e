package report

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gowebpki/jcs"
)

// The envelope carries a report and its signature:
//
//	{"report": {...}, "signature": {"alg": "Ed25519", "key_id": "...", "value": "..."}}
//
// The signature is Ed25519 over the RFC 8785 (JSON Canonicalization Scheme)
// encoding of the "report" member alone. JCS, because the signed bytes can
// be rebuilt from the parsed JSON by any implementation: a platform may
// re-serialise, pretty-print or store the report in a JSON column and still
// verify it, with no need to keep the exact bytes that travelled.

// Alg is the only signature algorithm of the envelope.
const Alg = "Ed25519"

// MaxEnvelopeBytes bounds what Open accepts; a real report is a few KiB.
const MaxEnvelopeBytes = 1 << 20

// Errors of Open and Verify, to be told apart with errors.Is. The
// aggregator counts rejections by them.
var (
	// ErrMalformed: not an envelope (bad JSON, missing report, too large,
	// report not canonicalisable, or not a report).
	ErrMalformed = errors.New("malformed report envelope")
	// ErrUnsigned: the envelope has no signature block.
	ErrUnsigned = errors.New("report is not signed")
	// ErrBadSignature: unknown algorithm, undecodable or wrong signature.
	ErrBadSignature = errors.New("bad report signature")
	// ErrKeyMismatch: the signature names another key than the one given.
	ErrKeyMismatch = errors.New("signature key id does not match the key")
)

// Envelope is a signed report as it travels.
type Envelope struct {
	Report    json.RawMessage `json:"report"`
	Signature *Signature      `json:"signature,omitempty"`
}

// Signature is the signature block of an envelope.
type Signature struct {
	Alg   string `json:"alg"`
	KeyID string `json:"key_id"`
	// Value is the standard base64 (RFC 4648 §4, padded) of the 64-byte
	// Ed25519 signature.
	Value string `json:"value"`
}

// KeyID names a public key: the first 16 hex characters of the SHA-256 of
// its 32 raw bytes.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Canonical returns the RFC 8785 canonical form of a JSON document.
func Canonical(doc []byte) ([]byte, error) {
	c, err := jcs.Transform(doc)
	if err != nil {
		return nil, fmt.Errorf("%w: canonicalise: %v", ErrMalformed, err)
	}
	return c, nil
}

// Sign encodes r, signs its canonical form with key and returns the
// envelope. The report member is written in canonical form too, so the
// bytes on the wire are the signed bytes.
func Sign(r *Report, key ed25519.PrivateKey) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("report: sign: not an Ed25519 private key")
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("report: hospital %s: encode: %w", r.Hospital.ID, err)
	}
	canon, err := Canonical(raw)
	if err != nil {
		return nil, fmt.Errorf("report: hospital %s: %w", r.Hospital.ID, err)
	}
	pub := key.Public().(ed25519.PublicKey)
	env := Envelope{Report: canon, Signature: &Signature{
		Alg:   Alg,
		KeyID: KeyID(pub),
		Value: base64.StdEncoding.EncodeToString(ed25519.Sign(key, canon)),
	}}
	return json.Marshal(env)
}

// Open parses an envelope without verifying it. It fails with ErrMalformed
// or ErrUnsigned; a nil error means the signature block is present.
func Open(data []byte) (*Envelope, error) {
	if len(data) > MaxEnvelopeBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(data), MaxEnvelopeBytes)
	}
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(bytes.TrimSpace(env.Report)) == 0 || bytes.Equal(bytes.TrimSpace(env.Report), []byte("null")) {
		return nil, fmt.Errorf("%w: no report member", ErrMalformed)
	}
	if env.Signature == nil {
		return nil, ErrUnsigned
	}
	return &env, nil
}

// Verify checks the envelope's signature with pub and decodes the report.
// The report must be exactly what was signed: it is decoded, encoded again
// and compared in canonical form, so an unknown field, a duplicated or
// differently-cased name, or a value the format cannot hold is rejected
// rather than silently read differently from what was signed.
func (e *Envelope) Verify(pub ed25519.PublicKey) (*Report, error) {
	s := e.Signature
	if s == nil {
		return nil, ErrUnsigned
	}
	if s.Alg != Alg {
		return nil, fmt.Errorf("%w: algorithm %q, want %q", ErrBadSignature, s.Alg, Alg)
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: not an Ed25519 public key", ErrKeyMismatch)
	}
	if s.KeyID != KeyID(pub) {
		return nil, fmt.Errorf("%w: signed with %q, key is %q", ErrKeyMismatch, s.KeyID, KeyID(pub))
	}
	sig, err := base64.StdEncoding.DecodeString(s.Value)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: value is not a base64 64-byte signature", ErrBadSignature)
	}
	canon, err := Canonical(e.Report)
	if err != nil {
		return nil, err
	}
	if !ed25519.Verify(pub, canon, sig) {
		return nil, ErrBadSignature
	}
	var r Report
	if err := json.Unmarshal(canon, &r); err != nil {
		return nil, fmt.Errorf("%w: report: %v", ErrMalformed, err)
	}
	again, err := json.Marshal(&r)
	if err != nil {
		return nil, fmt.Errorf("%w: report: %v", ErrMalformed, err)
	}
	if again, err = Canonical(again); err != nil || !bytes.Equal(again, canon) {
		return nil, fmt.Errorf("%w: hospital %q: report has unknown fields or values outside the %s format", ErrInvalid, r.Hospital.ID, Schema)
	}
	if err := r.Check(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Verify opens data and verifies it with pub: what an authority does with
// a report and the hospital's public key.
func Verify(data []byte, pub ed25519.PublicKey) (*Report, error) {
	env, err := Open(data)
	if err != nil {
		return nil, err
	}
	return env.Verify(pub)
}
