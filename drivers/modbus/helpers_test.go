package modbus_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/rules"
	"github.com/icugate/icugate/simulator"
)

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		// The kernel may hand a just-closed port out again: never give
		// two tests (or two devices of one test) the same address.
		if !handedOut.addrs[addr] {
			handedOut.addrs[addr] = true
			return addr
		}
	}
}

// handedOut remembers the addresses freeAddr returned in this test binary.
var handedOut = struct {
	sync.Mutex
	addrs map[string]bool
}{addrs: map[string]bool{}}

func ptr[T any](v T) *T { return &v }

// statusProfile is a small ventilator-like profile: a status word whose
// bits drive the state rules, an id value distinct per device, a float
// and a serial. It is read with two requests (holding 0-9, coil 3).
func statusProfile(t testing.TB) *config.Profile {
	p := &config.Profile{
		Name: "test-vent", Kind: "ventilator",
		Values: []config.Value{
			{Name: "status", Table: config.TableHolding, Address: ptr(0), Type: config.TypeUint16},
			{Name: "ident", Table: config.TableHolding, Address: ptr(1), Type: config.TypeUint32, Order: config.OrderCDAB},
			{Name: "pressure", Table: config.TableHolding, Address: ptr(8), Type: config.TypeFloat32, Unit: "cmH2O", Range: []float64{-10, 120}},
			{Name: "running", Table: config.TableCoil, Address: ptr(3)},
			{Name: "serial", Table: config.TableHolding, Address: ptr(4), Type: config.TypeString, Length: 4},
		},
		Serial: "serial",
		State: config.StateRules{
			Fault: "bitand(status, 4) != 0",
			InUse: "bitand(status, 1) != 0 && running",
		},
		Simulate: map[string]map[string]any{
			"standby":     {"status": 0, "pressure": 0.0},
			"in_use":      {"status": 1, "running": true, "pressure": 22.5},
			"fault":       {"status": 4, "pressure": 0.0},
			"maintenance": {"status": 8},
		},
	}
	if err := p.Compile(); err != nil {
		t.Fatal(err)
	}
	return p
}

// testSite builds a site of n devices of a profile; addrOf gives each
// device's address and unit.
func testSite(p *config.Profile, n int, mod func(i int) config.ModbusDevice) *config.Site {
	s := &config.Site{Profiles: map[string]*config.Profile{p.Name: p}}
	for i := 0; i < n; i++ {
		m := mod(i)
		s.Devices = append(s.Devices, config.Device{
			ID: fmt.Sprintf("dev-%02d", i), Kind: p.Kind, Profile: p.Name,
			Serial: fmt.Sprintf("SN%02d", i), Modbus: &m,
		})
	}
	return s
}

// startSim starts a simulator for the site and stops it with the test.
func startSim(t testing.TB, site *config.Site, opts simulator.Options) *simulator.Simulator {
	t.Helper()
	sim, err := simulator.New(site, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	if site.Profiles[site.Devices[0].Profile].Index("ident") >= 0 {
		for i := range site.Devices {
			if err := sim.SetValues(site.Devices[i].ID, map[string]any{"ident": identOf(i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return sim
}

// record is one observation as the test keeps it (values copied, as the
// engine would).
type record struct {
	pipeline.Observation
	At time.Time
}

// collector is a pipeline.Intake that keeps every observation.
type collector struct {
	mu   sync.Mutex
	recs map[string][]record
}

func newCollector() *collector { return &collector{recs: map[string][]record{}} }

func (c *collector) Offer(ctx context.Context, o pipeline.Observation) error {
	o.Values = append([]rules.Sample(nil), o.Values...)
	c.mu.Lock()
	c.recs[o.Device] = append(c.recs[o.Device], record{Observation: o, At: time.Now()})
	c.mu.Unlock()
	return ctx.Err()
}

func (c *collector) get(id string) []record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]record(nil), c.recs[id]...)
}

func (c *collector) reset() {
	c.mu.Lock()
	c.recs = map[string][]record{}
	c.mu.Unlock()
}

// okCount counts a device's successful observations.
func (c *collector) okCount(id string) int {
	n := 0
	for _, r := range c.get(id) {
		if r.Err == nil {
			n++
		}
	}
	return n
}

// healthy reports whether the device's last n observations all
// succeeded: it answers, and has for n polls in a row.
func (c *collector) healthy(id string, n int) bool {
	recs := c.get(id)
	if len(recs) < n {
		return false
	}
	for _, r := range recs[len(recs)-n:] {
		if r.Err != nil {
			return false
		}
	}
	return true
}

// tail is a device's last n observations (fewer if it has fewer).
func (c *collector) tail(id string, n int) []record {
	recs := c.get(id)
	return recs[max(0, len(recs)-n):]
}

// summary describes what the collector holds for the devices, for a
// failure message.
func (c *collector) summary(ids ...string) string {
	var b strings.Builder
	for _, id := range ids {
		recs := c.get(id)
		ok := c.okCount(id)
		fmt.Fprintf(&b, "\n  %s: %d ok, %d failed", id, ok, len(recs)-ok)
		if len(recs) > 0 && recs[len(recs)-1].Err != nil {
			fmt.Fprintf(&b, ", last error %v", recs[len(recs)-1].Err)
		}
	}
	return b.String()
}

// waitFor polls cond until it holds, failing the test with what it
// waited for and the state described by state if timeout passes first.
// The timeouts are generous: a loaded machine slows the wait, never the
// outcome.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool, state func() string) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			msg := ""
			if state != nil {
				msg = state()
			}
			t.Fatalf("timed out after %v waiting for %s%s", timeout, what, msg)
		}
		<-tick.C
	}
}

// ids lists the site's device ids.
func ids(site *config.Site) []string {
	out := make([]string, len(site.Devices))
	for i := range site.Devices {
		out[i] = site.Devices[i].ID
	}
	return out
}

// runDriver runs a driver until the returned stop is called.
func runDriver(t testing.TB, d interface {
	Run(context.Context, pipeline.Intake) error
}, in pipeline.Intake) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, in) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
