package region

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/report"
)

// FuzzLedgerIngest feeds arbitrary topics and payloads to the ledger: it
// never panics, and anything it accepts is a checked report of the
// registered hospital and part named by the topic, signed by that part's
// key.
func FuzzLedgerIngest(f *testing.F) {
	hs := newHospitals(f, 2)
	keys := writeKeys(f, f.TempDir(), hs)
	reg, err := LoadRegistry(keys, nil)
	if err != nil {
		f.Fatal(err)
	}
	hr := newHandRegion(f, f.TempDir())
	cfg := twoDistricts(hr.keys, "")
	preg, err := LoadRegistry(hr.keys, cfg.Districts)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	f.Add(false, report.Topic("R01", hs[0].id), hs[0].sign(f, hs[0].next("R01", now)))
	f.Add(false, report.Topic("R01", hs[1].id), []byte(`{"report":{"sequence":1e308},"signature":{"alg":"Ed25519","key_id":"","value":""}}`))
	f.Add(false, "icu/v1/R01/+/capacity", []byte(`{"report":[],"signature":{}}`))
	east := hr.h002east.sign(f, hr.h002east.nextWith("R01", now, bedsH002East))
	f.Add(true, report.PartTopic("R01", "H002", "east"), east)
	f.Add(true, report.PartTopic("R01", "H002", "main"), east)
	f.Add(true, "icu/v1/R01/H002/main/capacity", hr.h002main.sign(f, hr.h002main.nextWith("R01", now, bedsH002Main)))
	f.Fuzz(func(t *testing.T, parts bool, topic string, payload []byte) {
		l := NewLedger(testConfig(keys, ""), func() *Registry { return reg })
		if parts {
			l = NewLedger(cfg, func() *Registry { return preg })
		}
		v := l.Ingest(topic, payload, Live, now)
		if v.Outcome == Accepted {
			if err := v.Report.Check(); err != nil {
				t.Fatalf("accepted an invalid report: %v", err)
			}
			_, h, p, _ := parseTopic(topic, kindCapacity)
			if h != v.Report.Hospital.ID || p != v.Part {
				t.Fatalf("accepted %s part %s on topic %s", v.Report.Hospital.ID, v.Part, topic)
			}
		}
	})
}

// FuzzRegistry feeds arbitrary keys files to the registry parser: it never
// panics, and a registry it accepts puts every hospital in a configured
// district, gives every part a unique id and every key one part.
func FuzzRegistry(f *testing.F) {
	dir := f.TempDir()
	hr := newHandRegion(f, dir)
	seed, err := os.ReadFile(hr.keys)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("hospitals:\n  - id: H1\n    district: D01\n    parts:\n      - id: east\n        public_key_file: keys/H001.pub.pem\n      - id: east\n"))
	f.Add([]byte("hospitals:\n  - id: H1\n    district: D09\n    public_key: |\n      -----BEGIN PUBLIC KEY-----\n      MCowBQYDK2VwAyEAaXS8qWy2Tjdl55Gc8tvp8xntZDLTsHUQOpZKYP1P7eU=\n      -----END PUBLIC KEY-----\n"))
	f.Add([]byte("hospitals: [{id: H1, parts: []}, {id: H1}]\n"))
	districts := []District{{ID: "D01", Population: 1}, {ID: "D02", Population: 1}}
	path := filepath.Join(dir, "hospitals.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		reg, err := ParseRegistry(data, path, districts)
		if err != nil {
			if !strings.Contains(err.Error(), "hospitals.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, id := range reg.Hospitals() {
			h, ok := reg.Hospital(id)
			if !ok || (h.District != "D01" && h.District != "D02") || len(h.Parts) == 0 {
				t.Fatalf("accepted hospital %s: %+v", id, h)
			}
			seen := map[string]bool{}
			for _, p := range h.Parts {
				if seen[p.ID] || report.CheckPartID("part", p.ID) != nil {
					t.Fatalf("accepted hospital %s with part %q twice or invalid", id, p.ID)
				}
				seen[p.ID] = true
			}
		}
		for kid, k := range reg.byKeyID {
			h, ok := reg.Hospital(k.hospital)
			if !ok || !h.HasPart(k.part) || report.KeyID(k.pub) != kid {
				t.Fatalf("key %s registered to %s part %s, which is not listed", kid, k.hospital, k.part)
			}
		}
	})
}

// FuzzRegionConfig feeds arbitrary region configs to the parser: it never
// panics, and a config it accepts has a positive population that is the
// sum of its districts, each with a unique id.
func FuzzRegionConfig(f *testing.F) {
	// Small seeds: the fuzzer minimises every new input, which is slow
	// for a commented sample of kilobytes.
	f.Add([]byte("region: R01\nkeys_file: hospitals.yaml\nmqtt: {broker: tcp://127.0.0.1:1883}\ndistricts:\n  - {id: D01, name: A, population: 300000}\n  - {id: D02, name: B, population: 200000}\n"))
	f.Add([]byte("region: R\nkeys_file: k\nmqtt: {broker: tcp://x:1}\ndistricts: [{id: A, population: 9223372036854775807}, {id: B, population: 9223372036854775807}]\n"))
	f.Add([]byte("region: R\nkeys_file: k\nmqtt: {broker: tcp://x:1}\npopulation: 5\ndistricts: [{id: A, population: 2}, {id: A, population: 3}]\n"))
	f.Add([]byte("region: R\nkeys_file: k\nmqtt: {broker: tcp://x:1}\npopulation: 1\nalerts: {receivers: [{name: a, type: webhook}, {name: a, type: x}]}\n"))
	path := filepath.Join(f.TempDir(), "region.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, path)
		if err != nil {
			return
		}
		if c.Population <= 0 || c.Population > maxPopulation {
			t.Fatalf("accepted population %d", c.Population)
		}
		if len(c.Districts) > 0 {
			var sum int64
			ids := map[string]bool{}
			for _, d := range c.Districts {
				if d.Population <= 0 || ids[d.ID] {
					t.Fatalf("accepted district %+v", d)
				}
				ids[d.ID] = true
				sum += d.Population
			}
			if sum != c.Population {
				t.Fatalf("population %d, districts sum to %d", c.Population, sum)
			}
		}
	})
}

// FuzzParseTopic: a topic that parses is exactly the topic the gateway
// side builds for its hospital and part.
func FuzzParseTopic(f *testing.F) {
	for _, s := range []string{"icu/v1/R01/H001/capacity", "icu/v1/R01/H001/east/capacity", "icu/v1/R01/H001/main/capacity", "icu/v1/R01/H001/e/x/capacity", "icu/v1//H/capacity"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		region, hospital, part, err := parseTopic(topic, kindCapacity)
		if err != nil {
			return
		}
		if got := report.PartTopic(region, hospital, part); got != topic {
			t.Fatalf("%q parsed as %s/%s/%s, which builds %q", topic, region, hospital, part, got)
		}
	})
}
