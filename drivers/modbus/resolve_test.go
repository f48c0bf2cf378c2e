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
	time.Sleep(300 * time.Millisecond)
	col.reset()
	time.Sleep(time.Second)
	stop()
	ok := 0
	for _, r := range col.get(site.Devices[0].ID) {
		if r.Err == nil {
			ok++
		}
	}
	if ok < 7 {
		t.Fatalf("the fast device answered %d times in 1s at 10 Hz while another resolved slowly, want >= 7", ok)
	}
	if lookups.Load() == 0 {
		t.Fatal("the slow resolver was never asked; the test proves nothing")
	}
}
