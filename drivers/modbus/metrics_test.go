package modbus_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/drivers/modbus"
	"github.com/icugate/icugate/simulator"
)

// TestMetricsAndCloseAfterPoll checks the poll and error counters by
// device and reason, the device filter, and that close_after_poll opens a
// connection per poll.
func TestMetricsAndCloseAfterPoll(t *testing.T) {
	t.Parallel()
	testMetricsAndCloseAfterPoll(t)
}

func testMetricsAndCloseAfterPoll(t *testing.T) {
	p := statusProfile(t)
	addr := freeAddr(t)
	site := testSite(p, 3, func(i int) config.ModbusDevice {
		return config.ModbusDevice{Address: addr, UnitID: 1 + i, Interval: 100 * time.Millisecond, Timeout: time.Second, CloseAfterPoll: true}
	})
	sim := startSim(t, site, simulator.Options{})
	must(t, sim.SetFaults(site.Devices[1].ID, simulator.Faults{Exception: true}))
	reg := prometheus.NewRegistry()
	drv, err := modbus.New(site, modbus.Options{Registerer: reg, Devices: func(d *config.Device) bool { return d.ID != "dev-02" }})
	must(t, err)
	if got := drv.Devices(); len(got) != 2 {
		t.Fatalf("device filter: polling %v", got)
	}
	col := newCollector()
	stop := runDriver(t, drv, col)
	waitFor(t, 20*time.Second, "a few polls of each device", func() bool {
		return len(col.get("dev-00")) >= 4 && len(col.get("dev-01")) >= 4
	}, func() string { return col.summary("dev-00", "dev-01") })
	stop()
	polls := len(col.get("dev-00")) + len(col.get("dev-01"))
	if n := sim.Clients(addr); n < polls/2 {
		t.Errorf("close_after_poll: %d connections for %d polls", n, polls)
	}
	got := map[string]float64{}
	mfs, err := reg.Gather()
	must(t, err)
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			key := mf.GetName()
			for _, l := range m.Label {
				key += " " + l.GetName() + "=" + l.GetValue()
			}
			got[key] = m.GetCounter().GetValue()
		}
	}
	for key, want := range map[string]int{
		"icugate_modbus_polls_total device=dev-00":                        len(col.get("dev-00")),
		"icugate_modbus_polls_total device=dev-01":                        len(col.get("dev-01")),
		"icugate_modbus_poll_errors_total device=dev-01 reason=exception": len(col.get("dev-01")),
		"icugate_modbus_poll_errors_total device=dev-00 reason=exception": 0,
		"icugate_modbus_polls_total device=dev-02":                        0,
	} {
		// A poll cut short by the stop is counted but not offered.
		if n := int(got[key]); n != want && (want == 0 || n != want+1) {
			t.Errorf("%s = %v, want %d", key, got[key], want)
		}
	}
}
