//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// runMQTT measures the gateway taking n MQTT devices' messages through
// Mosquitto, each device publishing once per interval, then (-backlog)
// draining a backlog published while it was stopped.
func (e *env) runMQTT(ctx context.Context, n int) *runResult {
	r := e.newResult("mqtt", n)
	r.Backlog = e.o.backlog
	if err := e.mqtt(ctx, r, n); err != nil {
		r.Err = err.Error()
	}
	return r
}

func (e *env) mqtt(ctx context.Context, r *runResult, n int) error {
	dir, err := e.runDir(fmt.Sprintf("mqtt-%d", n))
	if err != nil {
		return err
	}
	listen, err := reservePorts(1)
	if err != nil {
		return err
	}
	spec := siteSpec{Devices: n, Interval: e.o.interval, MQTT: e.mosq.URL(), HTTPListen: listen[0]}
	if e.o.backlog > 0 {
		// The backlog is drained up to minutes after it was published;
		// messages older than a device's freshness window are refused
		// as stale, so the window is long here.
		spec.Freshness = 10 * time.Minute
	}
	db, site, err := e.generate(dir, &spec)
	if err != nil {
		return err
	}
	warm := e.gatewayWarmup(r, site)
	fmt.Fprintf(os.Stderr, "gatebench: %d MQTT devices: starting icugate run (warm-up %v, window %v)\n", n, warm, e.o.duration)
	gw, err := e.startGateway(ctx, dir, site, listen[0])
	if err != nil {
		return err
	}
	defer gw.stop(gatewayStopGrace)
	if err := waitMetric(ctx, gw.metrics, "icugate_mqtt_connected", 1, 30*time.Second); err != nil {
		return err
	}
	pub, err := e.cs.startLineChild(ctx, "publisher", filepath.Join(dir, "publisher.log"), time.Minute, "-publish", site)
	if err != nil {
		return err
	}
	defer pub.stop(5 * time.Second)
	w, err := e.measureAfter(ctx, warm, gw.child, nil, gw.metrics)
	if err != nil {
		return fmt.Errorf("icugate: %w\n%s", err, tail(gw.logPath, 20))
	}
	taken := int64(w.delta("icugate_mqtt_messages_received_total"))
	r.Gateway = measured("icugate run", w, taken)
	if e.influx != nil {
		r.Gateway.PointsPerSec = w.delta("icugate_influxdb_points_written_total") / w.seconds
	}
	if obs := int64(w.delta("icugate_observations_total")); abs(obs-taken) > taken/100 {
		r.Gateway.addNote("%d messages received, %d observations taken by the engine", taken, obs)
	}
	pub.finish(10 * time.Second)
	if e.o.backlog == 0 {
		if !gw.stop(gatewayStopGrace) {
			r.note("icugate did not stop within %v of SIGTERM; killed", gatewayStopGrace)
		}
		if e.influx != nil {
			r.Points = e.countPoints(db)
		}
		return nil
	}

	// The backlog: stop the gateway (its persistent session stays on the
	// broker), publish, start a new gateway process and measure it from
	// its start until it has taken every message.
	if err := sleep(ctx, 2*time.Second); err != nil { // the last messages in flight
		return err
	}
	if !gw.stop(gatewayStopGrace) {
		r.note("icugate did not stop within %v of SIGTERM; killed", gatewayStopGrace)
	}
	fmt.Fprintf(os.Stderr, "gatebench: publishing a backlog of %d messages while icugate is stopped\n", e.o.backlog)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	self, _ := os.Executable()
	out, err := exec.CommandContext(pctx, self, "-publish", site, "-bulk", strconv.Itoa(e.o.backlog)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("backlog publisher: %v\n%s", err, out)
	}
	fmt.Fprintf(os.Stderr, "gatebench: draining the backlog\n")
	m, err := e.drain(ctx, dir, site, listen[0])
	if err != nil {
		return err
	}
	r.Drain = m
	if e.influx != nil {
		r.Points = e.countPoints(db)
	}
	return nil
}

// drainPoll is how often the drain looks at the gateway's metrics: each
// look costs the gateway a metrics page, so not too often.
const drainPoll = 500 * time.Millisecond

// drain starts the gateway and measures it from its start until it has
// received the whole backlog. The figures include the process' start
// (tens of milliseconds of CPU), so they slightly overstate the drain.
func (e *env) drain(ctx context.Context, dir, site, listen string) (*measurement, error) {
	start := time.Now()
	gw, err := e.startGateway(ctx, dir, site, listen)
	if err != nil {
		return nil, err
	}
	defer gw.stop(gatewayStopGrace)
	want := float64(e.o.backlog)
	deadline := time.Now().Add(10 * time.Minute)
	var got float64
	for {
		m, err := scrape(ctx, gw.metrics)
		if err != nil {
			return nil, err
		}
		if got = m["icugate_mqtt_messages_received_total"]; got >= want {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("drain: %0.f of %d messages after 10 minutes", got, e.o.backlog)
		}
		if err := sleep(ctx, drainPoll); err != nil {
			return nil, err
		}
	}
	user, sys, err := procCPU(gw.pid())
	if err != nil {
		return nil, err
	}
	w := &window{user: user, sys: sys, seconds: time.Since(start).Seconds()}
	if w.rss, err = procPeakRSS(gw.pid()); err != nil {
		return nil, err
	}
	m := measured("icugate run, backlog drain", w, int64(got))
	m.addNote("measured from the process' start until every message was received (start-up included; metrics polled every 500 ms)")
	return m, nil
}

// waitMetric waits until a metric of the gateway reaches want.
func waitMetric(ctx context.Context, url, name string, want float64, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		m, err := scrape(ctx, url)
		if err == nil && m[name] >= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not reach %g within %v (%v)", name, want, d, err)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
