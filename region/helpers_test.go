package region

import (
	"crypto/ed25519"
	crand "crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/report"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hospital simulates one hospital's gateway: its own key, its own sequence
// and plausible counts.
type hospital struct {
	id    string
	level string
	key   ed25519.PrivateKey
	seq   uint64
	rng   *rand.Rand
}

func newHospitals(tb testing.TB, n int) []*hospital {
	tb.Helper()
	hs := make([]*hospital, n)
	for i := range hs {
		_, key, err := ed25519.GenerateKey(crand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		level := config.LevelTertiary
		if i%3 == 0 {
			level = config.LevelSecondary
		}
		hs[i] = &hospital{id: fmt.Sprintf("H%03d", i+1), level: level, key: key, rng: rand.New(rand.NewPCG(uint64(i), 7))}
	}
	return hs
}

// counts makes a self-consistent set of counts.
func counts(rng *rand.Rand, unit, class string) report.Counts {
	total := 2 + rng.IntN(20)
	equipped := rng.IntN(total + 1)
	occupied := rng.IntN(equipped + 1)
	vent := report.KindCount{InUse: occupied, Standby: equipped - occupied, Offline: rng.IntN(3), Fault: rng.IntN(2)}
	vent.Total = vent.InUse + vent.Standby + vent.Offline + vent.Fault
	c := report.Counts{
		Unit: unit, Class: class,
		BedsTotal: total, BedsEquipped: equipped, BedsOccupied: occupied,
		BedsAvailable: equipped - occupied, BedsDegraded: total - equipped,
		Devices:  map[string]report.KindCount{"ventilator": vent},
		Verified: true,
		Evidence: report.Evidence{Stale: []string{}, Missing: []string{}, Fresh: vent.Total, Configured: vent.Total, Coverage: 1},
	}
	if class == config.ClassConvertible {
		// Every equipped convertible bed is ready; degraded ones may be.
		c.ConvertibleReady = equipped + rng.IntN(total-equipped+1)
	}
	return c
}

// next makes the hospital's next report, as of asOf, in region.
func (h *hospital) next(region string, asOf time.Time) *report.Report {
	h.seq++
	r := &report.Report{
		Schema:          report.Schema,
		Hospital:        report.Hospital{ID: h.id, Name: "Hospital " + h.id, Level: h.level, Region: region, TotalBeds: 300 + h.rng.IntN(700)},
		GatewayID:       "gw-" + h.id,
		Sequence:        h.seq,
		AsOf:            asOf.UTC(),
		IntervalSeconds: 60,
		Measures:        report.MeasuresEquipment,
		Verified:        true,
	}
	r.Totals = report.Counts{Unit: "all", Class: "all", Devices: map[string]report.KindCount{}}
	for _, cl := range []string{config.ClassGeneral, config.ClassSpecialty, config.ClassConvertible} {
		u := counts(h.rng, cl+"-1", cl)
		r.Units = append(r.Units, u)
		c := u
		c.Unit = "all"
		r.Classes = append(r.Classes, c)
		t := &r.Totals
		t.BedsTotal += u.BedsTotal
		t.BedsEquipped += u.BedsEquipped
		t.BedsOccupied += u.BedsOccupied
		t.BedsAvailable += u.BedsAvailable
		t.BedsDegraded += u.BedsDegraded
		t.ConvertibleReady += u.ConvertibleReady
		v := t.Devices["ventilator"]
		uv := u.Devices["ventilator"]
		v.Total += uv.Total
		v.InUse += uv.InUse
		v.Standby += uv.Standby
		v.Offline += uv.Offline
		v.Fault += uv.Fault
		t.Devices["ventilator"] = v
	}
	r.Totals.Verified = true
	r.Totals.Evidence = report.Evidence{Stale: []string{}, Missing: []string{}, Coverage: 1}
	r.Evidence = r.Totals.Evidence
	share := func(n int, bp int) report.Share {
		return report.Share{ConfiguredBeds: n, ConfiguredMet: n*10000 >= bp*r.Hospital.TotalBeds, EquippedBeds: n, EquippedMet: n*10000 >= bp*r.Hospital.TotalBeds}
	}
	r.Policy = report.Policy{
		Level: h.level, TargetYear: 2025, TargetsYear: 2025, TargetsKnown: true, TotalBeds: r.Hospital.TotalBeds,
		General: share(r.Classes[0].BedsTotal, 200), Specialty: share(r.Classes[1].BedsTotal, 100), Convertible: share(r.Classes[2].BedsTotal, 200),
	}
	return r
}

func (h *hospital) sign(tb testing.TB, r *report.Report) []byte {
	tb.Helper()
	env, err := report.Sign(r, h.key)
	if err != nil {
		tb.Fatal(err)
	}
	return env
}

// writeKeys writes a keys file registering hs (public keys as files) and
// returns its path.
func writeKeys(tb testing.TB, dir string, hs []*hospital) string {
	tb.Helper()
	keysDir := filepath.Join(dir, "keys")
	if err := os.MkdirAll(keysDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	var kf []byte
	kf = append(kf, "hospitals:\n"...)
	for _, h := range hs {
		pem, err := report.MarshalPublicKey(h.key.Public().(ed25519.PublicKey))
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(keysDir, h.id+".pub.pem"), pem, 0o644); err != nil {
			tb.Fatal(err)
		}
		kf = append(kf, fmt.Sprintf("  - id: %s\n    name: Hospital %s\n    public_key_file: keys/%s.pub.pem\n", h.id, h.id, h.id)...)
	}
	path := filepath.Join(dir, "hospitals.yaml")
	if err := os.WriteFile(path, kf, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

func testConfig(keysFile, broker string) *Config {
	c := &Config{
		Region: "R01", Population: 1_000_000, TargetYear: 2025, KeysFile: keysFile,
		HTTP: HTTP{Listen: "-"},
	}
	c.MQTT.Broker = broker
	if broker == "" {
		c.MQTT.Broker = "tcp://127.0.0.1:1"
	}
	c.ApplyDefaults()
	return c
}

type ed25519PublicKey = ed25519.PublicKey

func sig(key ed25519.PrivateKey, msg []byte) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(key, msg))
}

// testLog logs into the test's output, shown for failures and with -v.
func testLog(t testing.TB) *slog.Logger { return slog.New(slog.NewTextHandler(t.Output(), nil)) }
