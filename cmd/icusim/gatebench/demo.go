//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/icugate/icugate/config"
)

// modbusEndpoints lists the distinct Modbus addresses of a site's
// devices: for the demo site they are fixed, and must be free (no demo
// running) for icusim to serve them.
func modbusEndpoints(site *config.Site) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range site.Devices {
		if d.Modbus == nil || d.Modbus.Endpoint() == "" || seen[d.Modbus.Endpoint()] {
			continue
		}
		seen[d.Modbus.Endpoint()] = true
		out = append(out, d.Modbus.Endpoint())
	}
	return out
}

// runDemo measures the gateway on the demo hospital (Modbus TCP, RTU over
// TCP and MQTT devices) with icusim as the simulator. icusim has no read
// counter, so work is what the gateway took: icugate_observations_total.
func (e *env) runDemo(ctx context.Context) *runResult {
	r := e.newResult("demo", 0)
	if err := e.demo(ctx, r); err != nil {
		r.Err = err.Error()
	}
	return r
}

func (e *env) demo(ctx context.Context, r *runResult) error {
	dir, err := e.runDir("demo")
	if err != nil {
		return err
	}
	addrs, err := reservePorts(2)
	if err != nil {
		return err
	}
	spec := siteSpec{MQTT: e.mosq.URL(), HTTPListen: addrs[0]}
	db, err := e.database(&spec)
	if err != nil {
		return err
	}
	text, err := demoSite(e.o.repo, spec)
	if err != nil {
		return err
	}
	site := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(site, []byte(text), 0o644); err != nil {
		return err
	}
	if err := e.check(site); err != nil {
		return err
	}
	loaded, err := config.Load(site)
	if err != nil {
		return err
	}
	r.Devices = len(loaded.Devices)
	for _, a := range modbusEndpoints(loaded) {
		if waitPort(ctx, a, 0) == nil {
			return fmt.Errorf("%s is in use (is the demo running?): the demo site's devices need it", a)
		}
	}
	args := []string{"-c", site, "-listen", addrs[1], "-broker", e.mosq.URL()}
	if e.o.scenario != "" {
		args = append(args, "-scenario", e.o.scenario)
		r.note("icusim plays %s during the run", e.o.scenario)
	}
	sim, err := e.cs.start("icusim", filepath.Join(dir, "icusim.log"), exec.Command(filepath.Join(e.o.bin, "icusim"), args...))
	if err != nil {
		return err
	}
	defer sim.stop(5 * time.Second)
	if err := waitPort(ctx, addrs[1], 30*time.Second); err != nil {
		return fmt.Errorf("icusim: %w\n%s", err, tail(filepath.Join(dir, "icusim.log"), 20))
	}
	warm := e.gatewayWarmup(r, site)
	fmt.Fprintf(os.Stderr, "gatebench: demo site, %d devices: starting icugate run (warm-up %v, window %v)\n", r.Devices, warm, e.o.duration)
	gw, err := e.startGateway(ctx, dir, site, addrs[0])
	if err != nil {
		return err
	}
	defer gw.stop(gatewayStopGrace)
	w, err := e.measureAfter(ctx, warm, gw.child, nil, gw.metrics)
	if err != nil {
		return fmt.Errorf("icugate: %w\n%s", err, tail(gw.logPath, 20))
	}
	r.Gateway = measured("icugate run", w, int64(w.delta("icugate_observations_total")))
	if e.influx != nil {
		r.Gateway.PointsPerSec = w.delta("icugate_influxdb_points_written_total") / w.seconds
	}
	r.Gateway.addNote("%.0f Modbus polls (%.0f failed observations) and %.0f MQTT messages in the window",
		w.delta("icugate_modbus_polls_total"), w.delta("icugate_observations_failed_total"), w.delta("icugate_mqtt_messages_received_total"))
	if !gw.stop(gatewayStopGrace) {
		r.note("icugate did not stop within %v of SIGTERM; killed", gatewayStopGrace)
	}
	if e.influx != nil {
		r.Points = e.countPoints(db)
	}
	return nil
}
