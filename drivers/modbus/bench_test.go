package modbus

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/simulator"
)

// BenchmarkPollTCP polls one simulated device (16 holding registers, one
// request) back to back over Modbus TCP. The simulator runs in the same
// process, so ns/op includes its side; use it for allocations and
// regressions. Fleet-scale CPU and RSS: go run ./cmd/icusim/bench.
func BenchmarkPollTCP(b *testing.B) {
	p := &config.Profile{Name: "b", Kind: "ventilator", Values: []config.Value{
		{Name: "status", Table: config.TableHolding, Address: ptr(0), Range: []float64{0, 15}},
		{Name: "hours", Table: config.TableHolding, Address: ptr(2), Type: config.TypeFloat32},
		{Name: "serial", Table: config.TableHolding, Address: ptr(4), Type: config.TypeUint32},
		{Name: "counter", Table: config.TableHolding, Address: ptr(8), Type: config.TypeUint64},
		{Name: "pressure", Table: config.TableHolding, Address: ptr(14), Type: config.TypeFloat32, Order: config.OrderCDAB},
	}, Serial: "serial"}
	if err := p.Compile(); err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	site := &config.Site{Profiles: map[string]*config.Profile{"b": p}, Devices: []config.Device{{
		ID: "d", Kind: "ventilator", Profile: "b", Serial: "42",
		Modbus: &config.ModbusDevice{Address: addr, UnitID: 1, Interval: time.Second, Timeout: time.Second},
	}}}
	sim, err := simulator.New(site, simulator.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	d, err := New(site, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	dv := d.devices[0]
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if o := dv.poll(ctx, d.endpoints[0].conns[0]); o.Err != nil || o.Serial != "42" {
			b.Fatalf("poll: %v serial %q", o.Err, o.Serial)
		}
	}
	b.StopTimer()
	for _, ep := range d.endpoints {
		ep.closeAll()
	}
}
