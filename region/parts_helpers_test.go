package region

import (
	"crypto/ed25519"
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/report"
)

// beds is a hand-made set of class counts for one gateway's report, so
// that district and hospital figures can be checked against numbers
// computed by hand.
type beds struct {
	level               string
	total               int // the hospital's inpatient beds
	gen, genEq          int
	spec, specEq        int
	conv, convEq, ready int
	doctors, nurses     int
	declared            bool
}

// newGateway is one gateway of hospital id with its own key.
func newGateway(tb testing.TB, id, level string) *hospital {
	tb.Helper()
	_, key, err := ed25519.GenerateKey(crand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return &hospital{id: id, level: level, key: key, rng: rand.New(rand.NewPCG(uint64(len(id)), 11))}
}

// unitCounts is one unit (or class row) of beds beds, equipped of them
// equipped (standby, nobody in them), with one ventilator per bed:
// standby at equipped beds, offline at the others.
func unitCounts(unit, class string, beds, equipped, ready int) report.Counts {
	vent := report.KindCount{Total: beds, Standby: equipped, Offline: beds - equipped}
	return report.Counts{
		Unit: unit, Class: class,
		BedsTotal: beds, BedsEquipped: equipped, BedsAvailable: equipped, BedsDegraded: beds - equipped,
		ConvertibleReady: ready,
		Devices:          map[string]report.KindCount{"ventilator": vent},
		Verified:         true,
		Evidence:         report.Evidence{Stale: []string{}, Missing: []string{}, Fresh: beds, Configured: beds, Coverage: 1},
	}
}

// nextWith is the gateway's next report with the counts b, consistent row
// by row (CheckRows accepts it).
func (h *hospital) nextWith(region string, asOf time.Time, b beds) *report.Report {
	h.seq++
	r := &report.Report{
		Schema:          report.Schema,
		Hospital:        report.Hospital{ID: h.id, Name: "Hospital " + h.id, Level: b.level, Region: region, TotalBeds: b.total},
		GatewayID:       "gw-" + h.id,
		Sequence:        h.seq,
		AsOf:            asOf.UTC(),
		IntervalSeconds: 60,
		Measures:        report.MeasuresEquipment,
		Verified:        true,
	}
	r.Totals = report.Counts{Unit: "all", Class: "all", Devices: map[string]report.KindCount{}, Verified: true,
		Evidence: report.Evidence{Stale: []string{}, Missing: []string{}, Coverage: 1}}
	for _, u := range []report.Counts{
		unitCounts("gicu", config.ClassGeneral, b.gen, b.genEq, 0),
		unitCounts("sicu", config.ClassSpecialty, b.spec, b.specEq, 0),
		unitCounts("cicu", config.ClassConvertible, b.conv, b.convEq, b.ready),
	} {
		r.Units = append(r.Units, u)
		c := u
		c.Unit = "all"
		r.Classes = append(r.Classes, c)
		addCounts(&r.Totals, &u)
		r.Totals.Evidence.Fresh += u.Evidence.Fresh
		r.Totals.Evidence.Configured += u.Evidence.Configured
	}
	r.Evidence = r.Totals.Evidence
	r.Policy = report.Policy{Level: b.level, TargetYear: 2027, TargetsYear: 2027, TargetsKnown: true, TotalBeds: b.total}
	if b.declared {
		r.Policy.Staffing = &report.Staffing{Declared: true, Doctors: b.doctors, Nurses: b.nurses, GeneralBeds: b.gen}
		r.StaffingDeclared = true
	}
	return r
}

// publicPEM is the gateway's public key as PEM text.
func publicPEM(tb testing.TB, h *hospital) string {
	tb.Helper()
	pem, err := report.MarshalPublicKey(h.key.Public().(ed25519.PublicKey))
	if err != nil {
		tb.Fatal(err)
	}
	return string(pem)
}

// registryEntry is one hospital of a keys file written by writeRegistry:
// one gateway (parts nil) or several, by part id.
type registryEntry struct {
	id, district string
	gateway      *hospital
	parts        []partGateway
}

type partGateway struct {
	part string
	gw   *hospital
}

// writeRegistry writes a keys file with the entries' keys as files, and
// returns its path.
func writeRegistry(tb testing.TB, dir string, entries []registryEntry) string {
	tb.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o755); err != nil {
		tb.Fatal(err)
	}
	keyFile := func(name string, h *hospital) string {
		rel := filepath.Join("keys", name+".pub.pem")
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(publicPEM(tb, h)), 0o644); err != nil {
			tb.Fatal(err)
		}
		return rel
	}
	var b strings.Builder
	b.WriteString("hospitals:\n")
	for _, e := range entries {
		fmt.Fprintf(&b, "  - id: %s\n    name: Hospital %s\n", e.id, e.id)
		if e.district != "" {
			fmt.Fprintf(&b, "    district: %s\n", e.district)
		}
		if e.parts == nil {
			fmt.Fprintf(&b, "    public_key_file: %s\n", keyFile(e.id, e.gateway))
			continue
		}
		b.WriteString("    parts:\n")
		for _, p := range e.parts {
			fmt.Fprintf(&b, "      - id: %s\n        name: Building %s\n        public_key_file: %s\n", p.part, p.part, keyFile(e.id+"-"+p.part, p.gw))
		}
	}
	path := filepath.Join(dir, "hospitals.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

// twoDistricts is the region of the hand-computed figures: 550,000 people
// in two districts, judged against the 2027 targets (18 ICU and 12
// convertible beds per 100,000; tertiary 4.5/2.5/4.5 %, secondary
// 2.4/1.2/2.4 %).
func twoDistricts(keys, broker string) *Config {
	c := testConfig(keys, broker)
	c.Population = 0
	c.TargetYear = 2027
	c.Districts = []District{{ID: "D01", Name: "Central City", Population: 500_000}, {ID: "D02", Name: "North County", Population: 50_000}}
	c.ApplyDefaults()
	return c
}

// The hand-computed region (see TestDistrictFiguresByHand):
//
//	H001  D01  tertiary   400 beds  one gateway: general 18 (16 equipped), specialty 10, convertible 18 (12 equipped, 15 ready)
//	H002  D01  tertiary  1000 beds  part main: general 20, specialty 5; part east: general 25, specialty 20, convertible 45 (all equipped, ready);
//	                                staffing declared by both: 16+20 doctors, 60+70 nurses for 20+25 general beds
//	H003  D02  secondary  250 beds  one gateway: general 6 (3 equipped), specialty 3, convertible 6 (6 ready)
//	H004  D02  secondary            never reports
var (
	bedsH001     = beds{level: config.LevelTertiary, total: 400, gen: 18, genEq: 16, spec: 10, specEq: 10, conv: 18, convEq: 12, ready: 15}
	bedsH002Main = beds{level: config.LevelTertiary, total: 1000, gen: 20, genEq: 20, spec: 5, specEq: 5, declared: true, doctors: 16, nurses: 60}
	bedsH002East = beds{level: config.LevelTertiary, total: 1000, gen: 25, genEq: 25, spec: 20, specEq: 20, conv: 45, convEq: 45, ready: 45, declared: true, doctors: 20, nurses: 70}
	bedsH003     = beds{level: config.LevelSecondary, total: 250, gen: 6, genEq: 3, spec: 3, specEq: 3, conv: 6, convEq: 6, ready: 6}
)

// handRegion is the gateways of the hand-computed region.
type handRegion struct {
	h001, h002main, h002east, h003, h004 *hospital
	keys                                 string
}

func newHandRegion(tb testing.TB, dir string) *handRegion {
	tb.Helper()
	hr := &handRegion{
		h001: newGateway(tb, "H001", config.LevelTertiary), h002main: newGateway(tb, "H002", config.LevelTertiary),
		h002east: newGateway(tb, "H002", config.LevelTertiary), h003: newGateway(tb, "H003", config.LevelSecondary),
		h004: newGateway(tb, "H004", config.LevelSecondary),
	}
	hr.keys = writeRegistry(tb, dir, []registryEntry{
		{id: "H001", district: "D01", gateway: hr.h001},
		{id: "H002", district: "D01", parts: []partGateway{{"main", hr.h002main}, {"east", hr.h002east}}},
		{id: "H003", district: "D02", gateway: hr.h003},
		{id: "H004", district: "D02", gateway: hr.h004},
	})
	return hr
}

func keyID(h *hospital) string { return report.KeyID(h.key.Public().(ed25519.PublicKey)) }
