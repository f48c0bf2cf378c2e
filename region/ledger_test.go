package region

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/report"
)

func TestLedgerOutcomes(t *testing.T) {
	hs := newHospitals(t, 3)
	stranger := newHospitals(t, 4)[3] // not registered
	keys := writeKeys(t, t.TempDir(), hs)
	cfg := testConfig(keys, "")
	reg, err := LoadRegistry(keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := NewLedger(cfg, func() *Registry { return reg })
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	topic := func(id string) string { return report.Topic("R01", id) }
	h1, h2 := hs[0], hs[1]

	first := h1.next("R01", now)
	firstEnv := h1.sign(t, first)
	second := h1.sign(t, h1.next("R01", now.Add(time.Minute)))
	// A report of H001 signed with H002's key: H002 cannot speak for H001.
	impostor := h2.sign(t, func() *report.Report { r := h2.next("R01", now); r.Hospital.ID = h1.id; return r }())
	var forged map[string]any
	if err := json.Unmarshal(second, &forged); err != nil {
		t.Fatal(err)
	}
	forged["report"].(map[string]any)["sequence"] = 99.0
	forgedEnv, _ := json.Marshal(forged)
	unsigned, _ := json.Marshal(map[string]any{"report": forged["report"]})
	strangerRep := stranger.next("R01", now)
	strangerRep.Hospital.ID = h1.id
	otherRegion := h2.sign(t, h2.next("R02", now))
	staleEnv := h2.sign(t, h2.next("R01", now.Add(-cfg.MaxAge-time.Second)))
	futureEnv := h2.sign(t, h2.next("R01", now.Add(cfg.MaxSkew+time.Minute)))
	sameSeqOtherContent := func() []byte { // H001 sequence 2 again, different counts
		h1.seq = 1
		r := h1.next("R01", now.Add(30*time.Second))
		return h1.sign(t, r)
	}()

	steps := []struct {
		name    string
		topic   string
		payload []byte
		want    Outcome
	}{
		{"first report", topic(h1.id), firstEnv, Accepted},
		{"redelivered", topic(h1.id), firstEnv, Duplicate},
		{"next report", topic(h1.id), second, Accepted},
		{"old report replayed", topic(h1.id), firstEnv, Replay},
		{"same sequence, other content", topic(h1.id), sameSeqOtherContent, Replay},
		{"forged count", topic(h1.id), forgedEnv, BadSignature},
		{"unsigned", topic(h1.id), unsigned, Unsigned},
		{"unknown key", topic(h1.id), stranger.sign(t, strangerRep), UnknownKey},
		{"other hospital's key", topic(h1.id), impostor, HospitalMismatch},
		{"own report on another hospital's topic", topic(hs[2].id), h2.sign(t, h2.next("R01", now)), HospitalMismatch},
		{"report of another region", topic(h2.id), otherRegion, WrongRegion},
		{"topic of another region", report.Topic("R02", h2.id), h2.sign(t, h2.next("R01", now)), WrongRegion},
		{"stale", topic(h2.id), staleEnv, Stale},
		{"future", topic(h2.id), futureEnv, Future},
		{"not json", topic(h2.id), []byte("{\"report\":"), Malformed},
		{"huge number", topic(h2.id), []byte(`{"report":{"sequence":1e999999},"signature":{"alg":"Ed25519","key_id":"x","value":"y"}}`), UnknownKey},
		{"wrong types", topic(h2.id), []byte(`{"report":7,"signature":"yes"}`), Malformed},
		{"bad topic", "icu/v1/R01/capacity", firstEnv, Malformed},
	}
	for _, s := range steps {
		v := l.Ingest(s.topic, s.payload, Live, now)
		if v.Outcome != s.want {
			t.Errorf("%s: outcome %s (%v), want %s", s.name, v.Outcome, v.Err, s.want)
		}
	}
	c := l.Counts()[Live]
	if c[Accepted] != 2 || c[Replay] != 2 || c[HospitalMismatch] != 2 || c[WrongRegion] != 2 || c[Malformed] != 3 {
		t.Errorf("counts = %v", c)
	}
	es := l.Entries()
	if len(es) != 1 || es[0].Report.Sequence != 2 || es[0].Report.Hospital.ID != h1.id {
		t.Fatalf("entries = %+v", es)
	}
}

// A signed report with a huge, valid-looking sequence is refused, never
// wrapped around or rounded.
func TestLedgerRejectsOutOfRangeSequence(t *testing.T) {
	hs := newHospitals(t, 1)
	keys := writeKeys(t, t.TempDir(), hs)
	reg, err := LoadRegistry(keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := NewLedger(testConfig(keys, ""), func() *Registry { return reg })
	now := time.Now()
	r := hs[0].next("R01", now)
	raw, _ := json.Marshal(r)
	raw = []byte(strings.Replace(string(raw), `"sequence":1`, `"sequence":18446744073709551615`, 1))
	canon, err := report.Canonical(raw)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := json.Marshal(report.Envelope{Report: canon, Signature: &report.Signature{Alg: report.Alg, KeyID: report.KeyID(hs[0].key.Public().(ed25519PublicKey)), Value: sig(hs[0].key, canon)}})
	if v := l.Ingest(report.Topic("R01", hs[0].id), env, Live, now); v.Outcome == Accepted {
		t.Fatalf("accepted sequence beyond 2^53: %+v", v)
	}
}
