//go:build linux

package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeBin makes a -bin directory whose icugate is script and whose
// icusim and bench do nothing.
func fakeBin(t *testing.T, script string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"icugate": script, "icusim": "exit 0", "bench": "exit 0"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestEnvWithoutServers: with -influx=false and the Modbus workload no
// server starts; -commit overrides the repository's; runs get numbered
// directories and databases; close removes the run directory unless
// -keep.
func TestEnvWithoutServers(t *testing.T) {
	t.Parallel()
	// This icugate accepts a site only when it has a hospital.
	bin := fakeBin(t, `if [ "$1 $2" = "check -c" ] && grep -q '^hospital:' "$3"; then exit 0; fi; echo "refused $*"; exit 1`)
	for _, keep := range []bool{false, true} {
		e, err := newEnv(t.Context(), options{bin: bin, repo: repo, workload: "modbus", commit: "abc1234", keep: keep})
		if err != nil {
			t.Fatal(err)
		}
		if e.commit != "abc1234" || e.diff != "" || e.influx != nil || e.mosq != nil {
			t.Errorf("env commit %q diff %q influx %v mosquitto %v; want -commit and no servers", e.commit, e.diff, e.influx, e.mosq)
		}
		d1, err := e.runDir("modbus-10")
		if err != nil {
			t.Fatal(err)
		}
		d2, _ := e.runDir("modbus-20")
		if filepath.Base(d1) != "01-modbus-10" || filepath.Base(d2) != "02-modbus-20" || !isFile(filepath.Join(bin, "icugate")) {
			t.Errorf("run directories %s, %s; want numbered in turn", d1, d2)
		}
		spec := siteSpec{Devices: 2, PerAddress: 1, Addrs: []string{"127.0.0.1:20001", "127.0.0.1:20002"}, Interval: time.Second, HTTPListen: "127.0.0.1:18080"}
		db, site, err := e.generate(d2, &spec)
		if err != nil || db != "bench02" || site != filepath.Join(d2, "site.yaml") || spec.InfluxURL != "" {
			t.Errorf("generate: db %q site %q influx %q, %v; want bench02 and no influxdb block", db, site, spec.InfluxURL, err)
		}
		junk := filepath.Join(d2, "junk.yaml")
		_ = os.WriteFile(junk, []byte("nothing: here\n"), 0o644)
		if err := e.check(junk); err == nil || !strings.Contains(err.Error(), "refused check -c "+junk) {
			t.Errorf("check of a refused site: %v; want icugate's output", err)
		}
		e.close()
		if _, err := os.Stat(e.dir); (err == nil) != keep {
			t.Errorf("-keep=%t: run directory exists after close: %t", keep, err == nil)
		}
		_ = os.RemoveAll(e.dir)
	}
}

// TestEnvWithServers: the MQTT workload with InfluxDB starts both
// servers; a run's database exists in InfluxDB and the site points at
// it; countPoints counts per measurement; close stops both.
func TestEnvWithServers(t *testing.T) {
	t.Parallel()
	requireServers(t)
	e, err := newEnv(t.Context(), options{bin: fakeBin(t, "exit 0"), repo: repo, workload: "mqtt", influx: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	if e.influx == nil || e.mosq == nil {
		t.Fatalf("influx %v mosquitto %v; want both", e.influx, e.mosq)
	}
	if _, err := e.runDir("mqtt-3"); err != nil {
		t.Fatal(err)
	}
	spec := siteSpec{}
	db, err := e.database(&spec)
	if err != nil || db != "bench01" || spec.InfluxURL != e.influx.URL || spec.Bucket != "bench01/autogen" {
		t.Fatalf("database %q, %v; spec %q %q", db, err, spec.InfluxURL, spec.Bucket)
	}
	lines := "device_state,device=a state=1i 1\ndevice_state,device=b state=2i 2\nbed_state,bed=x state=0i 1\ndevice_telemetry,device=a status=3i 1\n"
	resp, err := http.Post(e.influx.URL+"/write?db="+db, "text/plain", strings.NewReader(lines))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := e.countPoints(db)
	if len(got) != 3 || got["device_state"] != 2 || got["bed_state"] != 1 || got["device_telemetry"] != 1 {
		t.Errorf("countPoints = %v; want device_state 2, bed_state 1, device_telemetry 1 and nothing else", got)
	}
	r := e.newResult("mqtt", 3)
	if r.Bench != "gateway" || r.Devices != 3 || !r.Influx || r.PerAddress != 0 || r.Addresses != 0 {
		t.Errorf("newResult for mqtt: %+v", r)
	}
	influxURL, dir := e.influx.URL, e.dir
	e.close()
	if _, err := http.Get(influxURL + "/ping"); err == nil {
		t.Error("InfluxDB answers after close")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("run directory left after close: %v", err)
	}
}

// requireServers skips when influxd or mosquitto is missing, except under
// CI=true, where a missing server is a failure (the test command installs
// both).
func requireServers(t *testing.T) {
	t.Helper()
	missing := func(what string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (CI=true): run scripts/install-deps.sh", what)
		}
		t.Skip(what + " not installed")
	}
	if _, err := exec.LookPath("influxd"); err != nil {
		missing("influxd")
	}
	if !isFile("/usr/sbin/mosquitto") {
		if _, err := exec.LookPath("mosquitto"); err != nil {
			missing("mosquitto")
		}
	}
}

// TestNewResultForModbus: a Modbus run records its addresses, rounding
// up the last partly filled one.
func TestNewResultForModbus(t *testing.T) {
	t.Parallel()
	e := &env{o: options{perAddress: 4, interval: time.Second, warmup: 2 * time.Second, duration: 3 * time.Second, maxConns: 2}, commit: "c0ffee1", diff: "deadbeef"}
	r := e.newResult("modbus", 10)
	if r.Addresses != 3 || r.PerAddress != 4 || r.IntervalS != 1 || r.WarmupS != 2 || r.WindowS != 3 || r.MaxConns != 2 || !r.Dirty || r.Diff != "deadbeef" || r.Commit != "c0ffee1" {
		t.Errorf("newResult = %+v", r)
	}
}

// TestStartGatewayFailures: an icugate that exits at start is reported
// with its log; a cancelled run stops the icugate it was waiting for.
func TestStartGatewayFailures(t *testing.T) {
	t.Parallel()
	e := &env{o: options{bin: fakeBin(t, `echo "config: no such file $3"; exit 1`)}, cs: &children{}}
	defer e.cs.stopAll()
	dir := t.TempDir()
	if _, err := e.startGateway(t.Context(), dir, "site.yaml", "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "icugate exited at start") || !strings.Contains(err.Error(), "config: no such file site.yaml") {
		t.Errorf("icugate that exits: %v; want its log", err)
	}
	e.o.bin = fakeBin(t, "exec sleep 60")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := e.startGateway(ctx, dir, "site.yaml", "127.0.0.1:1"); err != context.Canceled {
		t.Errorf("cancelled start: %v", err)
	}
	for _, c := range e.cs.procs {
		if !c.exited() {
			t.Errorf("%s (pid %d) still runs after a failed start", c.name, c.pid())
		}
	}
}

// TestStartGatewayWaitsForMetrics: the gateway is up once /metrics
// answers 200, and its metrics URL is the listen address'.
func TestStartGatewayWaitsForMetrics(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	e := &env{o: options{bin: fakeBin(t, "exec sleep 60")}, cs: &children{}}
	defer e.cs.stopAll()
	listen := strings.TrimPrefix(srv.URL, "http://")
	g, err := e.startGateway(t.Context(), t.TempDir(), "site.yaml", listen)
	if err != nil {
		t.Fatal(err)
	}
	if g.metrics != "http://"+listen+"/metrics" || filepath.Base(g.logPath) != "icugate.log" {
		t.Errorf("gateway metrics %q log %q", g.metrics, g.logPath)
	}
}

// TestMeasureAfterRecordsMissingMetrics: metrics that do not answer
// spoil the metric figures, not the CPU ones; metrics that do are
// differenced over the window.
func TestMeasureAfterRecordsMissingMetrics(t *testing.T) {
	t.Parallel()
	e := &env{o: options{duration: 200 * time.Millisecond}, cs: &children{}}
	defer e.cs.stopAll()
	c, err := e.cs.start("sleeper", "", exec.Command("sleep", "60"))
	if err != nil {
		t.Fatal(err)
	}
	free, err := reservePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	w, err := e.measureAfter(t.Context(), 0, c, nil, "http://"+free[0]+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if len(w.problems) != 2 || w.m0 != nil || w.m1 != nil || w.seconds < 0.2 || w.rss <= 0 {
		t.Errorf("window %+v; want both scrapes noted, no metrics, CPU figures kept", w)
	}
	if m := measured("icugate", w, 0); !strings.Contains(m.Note, "did not answer before the window") || !strings.Contains(m.Note, "; ") {
		t.Errorf("measurement note %q; want both problems", m.Note)
	}
	scrapes := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scrapes++
		_, _ = w.Write([]byte("icugate_polls_total{device=\"a\"} " + map[bool]string{true: "10", false: "4"}[scrapes > 1] + "\n"))
	}))
	defer srv.Close()
	w, err = e.measureAfter(t.Context(), 0, c, nil, srv.URL+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if len(w.problems) != 0 || w.delta("icugate_polls_total") != 6 || w.delta("icugate_absent") != 0 {
		t.Errorf("delta %v (problems %v); want 6 and 0 for an absent metric", w.delta("icugate_polls_total"), w.problems)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := e.measureAfter(ctx, time.Second, c, nil, ""); err != context.Canceled {
		t.Errorf("cancelled warm-up: %v", err)
	}
}
