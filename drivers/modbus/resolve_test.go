package modbus_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/drivers/modbus"
	"github.com/icugate/icugate/simulator"
)

// A device whose host name takes seconds to resolve delays no other
// device: each connection resolves and dials on its own goroutine (an
// earlier event loop resolved on the loop, so slow DNS and one dead device
// stalled every device on it).
func TestSlowResolverDelaysNoOtherDevice(t *testing.T) {
	t.Parallel()
	p := statusProfile(t)
	fast := freeAddr(t)
	site := testSite(p, 2, func(i int) config.ModbusDevice {
		if i == 0 {
			return config.ModbusDevice{Address: fast, UnitID: 1, Interval: 100 * time.Millisecond, Timeout: 200 * time.Millisecond}
		}
		return config.ModbusDevice{Address: "slow-resolve.test:502", UnitID: 1, Interval: 100 * time.Millisecond, Timeout: 5 * time.Second}
	})
	simSite := *site
	simSite.Devices = site.Devices[:1]
	startSim(t, &simSite, simulator.Options{})
	var lookups atomic.Int32
	slow := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		lookups.Add(1)
		// The lookup's duration is the scenario, not a wait for
		// something; it ends early when the driver stops.
		select {
		case <-time.After(3 * time.Second):
		case <-ctx.Done():
		}
		return nil, errors.New("slow DNS server")
	}}
	drv, err := modbus.New(site, modbus.Options{Resolver: slow})
	must(t, err)
	col := newCollector()
	stop := runDriver(t, drv, col)
	fast, slowID := site.Devices[0].ID, site.Devices[1].ID
	waitFor(t, 20*time.Second, "the slow device's lookup to start", func() bool { return lookups.Load() > 0 }, nil)
	// While the slow device is still resolving (it has no observation
	// until its first dial ends, at least 3s on), the fast one keeps its
	// 10 Hz.
	col.reset()
	waitFor(t, 20*time.Second, "seven answers of the fast device", func() bool { return col.okCount(fast) >= 7 },
		func() string { return col.summary(fast, slowID) })
	if recs := col.get(slowID); len(recs) > 0 {
		t.Fatalf("the fast device answered 7 times only after the slow device's lookup ended (%v): it waited for the lookup", recs[0].Err)
	}
	stop()
}
