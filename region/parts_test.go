package region

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/report"
)

// The bad-input corpus of several-gateway hospitals: every report is
// decided once and counted by reason; the two gateways of one hospital
// keep their own latest report and sequence, and neither can overwrite
// the other's.
func TestLedgerParts(t *testing.T) {
	hr := newHandRegion(t, t.TempDir())
	cfg := twoDistricts(hr.keys, "")
	reg, err := LoadRegistry(hr.keys, cfg.Districts)
	if err != nil {
		t.Fatal(err)
	}
	l := NewLedger(cfg, func() *Registry { return reg })
	now := time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)
	east := func() []byte { return hr.h002east.sign(t, hr.h002east.nextWith("R01", now, bedsH002East)) }
	main := func() []byte { return hr.h002main.sign(t, hr.h002main.nextWith("R01", now, bedsH002Main)) }
	eastTopic, mainTopic := report.PartTopic("R01", "H002", "east"), report.PartTopic("R01", "H002", "main")
	east1, main1 := east(), main()
	// H001's key speaking for H002, on H002's part topic.
	h001AsH002 := func() []byte {
		r := hr.h001.nextWith("R01", now, bedsH001)
		r.Hospital.ID = "H002"
		return hr.h001.sign(t, r)
	}()
	// East's key speaking for H001 on H001's topic.
	eastAsH001 := func() []byte {
		r := hr.h002east.nextWith("R01", now, bedsH001)
		r.Hospital.ID = "H001"
		return hr.h002east.sign(t, r)
	}()
	steps := []struct {
		name, topic string
		payload     []byte
		want        Outcome
		part        string
	}{
		{"east on its topic", eastTopic, east1, Accepted, "east"},
		{"main on the hospital's topic", mainTopic, main1, Accepted, "main"},
		{"each part has its own sequence", eastTopic, east(), Accepted, "east"},
		{"east redelivered", eastTopic, east1, Replay, "east"},
		{"east's report on main's topic", mainTopic, east(), PartMismatch, "east"},
		{"main's report on east's topic", eastTopic, main(), PartMismatch, "main"},
		{"main's report on an unregistered part's topic", report.PartTopic("R01", "H002", "west"), main(), PartMismatch, "main"},
		{"another hospital's key on a part topic", eastTopic, h001AsH002, HospitalMismatch, "main"},
		{"a part's key speaking for another hospital", report.Topic("R01", "H001"), eastAsH001, HospitalMismatch, "east"},
		{"part main on a part topic", "icu/v1/R01/H002/main/capacity", main(), Malformed, ""},
		{"part id that is no id", "icu/v1/R01/H002/-x/capacity", east(), Malformed, ""},
		{"too deep", "icu/v1/R01/H002/east/x/capacity", east(), Malformed, ""},
		{"presence on a report topic", "icu/v1/R01/H002/east/gateway", east(), Malformed, ""},
	}
	for _, s := range steps {
		v := l.Ingest(s.topic, s.payload, Live, now)
		if v.Outcome != s.want || (s.part != "" && v.Part != s.part) {
			t.Errorf("%s: outcome %s part %q (%v), want %s part %q", s.name, v.Outcome, v.Part, v.Err, s.want, s.part)
		}
	}
	es := l.Entries()
	if len(es) != 2 {
		t.Fatalf("entries %d, want one per part", len(es))
	}
	for _, e := range es {
		// main: its only report (1); east: its second accepted (3; its
		// key also signed the report that spoke for H001).
		if e.Report.Hospital.ID != "H002" || (e.Part == "east") != (e.Report.Sequence == 3) {
			t.Fatalf("entry %s part %s sequence %d", e.Report.Hospital.ID, e.Part, e.Report.Sequence)
		}
	}
	c := l.Counts()[Live]
	if c[Accepted] != 3 || c[PartMismatch] != 3 || c[HospitalMismatch] != 2 || c[Malformed] != 4 || c[Replay] != 1 {
		t.Fatalf("counts %v", c)
	}
}

// Topics of both shapes parse; anything else is refused with a reason.
func TestParseTopic(t *testing.T) {
	for _, c := range []struct {
		topic, kind, hospital, part string
		ok                          bool
	}{
		{"icu/v1/R01/H001/capacity", kindCapacity, "H001", "main", true},
		{"icu/v1/R01/H001/east/capacity", kindCapacity, "H001", "east", true},
		{"icu/v1/R01/H001/gateway", kindPresence, "H001", "main", true},
		{"icu/v1/R01/H001/east.2/gateway", kindPresence, "H001", "east.2", true},
		{"icu/v1/R01/H001/main/gateway", kindPresence, "", "", false},
		{"icu/v1/R01/H001/capacity", kindPresence, "", "", false},
		{"icu/v1/R01//capacity", kindCapacity, "", "", false},
		{"icu/v2/R01/H001/capacity", kindCapacity, "", "", false},
		{"icu/v1/R01/H001/" + strings.Repeat("x", 65) + "/capacity", kindCapacity, "", "", false},
	} {
		_, h, p, err := parseTopic(c.topic, c.kind)
		if (err == nil) != c.ok || h != c.hospital || p != c.part {
			t.Errorf("%s: %s %s %v", c.topic, h, p, err)
		}
	}
}

// A part's gateway that delivers by HTTP (report.http_url) is taken as
// its part: a POST has no topic, the registered key says which part.
func TestPartPostsByHTTP(t *testing.T) {
	hr := newHandRegion(t, t.TempDir())
	r, err := New(twoDistricts(hr.keys, ""), Deps{Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	tr := &report.HTTPTransport{URL: srv.URL + "/api/v1/reports", Client: srv.Client(), Backoff: time.Millisecond}
	now := time.Now()
	ctx := context.Background()
	for _, gw := range []struct {
		h    *hospital
		part string
		b    beds
	}{{hr.h002main, "", bedsH002Main}, {hr.h002east, "east", bedsH002East}} {
		env := gw.h.sign(t, gw.h.nextWith("R01", now, gw.b))
		if err := tr.Send(ctx, report.Message{Hospital: "H002", Part: gw.part, Sequence: gw.h.seq, Payload: env}); err != nil {
			t.Fatalf("part %q: %v", gw.part, err)
		}
	}
	v := r.View()
	h2 := hospitalOf(t, v, "H002")
	if h2.Status != StatusReporting || h2.Totals.BedsTotal != 115 || r.Counts()[Posted][Accepted] != 2 {
		t.Fatalf("H002 from two POSTing parts: %+v", h2)
	}
	// The site config's report.part makes the publisher's topic.
	site := &config.Site{Hospital: config.Hospital{ID: "H002", Region: "R01"}, Report: config.Report{Part: "east"}}
	p, err := report.NewPublisher(site, hr.h002east.key)
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.Prepare(snapshotOf(now, 10, 8, 3), 9)
	if err != nil || m.Topic != "icu/v1/R01/H002/east/capacity" || m.Part != "east" {
		t.Fatalf("part publisher: %+v %v", m, err)
	}
}

// Presence is kept only for registered parts, only as online or offline;
// a reload that removes a part forgets its presence, and a reload naming
// an unknown district is refused whole.
func TestPresenceAndReload(t *testing.T) {
	dir := t.TempDir()
	hr := newHandRegion(t, dir)
	cfg := twoDistricts(hr.keys, "")
	r, err := New(cfg, Deps{Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	now := time.Now()
	for _, c := range []struct {
		topic, payload, want string
	}{
		{"icu/v1/R01/H002/east/gateway", "offline", presenceOffline},
		{"icu/v1/R01/H002/gateway", " online\n", presenceOnline},
		{"icu/v1/R01/H001/gateway", "online", presenceOnline},
		{"icu/v1/R01/H002/west/gateway", "online", presenceUnregistered},
		{"icu/v1/R01/H009/gateway", "online", presenceUnregistered},
		{"icu/v1/R01/H001/gateway", "maybe", presenceMalformed},
		{"icu/v1/R02/H001/gateway", "online", presenceMalformed},
		{"icu/v1/R01/H001/main/gateway", "online", presenceMalformed},
	} {
		if got, _ := r.presence.record(cfg, r.keys.Load(), c.topic, []byte(c.payload), now); got != c.want {
			t.Errorf("%s %q: %s, want %s", c.topic, c.payload, got, c.want)
		}
	}
	if n := len(r.Presence()); n != 3 {
		t.Fatalf("presence of %d parts, want 3", n)
	}
	// H002 loses its east part.
	writeRegistry(t, dir, []registryEntry{
		{id: "H001", district: "D01", gateway: hr.h001},
		{id: "H002", district: "D01", parts: []partGateway{{"main", hr.h002main}}},
	})
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if presenceOf(r, "H002", "east") != "" || presenceOf(r, "H002", "main") != PresenceOnline {
		t.Fatalf("after reload: %+v", r.Presence())
	}
	writeRegistry(t, dir, []registryEntry{{id: "H001", district: "D09", gateway: hr.h001}})
	if err := r.Reload(); err == nil || !strings.Contains(err.Error(), "D09") {
		t.Fatalf("reload with an unknown district: %v", err)
	}
	if h, ok := r.keys.Load().Hospital("H002"); !ok || len(h.Parts) != 1 {
		t.Fatal("the old registry was not kept")
	}
}
