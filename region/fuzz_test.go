package region

import (
	"testing"
	"time"

	"github.com/icugate/icugate/report"
)

// FuzzLedgerIngest feeds arbitrary topics and payloads to the ledger: it
// never panics, and anything it accepts is a checked report of the
// registered hospital named by the topic.
func FuzzLedgerIngest(f *testing.F) {
	hs := newHospitals(f, 2)
	keys := writeKeys(f, f.TempDir(), hs)
	reg, err := LoadRegistry(keys)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	f.Add(report.Topic("R01", hs[0].id), hs[0].sign(f, hs[0].next("R01", now)))
	f.Add(report.Topic("R01", hs[1].id), []byte(`{"report":{"sequence":1e308},"signature":{"alg":"Ed25519","key_id":"","value":""}}`))
	f.Add("icu/v1/R01/+/capacity", []byte(`{"report":[],"signature":{}}`))
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		l := NewLedger(testConfig(keys, ""), func() *Registry { return reg })
		v := l.Ingest(topic, payload, Live, now)
		if v.Outcome == Accepted {
			if err := v.Report.Check(); err != nil {
				t.Fatalf("accepted an invalid report: %v", err)
			}
			if _, h, _ := parseTopic(topic); h != v.Report.Hospital.ID {
				t.Fatalf("accepted %s on topic %s", v.Report.Hospital.ID, topic)
			}
		}
	})
}
