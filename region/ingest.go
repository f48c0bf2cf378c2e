package region

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/icugate/icugate/report"
)

// Outcome is what became of one received report.
type Outcome string

// Outcomes. Accepted and Duplicate are normal; every other outcome is a
// rejection, counted by reason.
const (
	Accepted Outcome = "accepted"
	// Duplicate: the very report last accepted for the hospital, again (an
	// at-least-once redelivery, or a retained copy already known).
	Duplicate Outcome = "duplicate"
	// Malformed: not JSON, not an envelope, or not a report.
	Malformed Outcome = "malformed"
	// Invalid: signed, but breaks the report format's rules.
	Invalid Outcome = "invalid"
	// Inconsistent: signed and valid row by row, but its rows disagree (a
	// class is not the sum of its units, the totals not the sum of the
	// classes; see CheckRows).
	Inconsistent Outcome = "inconsistent"
	// Unsigned: no signature block.
	Unsigned Outcome = "unsigned"
	// UnknownKey: signed by a key the registry does not hold.
	UnknownKey Outcome = "unknown_key"
	// BadSignature: the signature does not verify with the named key.
	BadSignature Outcome = "bad_signature"
	// HospitalMismatch: the report's hospital (or its topic) is not the
	// hospital the key belongs to (a part's key used for another
	// hospital included).
	HospitalMismatch Outcome = "hospital_mismatch"
	// PartMismatch: a key of one part of the hospital signed a report on
	// another part's topic: every gateway of a hospital keeps its own
	// latest report and none may overwrite another's.
	PartMismatch Outcome = "part_mismatch"
	// WrongRegion: the report or topic names another region.
	WrongRegion Outcome = "wrong_region"
	// Replay: a sequence not greater than the last accepted one.
	Replay Outcome = "replay"
	// Stale: as_of older than max_age.
	Stale Outcome = "stale"
	// Future: as_of further ahead than max_skew.
	Future Outcome = "future"
)

// outcomes lists every outcome, for metrics (a read-only table).
var outcomes = [...]Outcome{Accepted, Duplicate, Malformed, Invalid, Inconsistent, Unsigned, UnknownKey, BadSignature, HospitalMismatch, PartMismatch, WrongRegion, Replay, Stale, Future}

// Source says how a report arrived.
type Source string

// Sources: Live through the shared subscription; Retained from a sweep of
// the broker's retained latest reports (or sent at subscription); HTTP
// posted to POST /api/v1/reports.
const (
	Live     Source = "live"
	Retained Source = "retained"
	Posted   Source = "http"
)

// Verdict is the result of Ingest.
type Verdict struct {
	Outcome  Outcome
	Hospital string
	// Part is the part the report is for (known once the key is).
	Part     string
	Sequence uint64
	Report   *report.Report
	Err      error
}

// Entry is the latest accepted report of one part of a hospital (of the
// hospital, for a hospital with one gateway: part main).
type Entry struct {
	Report     *report.Report `json:"report"`
	Part       string         `json:"part"`
	Signature  string         `json:"-"`
	AcceptedAt time.Time      `json:"accepted_at"`
	Source     Source         `json:"source"`
}

// partKey names one gateway: a hospital and its part.
type partKey struct{ hospital, part string }

func (e Entry) key() partKey { return partKey{e.Report.Hospital.ID, e.partID()} }

// partID is the entry's part; an entry made without one (in code) is the
// hospital's part main.
func (e Entry) partID() string {
	if e.Part == "" {
		return report.MainPart
	}
	return e.Part
}

// Ledger holds the latest accepted report per hospital part and decides
// what to accept. Each part (each gateway) has its own sequence, so
// replays are judged per part. Its replay protection is per instance: it
// knows the sequences this instance saw (live or swept), not those
// another instance of the shared subscription accepted. Safe for
// concurrent use.
type Ledger struct {
	cfg  *Config
	keys func() *Registry

	mu     sync.Mutex
	latest map[partKey]Entry
	counts map[Source]map[Outcome]uint64
}

// NewLedger makes an empty ledger; keys returns the current registry.
func NewLedger(cfg *Config, keys func() *Registry) *Ledger {
	l := &Ledger{cfg: cfg, keys: keys, latest: map[partKey]Entry{}, counts: map[Source]map[Outcome]uint64{}}
	for _, s := range []Source{Live, Retained, Posted} {
		l.counts[s] = map[Outcome]uint64{}
	}
	return l
}

// Ingest decides on one message received on topic at now.
func (l *Ledger) Ingest(topic string, payload []byte, src Source, now time.Time) Verdict {
	v := l.decide(topic, payload, src, now)
	l.mu.Lock()
	l.counts[src][v.Outcome]++
	l.mu.Unlock()
	return v
}

func (l *Ledger) decide(topic string, payload []byte, src Source, now time.Time) Verdict {
	reject := func(o Outcome, h string, err error) Verdict { return Verdict{Outcome: o, Hospital: h, Err: err} }
	region, topicHospital, topicPart, err := parseTopic(topic, kindCapacity)
	if err != nil {
		return reject(Malformed, "", err)
	}
	if region != l.cfg.Region {
		return reject(WrongRegion, topicHospital, fmt.Errorf("topic region %q, this aggregator serves %q", region, l.cfg.Region))
	}
	env, err := report.Open(payload)
	switch {
	case errors.Is(err, report.ErrUnsigned):
		return reject(Unsigned, topicHospital, err)
	case err != nil:
		return reject(Malformed, topicHospital, err)
	}
	hospital, part, pub, known := l.keys().Lookup(env.Signature.KeyID)
	if !known {
		return reject(UnknownKey, topicHospital, fmt.Errorf("key id %q is not registered", env.Signature.KeyID))
	}
	r, err := env.Verify(pub)
	switch {
	case errors.Is(err, report.ErrBadSignature), errors.Is(err, report.ErrKeyMismatch):
		return reject(BadSignature, topicHospital, err)
	case errors.Is(err, report.ErrInvalid):
		return reject(Invalid, topicHospital, err)
	case err != nil:
		return reject(Malformed, topicHospital, err)
	}
	v := Verdict{Hospital: r.Hospital.ID, Part: part, Sequence: r.Sequence, Report: r}
	switch {
	case r.Hospital.ID != hospital || topicHospital != hospital:
		v.Outcome, v.Err = HospitalMismatch, fmt.Errorf("key of %s part %s signed a report of %q on the topic of %q", hospital, part, r.Hospital.ID, topicHospital)
		return v
	case topicPart != part:
		v.Outcome, v.Err = PartMismatch, fmt.Errorf("key of %s part %s signed a report on the topic of part %s", hospital, part, topicPart)
		return v
	case r.Hospital.Region != l.cfg.Region:
		v.Outcome, v.Err = WrongRegion, fmt.Errorf("report region %q, this aggregator serves %q", r.Hospital.Region, l.cfg.Region)
		return v
	case now.Sub(r.AsOf) > l.cfg.MaxAge:
		v.Outcome, v.Err = Stale, fmt.Errorf("as_of %s is older than max_age %s", r.AsOf.Format(time.RFC3339), l.cfg.MaxAge)
		return v
	case r.AsOf.Sub(now) > l.cfg.MaxSkew:
		v.Outcome, v.Err = Future, fmt.Errorf("as_of %s is ahead of this clock by more than %s", r.AsOf.Format(time.RFC3339), l.cfg.MaxSkew)
		return v
	}
	if err := CheckRows(r); err != nil {
		v.Outcome, v.Err = Inconsistent, fmt.Errorf("sequence %d: %w", r.Sequence, err)
		return v
	}
	sig := env.Signature.Value
	k := partKey{hospital, part}
	l.mu.Lock()
	defer l.mu.Unlock()
	if last, ok := l.latest[k]; ok && r.Sequence <= last.Report.Sequence {
		if r.Sequence == last.Report.Sequence && sig == last.Signature {
			v.Outcome = Duplicate
			return v
		}
		v.Outcome, v.Err = Replay, fmt.Errorf("sequence %d, last accepted %d from part %s", r.Sequence, last.Report.Sequence, part)
		return v
	}
	l.latest[k] = Entry{Report: r, Part: part, Signature: sig, AcceptedAt: now, Source: src}
	v.Outcome = Accepted
	return v
}

// Entries returns the latest accepted report of every hospital seen.
func (l *Ledger) Entries() []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Entry, 0, len(l.latest))
	for _, e := range l.latest {
		out = append(out, e)
	}
	return out
}

// Counts returns how many reports had each outcome, by source.
func (l *Ledger) Counts() map[Source]map[Outcome]uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[Source]map[Outcome]uint64, len(l.counts))
	for s, m := range l.counts {
		c := make(map[Outcome]uint64, len(m))
		for o, n := range m {
			c[o] = n
		}
		out[s] = c
	}
	return out
}
