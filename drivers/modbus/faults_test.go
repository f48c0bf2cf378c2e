package modbus_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/drivers/modbus"
	"github.com/icugate/icugate/simulator"
)

// identOf is the distinct "ident" value served by device i, so that an
// answer given to the wrong request (or device) is detected.
func identOf(i int) int { return 100000 + 7*i }

// checkIdentity fails on any successful observation whose values are not
// the device's own.
func checkIdentity(t *testing.T, p *config.Profile, i int, recs []record) (ok, failed int) {
	t.Helper()
	id := p.Index("ident")
	for _, r := range recs {
		if r.Err != nil {
			failed++
			continue
		}
		ok++
		if got := r.Values[id].Num; got != float64(identOf(i)) {
			t.Errorf("device %d: got ident %v, want %d: an answer was taken for another request", i, got, identOf(i))
		}
		if want := fmt.Sprintf("SN%02d", i); r.Serial != want {
			t.Errorf("device %d: serial %q, want %q", i, r.Serial, want)
		}
	}
	return ok, failed
}

// TestFiftyDevicesWithFaults polls 50 simulated devices, 5 units per
// address; on one address sit a dead unit, a unit answering every third
// request late and a unit answering with exceptions, next to healthy ones.
func TestFiftyDevicesWithFaults(t *testing.T) {
	t.Parallel()
	testFiftyDevicesWithFaults(t)
}

func testFiftyDevicesWithFaults(t *testing.T) {
	const (
		n        = 50
		interval = 250 * time.Millisecond
		timeout  = 120 * time.Millisecond
		minOK    = 5 // successful polls every healthy device must show
	)
	p := statusProfile(t)
	addrs := make([]string, n/5)
	for i := range addrs {
		addrs[i] = freeAddr(t)
	}
	site := testSite(p, n, func(i int) config.ModbusDevice {
		return config.ModbusDevice{Address: addrs[i/5], UnitID: 1 + i%5, Interval: interval, Timeout: timeout}
	})
	sim := startSim(t, site, simulator.Options{LateBy: 2 * timeout})
	for i := 0; i < n; i++ {
		id := site.Devices[i].ID
		if err := sim.SetState(id, simulator.StateInUse); err != nil {
			t.Fatal(err)
		}
		if err := sim.SetValues(id, map[string]any{"ident": identOf(i), "pressure": 20.0 + float64(i)/10}); err != nil {
			t.Fatal(err)
		}
	}
	const dead, late, exc = 0, 1, 2
	must(t, sim.SetState(site.Devices[dead].ID, simulator.StateOffline))
	must(t, sim.SetFaults(site.Devices[late].ID, simulator.Faults{Late: true, LateEvery: 3}))
	must(t, sim.SetFaults(site.Devices[exc].ID, simulator.Faults{Exception: true}))

	drv, err := modbus.New(site, modbus.Options{MaxUnitBackoff: time.Second})
	must(t, err)
	col := newCollector()
	start := time.Now()
	stop := runDriver(t, drv, col)
	// Run until every device has shown its behaviour: healthy ones a few
	// answers, the late one both answers and timeouts, the others a few
	// failures.
	all := ids(site)
	waitFor(t, 20*time.Second, "every device to show its behaviour", func() bool {
		for i, id := range all {
			recs, ok := len(col.get(id)), col.okCount(id)
			switch i {
			case dead, exc:
				if recs < 3 {
					return false
				}
			case late:
				if ok == 0 || ok == recs {
					return false
				}
			default:
				if ok < minOK {
					return false
				}
			}
		}
		return true
	}, func() string { return col.summary(all...) })
	phase := time.Since(start)

	var lateness []time.Duration
	for i := 0; i < n; i++ {
		recs := col.get(site.Devices[i].ID)
		ok, failed := checkIdentity(t, p, i, recs)
		switch i {
		case dead:
			if ok != 0 || failed == 0 {
				t.Errorf("dead device: %d ok, %d failed observations; want only failures", ok, failed)
			}
			for _, r := range recs {
				if reason := modbus.Reason(r.Err); reason != modbus.ReasonTimeout && reason != modbus.ReasonBackoff {
					t.Errorf("dead device: reason %q (%v), want timeout or backoff", reason, r.Err)
				}
			}
		case late:
			if ok == 0 || failed == 0 {
				t.Errorf("late device: %d ok, %d failed; want both", ok, failed)
			}
		case exc:
			checkExceptions(t, "exception device", recs)
		default:
			want := int(phase / interval)
			if ok < want/2 || failed > ok/5 {
				t.Errorf("healthy device %d: %d ok, %d failed observations in %v; want about %d ok", i, ok, failed, phase, want)
			}
			for k := 1; k < len(recs); k++ {
				lateness = append(lateness, recs[k].At.Sub(recs[k-1].At)-interval)
			}
		}
	}
	slices.Sort(lateness)
	if len(lateness) > 0 {
		t.Logf("healthy devices: %d poll gaps, lateness p50 %v, p99 %v, max %v",
			len(lateness), lateness[len(lateness)/2], lateness[len(lateness)*99/100], lateness[len(lateness)-1])
	}

	// Faults stop: every device must recover.
	must(t, sim.SetState(site.Devices[dead].ID, simulator.StateInUse))
	must(t, sim.SetFaults(site.Devices[late].ID, simulator.Faults{}))
	must(t, sim.SetFaults(site.Devices[exc].ID, simulator.Faults{}))
	// Recovered: four polls in a row (a second's worth) answered, once
	// the capped unit backoff has passed.
	const window = 4
	faulty := []string{site.Devices[dead].ID, site.Devices[late].ID, site.Devices[exc].ID}
	waitFor(t, 20*time.Second, "the faulty devices to recover", func() bool {
		for _, id := range faulty {
			if !col.healthy(id, window) {
				return false
			}
		}
		return true
	}, func() string { return col.summary(faulty...) })
	stop()
	for _, i := range []int{dead, late, exc} {
		if ok, failed := checkIdentity(t, p, i, col.tail(site.Devices[i].ID, window)); ok != window || failed > 0 {
			t.Errorf("device %d after faults stopped: %d ok, %d failed", i, ok, failed)
		}
	}
	if w := sim.Writes(); w != 0 {
		t.Errorf("simulator received %d write requests; the driver must be read-only", w)
	}
}

// checkExceptions asserts a unit answering with exceptions yields no
// values and fails as "exception" (a timeout on a loaded test machine is
// tolerated now and then, a value never).
func checkExceptions(t *testing.T, what string, recs []record) {
	t.Helper()
	exc := 0
	for _, r := range recs {
		switch modbus.Reason(r.Err) {
		case modbus.ReasonException:
			exc++
		case modbus.ReasonTimeout, modbus.ReasonBackoff:
		default:
			t.Errorf("%s: reason %q (%v), want exception", what, modbus.Reason(r.Err), r.Err)
		}
	}
	if len(recs) == 0 || exc < len(recs)*4/5 {
		t.Errorf("%s: %d of %d observations are exceptions", what, exc, len(recs))
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestRTUOverTCP polls three units behind one RTU-over-TCP converter: a
// healthy one, one answering with exceptions, one answering late.
func TestRTUOverTCP(t *testing.T) {
	t.Parallel()
	p := statusProfile(t)
	addr := freeAddr(t)
	site := testSite(p, 3, func(i int) config.ModbusDevice {
		return config.ModbusDevice{RTUOverTCP: addr, UnitID: 10 + i, Interval: 100 * time.Millisecond, Timeout: 150 * time.Millisecond}
	})
	sim := startSim(t, site, simulator.Options{LateBy: 300 * time.Millisecond})
	for i := range site.Devices {
		must(t, sim.SetValues(site.Devices[i].ID, map[string]any{"ident": identOf(i)}))
	}
	must(t, sim.SetFaults(site.Devices[1].ID, simulator.Faults{Exception: true}))
	must(t, sim.SetFaults(site.Devices[2].ID, simulator.Faults{Late: true, LateEvery: 3}))
	drv, err := modbus.New(site, modbus.Options{})
	must(t, err)
	col := newCollector()
	stop := runDriver(t, drv, col)
	all := ids(site)
	waitFor(t, 20*time.Second, "each rtu unit to show its behaviour", func() bool {
		late := col.get(all[2])
		return col.okCount(all[0]) >= 5 && len(col.get(all[1])) >= 5 &&
			col.okCount(all[2]) > 0 && col.okCount(all[2]) < len(late)
	}, func() string { return col.summary(all...) })
	stop()
	if ok, failed := checkIdentity(t, p, 0, col.get(site.Devices[0].ID)); ok < 5 || failed > 0 {
		t.Errorf("healthy rtu unit: %d ok, %d failed", ok, failed)
	}
	checkExceptions(t, "exception rtu unit", col.get(site.Devices[1].ID))
	if ok, failed := checkIdentity(t, p, 2, col.get(site.Devices[2].ID)); ok == 0 || failed == 0 {
		t.Errorf("late rtu unit: %d ok, %d failed; want both", ok, failed)
	}
}

// TestConnectionCap puts six devices on one address and counts the
// connections the server sees.
func TestConnectionCap(t *testing.T) {
	t.Parallel()
	testConnectionCap(t)
}

func testConnectionCap(t *testing.T) {
	for _, maxConns := range []int{1, 2} {
		t.Run(fmt.Sprint("max_conns=", maxConns), func(t *testing.T) {
			p := statusProfile(t)
			addr := freeAddr(t)
			site := testSite(p, 6, func(i int) config.ModbusDevice {
				return config.ModbusDevice{Address: addr, UnitID: 1 + i, Interval: 50 * time.Millisecond, Timeout: time.Second, MaxConns: maxConns}
			})
			sim := startSim(t, site, simulator.Options{})
			drv, err := modbus.New(site, modbus.Options{})
			must(t, err)
			col := newCollector()
			stop := runDriver(t, drv, col)
			all := ids(site)
			waitFor(t, 20*time.Second, "every device to answer twice", func() bool {
				for _, id := range all {
					if len(col.get(id)) < 2 {
						return false
					}
				}
				return true
			}, func() string { return col.summary(all...) })
			stop()
			for i := range site.Devices {
				if ok, failed := checkIdentity(t, p, i, col.get(site.Devices[i].ID)); ok == 0 || failed > 0 {
					t.Errorf("device %d: %d ok, %d failed", i, ok, failed)
				}
			}
			if got := sim.Clients(addr); got > maxConns || got == 0 {
				t.Errorf("server saw %d connections, cap is %d", got, maxConns)
			}
		})
	}
}

// TestReconnectAfterServerRestart stops the simulator, checks devices go
// failing, starts a new one on the same addresses and checks they recover.
func TestReconnectAfterServerRestart(t *testing.T) {
	t.Parallel()
	testReconnectAfterServerRestart(t)
}

func testReconnectAfterServerRestart(t *testing.T) {
	p := statusProfile(t)
	tcp, rtu := freeAddr(t), freeAddr(t)
	site := testSite(p, 2, func(i int) config.ModbusDevice {
		if i == 0 {
			return config.ModbusDevice{Address: tcp, UnitID: 1, Interval: 100 * time.Millisecond, Timeout: 200 * time.Millisecond}
		}
		return config.ModbusDevice{RTUOverTCP: rtu, UnitID: 1, Interval: 100 * time.Millisecond, Timeout: 200 * time.Millisecond}
	})
	sim := startSim(t, site, simulator.Options{})
	drv, err := modbus.New(site, modbus.Options{})
	must(t, err)
	col := newCollector()
	stop := runDriver(t, drv, col)
	all := ids(site)
	waitFor(t, 20*time.Second, "every device to answer", func() bool {
		for _, id := range all {
			if col.okCount(id) == 0 {
				return false
			}
		}
		return true
	}, func() string { return col.summary(all...) })
	sim.Close()
	waitFor(t, 20*time.Second, "every device to fail after the server stopped", func() bool {
		for _, id := range all {
			if recs := col.get(id); recs[len(recs)-1].Err == nil {
				return false
			}
		}
		return true
	}, func() string { return col.summary(all...) })
	for i := range site.Devices {
		recs := col.get(site.Devices[i].ID)
		t.Logf("device %d while down: %v (%s)", i, recs[len(recs)-1].Err, modbus.Reason(recs[len(recs)-1].Err))
	}
	startSim(t, site, simulator.Options{})
	// Recovered once the reconnect backoff has passed: four polls in a
	// row answered.
	const window = 4
	waitFor(t, 20*time.Second, "every device to recover after the restart", func() bool {
		for _, id := range all {
			if !col.healthy(id, window) {
				return false
			}
		}
		return true
	}, func() string { return col.summary(all...) })
	stop()
	for i := range site.Devices {
		if ok, failed := checkIdentity(t, p, i, col.tail(site.Devices[i].ID, window)); ok != window || failed > 0 {
			t.Errorf("device %d after restart: %d ok, %d failed", i, ok, failed)
		}
	}
}

// TestCloseFault has the device drop the connection instead of answering
// (TCP and RTU over TCP): polls fail as "reset", and recover once it stops.
func TestCloseFault(t *testing.T) {
	t.Parallel()
	testCloseFault(t)
}

func testCloseFault(t *testing.T) {
	p := statusProfile(t)
	tcp, rtu := freeAddr(t), freeAddr(t)
	site := testSite(p, 2, func(i int) config.ModbusDevice {
		if i == 0 {
			return config.ModbusDevice{Address: tcp, UnitID: 1, Interval: 100 * time.Millisecond, Timeout: 200 * time.Millisecond}
		}
		return config.ModbusDevice{RTUOverTCP: rtu, UnitID: 1, Interval: 100 * time.Millisecond, Timeout: 200 * time.Millisecond}
	})
	sim := startSim(t, site, simulator.Options{})
	for i := range site.Devices {
		must(t, sim.SetFaults(site.Devices[i].ID, simulator.Faults{Close: true}))
	}
	drv, err := modbus.New(site, modbus.Options{})
	must(t, err)
	col := newCollector()
	stop := runDriver(t, drv, col)
	all := ids(site)
	waitFor(t, 20*time.Second, "every device to fail a few polls", func() bool {
		for _, id := range all {
			if len(col.get(id)) < 3 {
				return false
			}
		}
		return true
	}, func() string { return col.summary(all...) })
	for i := range site.Devices {
		recs := col.get(site.Devices[i].ID)
		if ok, _ := checkIdentity(t, p, i, recs); ok > 0 || len(recs) == 0 {
			t.Errorf("device %d: %d answers while dropping connections", i, ok)
		}
		for _, r := range recs {
			// The simulator closes by restarting the address's server, so
			// a dial in that moment is refused.
			switch reason := modbus.Reason(r.Err); reason {
			case modbus.ReasonReset, modbus.ReasonBackoff, modbus.ReasonRefused:
			default:
				t.Errorf("device %d: reason %q (%v), want reset", i, reason, r.Err)
			}
		}
		must(t, sim.SetFaults(site.Devices[i].ID, simulator.Faults{}))
	}
	// Recovery: four polls in a row answered, by every device.
	const window = 4
	waitFor(t, 20*time.Second, "every device to recover after the fault", func() bool {
		for _, id := range all {
			if !col.healthy(id, window) {
				return false
			}
		}
		return true
	}, func() string { return col.summary(all...) })
	stop()
	for i := range site.Devices {
		if ok, failed := checkIdentity(t, p, i, col.tail(site.Devices[i].ID, window)); ok != window || failed > 0 {
			t.Errorf("device %d after the fault: %d ok, %d failed", i, ok, failed)
		}
	}
}

// TestRangeErrorNeverStoresNumber serves a value outside its plausible
// range: the observation is an error naming the value and the likely
// cause, with no values.
func TestRangeErrorNeverStoresNumber(t *testing.T) {
	t.Parallel()
	testRangeErrorNeverStoresNumber(t)
}

func testRangeErrorNeverStoresNumber(t *testing.T) {
	p := statusProfile(t)
	site := testSite(p, 1, func(int) config.ModbusDevice {
		return config.ModbusDevice{Address: freeAddr(t), UnitID: 1, Interval: 50 * time.Millisecond, Timeout: time.Second}
	})
	sim := startSim(t, site, simulator.Options{})
	must(t, sim.SetValues("dev-00", map[string]any{"ident": identOf(0), "pressure": 1e6}))
	drv, err := modbus.New(site, modbus.Options{})
	must(t, err)
	col := newCollector()
	stop := runDriver(t, drv, col)
	waitFor(t, 20*time.Second, "three polls", func() bool { return len(col.get("dev-00")) >= 3 },
		func() string { return col.summary("dev-00") })
	stop()
	recs := col.get("dev-00")
	if len(recs) == 0 {
		t.Fatal("no observations")
	}
	for _, r := range recs {
		if modbus.Reason(r.Err) != modbus.ReasonRange || r.Values != nil ||
			!strings.Contains(r.Err.Error(), "pressure") || !strings.Contains(r.Err.Error(), "outside plausible range [-10,120]: check byte/word order") {
			t.Errorf("observation %+v, want a range error naming pressure and no values", r.Observation)
		}
	}
}
