//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// gatewayStopGrace bounds the gateway's graceful stop (icugate run gives
// itself 20 s).
const gatewayStopGrace = 25 * time.Second

// runModbus measures the gateway polling n Modbus TCP devices, then the
// same polls by the driver alone, the goburrow floor and Telegraf.
func (e *env) runModbus(ctx context.Context, n int) *runResult {
	r := e.newResult("modbus", n)
	if err := e.modbus(ctx, r, n); err != nil {
		r.Err = err.Error()
	}
	return r
}

func (e *env) modbus(ctx context.Context, r *runResult, n int) error {
	dir, err := e.runDir(fmt.Sprintf("modbus-%d", n))
	if err != nil {
		return err
	}
	// The devices' ports and the gateway's HTTP port, reserved together
	// so that none is handed out twice.
	ports, err := reservePorts(r.Addresses + 1)
	if err != nil {
		return err
	}
	addrs, listen := ports[:r.Addresses], ports[r.Addresses:]
	spec := siteSpec{Devices: n, PerAddress: e.o.perAddress, Addrs: addrs, Interval: e.o.interval,
		MaxConns: e.o.maxConns, HTTPListen: listen[0]}
	db, site, err := e.generate(dir, &spec)
	if err != nil {
		return err
	}
	conns := max(e.o.maxConns, 1)
	if e.o.telegraf != "" {
		conns = max(conns, e.o.perAddress) // Telegraf: a connection per device
	}
	shards := simShards(r.Addresses, conns, e.fdLimit)
	if shards > 1 {
		r.note("the simulator runs in %d processes: %d addresses do not fit one process' open-file limit (%d)", shards, r.Addresses, e.fdLimit)
	}
	fmt.Fprintf(os.Stderr, "gatebench: %d Modbus devices: starting the simulator\n", n)
	sim, err := e.startSims(ctx, dir, site, shards)
	if err != nil {
		return err
	}
	defer sim.close()

	warm := e.gatewayWarmup(r, site)
	fmt.Fprintf(os.Stderr, "gatebench: starting icugate run (warm-up %v, window %v)\n", warm, e.o.duration)
	gw, err := e.startGateway(ctx, dir, site, listen[0])
	if err != nil {
		return err
	}
	w, err := e.measureAfter(ctx, warm, gw.child, sim, gw.metrics)
	if err != nil {
		gw.stop(gatewayStopGrace)
		return fmt.Errorf("icugate: %w\n%s", err, tail(gw.logPath, 20))
	}
	r.Gateway = measured("icugate run", w, w.sim.Reads)
	if e.influx != nil {
		r.Gateway.PointsPerSec = w.delta("icugate_influxdb_points_written_total") / w.seconds
	}
	if failed := w.delta("icugate_observations_failed_total"); failed > 0 {
		r.Gateway.addNote("%.0f failed polls in the window", failed)
	}
	if !gw.stop(gatewayStopGrace) {
		r.note("icugate did not stop within %v of SIGTERM; killed", gatewayStopGrace)
	}
	if e.influx != nil {
		r.Points = e.countPoints(db)
	}
	if !e.o.compare {
		return nil
	}
	if e.o.maxConns > 1 {
		r.note("the driver alone and the floor keep one connection per address (-max-conns applies to the gateway only)")
	}

	fmt.Fprintln(os.Stderr, "gatebench: the goburrow floor")
	fl, err := e.cs.startLineChild(ctx, "floor", filepath.Join(dir, "floor.log"), time.Minute, "-floor", site)
	if err != nil {
		return err
	}
	if w, err := e.measure(ctx, fl.child, sim, ""); err != nil {
		r.note("floor: %v", err)
	} else {
		r.Floor = measured("goburrow floor", w, w.sim.Reads)
	}
	fl.finish(10 * time.Second)

	if e.o.telegraf != "" {
		fmt.Fprintln(os.Stderr, "gatebench: Telegraf")
		if m, err := e.telegrafRun(ctx, dir, site, sim); err != nil {
			r.note("telegraf: %v", err)
		} else {
			r.Telegraf = m
		}
	}
	sim.close()

	fmt.Fprintln(os.Stderr, "gatebench: the driver alone (cmd/icusim/bench)")
	if m, err := e.driverOnly(ctx, dir, n); err != nil {
		r.note("driver only: %v", err)
	} else {
		r.DriverOnly = m
	}
	return nil
}

// countPoints counts what reached InfluxDB, per measurement.
func (e *env) countPoints(db string) map[string]int64 {
	out := map[string]int64{}
	for _, q := range []struct{ m, f string }{
		{"device_state", "state"}, {"device_telemetry", "status"}, {"device_telemetry", "battery_pct"},
		{"bed_state", "state"}, {"icu_capacity", "beds_total"},
	} {
		if c, err := e.influx.CountIn(db, q.m, q.f); err == nil && c > 0 {
			out[q.m] += int64(c)
		}
	}
	return out
}

// waitPort waits until something accepts connections on addr.
func waitPort(ctx context.Context, addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %v", addr, d)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}
