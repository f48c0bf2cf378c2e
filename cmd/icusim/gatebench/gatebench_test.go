//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gb "github.com/goburrow/modbus"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/simulator"
)

// repo is the repository root, for configs/.
const repo = "../../.."

func TestParseStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	line := "4242 (ic (u) gate) S 1 4242 4242 0 -1 4194560 2090 0 0 0 1234 567 0 0 20 0 9 0 100 1000 200 18446744073709551615"
	user, sys, err := parseStat(line)
	if err != nil || user != 12340*time.Millisecond || sys != 5670*time.Millisecond {
		t.Fatalf("parseStat: %v %v %v, want 12.34s 5.67s", user, sys, err)
	}
	if _, _, err := parseStat("12 (x) S 1"); err == nil {
		t.Error("short stat line accepted")
	}
	hwm, err := parseHWM("Name:\ticugate\nVmPeak:\t 1000 kB\nVmHWM:\t   65536 kB\nVmRSS:\t 1 kB\n")
	if err != nil || hwm != 64<<20 {
		t.Errorf("parseHWM: %d %v, want 64 MiB", hwm, err)
	}
	if _, err := parseHWM("Name:\tx\n"); err == nil {
		t.Error("status without VmHWM accepted")
	}
	// This process' own files parse.
	if _, _, err := procCPU(os.Getpid()); err != nil {
		t.Error(err)
	}
	if n, err := procPeakRSS(os.Getpid()); err != nil || n <= 0 {
		t.Errorf("own peak RSS %d %v", n, err)
	}
}

func TestParseMetrics(t *testing.T) {
	m := parseMetrics(`# HELP icugate_observations_total Observations.
# TYPE icugate_observations_total counter
icugate_observations_total 12345
icugate_modbus_polls_total{device="a"} 3
icugate_modbus_polls_total{device="b, c"} 4
icugate_influxdb_points_written_total 1.5e+06
icugate_influxdb_write_duration_seconds_bucket{reason="ok",le="0.001"} 7
`)
	for name, want := range map[string]float64{
		"icugate_observations_total":            12345,
		"icugate_modbus_polls_total":            7,
		"icugate_influxdb_points_written_total": 1.5e6,
	} {
		if m[name] != want {
			t.Errorf("%s = %g, want %g", name, m[name], want)
		}
	}
}

// TestSitesPassValidation loads every kind of generated site the way the
// gateway does (the harness also runs icugate check on each).
func TestSitesPassValidation(t *testing.T) {
	addrs := make([]string, 130)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", 20000+i)
	}
	for _, c := range []struct {
		name string
		spec siteSpec
	}{
		{"modbus, influx", siteSpec{Devices: 130, PerAddress: 1, Addrs: addrs, Interval: time.Second, InfluxURL: "http://127.0.0.1:1", Bucket: "b/autogen"}},
		{"converters, max_conns", siteSpec{Devices: 130, PerAddress: 4, Addrs: addrs, Interval: time.Second, MaxConns: 2}},
		{"mqtt, backlog", siteSpec{Devices: 75, Interval: time.Second, MQTT: "tcp://127.0.0.1:1", Freshness: 10 * time.Minute}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.spec.HTTPListen = "127.0.0.1:18080"
			path, err := writeSite(t.TempDir(), c.spec, repo)
			if err != nil {
				t.Fatal(err)
			}
			site, err := config.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(site.Devices) != c.spec.Devices || len(site.Units) != (c.spec.Devices+bedsPerUnit-1)/bedsPerUnit {
				t.Errorf("%d devices in %d units", len(site.Devices), len(site.Units))
			}
			if (site.InfluxDB != nil) != (c.spec.InfluxURL != "") {
				t.Errorf("influxdb block %v for url %q", site.InfluxDB, c.spec.InfluxURL)
			}
			d := site.Devices[len(site.Devices)-1]
			switch {
			case c.spec.MQTT != "":
				if d.MQTT == nil || d.MQTT.Interval != time.Second || d.FreshnessWindow() != 10*time.Minute {
					t.Errorf("last device %+v", d)
				}
			default:
				i := len(site.Devices) - 1
				m := d.Modbus
				if m.Address != addrs[i/c.spec.PerAddress] || m.UnitID != 1+i%c.spec.PerAddress || m.MaxConns != max(c.spec.MaxConns, 1) {
					t.Errorf("last device %+v", m)
				}
				if p := site.Profiles["bench"]; len(p.Telemetry) == 0 {
					t.Error("bench profile writes no telemetry")
				}
			}
		})
	}
}

func TestDemoSite(t *testing.T) {
	abs, err := filepath.Abs(repo)
	if err != nil {
		t.Fatal(err)
	}
	for _, influx := range []string{"", "http://127.0.0.1:1"} {
		text, err := demoSite(abs, siteSpec{MQTT: "tcp://127.0.0.1:2", HTTPListen: "127.0.0.1:3", InfluxURL: influx, Bucket: "b/autogen"})
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "site.yaml")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		site, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if site.MQTT.Broker != "tcp://127.0.0.1:2" || site.HTTP.Listen != "127.0.0.1:3" || (site.InfluxDB != nil) != (influx != "") {
			t.Errorf("demo site not rewritten: %+v %+v %+v", site.MQTT, site.HTTP, site.InfluxDB)
		}
	}
}

func TestTelegrafConfig(t *testing.T) {
	addrs := []string{"127.0.0.1:20001", "127.0.0.1:20002"}
	path, err := writeSite(t.TempDir(), siteSpec{Devices: 7, PerAddress: 4, Addrs: addrs, Interval: time.Second, HTTPListen: "127.0.0.1:18080"}, repo)
	if err != nil {
		t.Fatal(err)
	}
	site, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	conf := telegrafConfig(site, time.Second)
	if n := strings.Count(conf, "[[inputs.modbus]]"); n != 7 {
		t.Errorf("%d inputs, want 7", n)
	}
	if !strings.Contains(conf, `controller = "tcp://127.0.0.1:20002"`) || !strings.Contains(conf, "slave_id = 3") {
		t.Errorf("config misses a device:\n%s", conf)
	}
}

func TestParseDriverOnly(t *testing.T) {
	out := `devices 1000 (1 per address, 1000 addresses), interval 1s, measured 20.001s
polls 20003 (1000/s), errors 0 (all run, by reason: map[])
driver CPU 30.52 ms per 1,000 polls (user 12.10, system 18.42; target <= 20)
peak RSS 32.0 MB (target <= 64)
poll lateness (gap between a device's observations minus its interval): p50 100µs, p99 38.5ms, max 53.2ms
`
	m, err := parseDriverOnly(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Work != 20003 || m.PerSec != 1000 || m.CPUPer1k != 30.52 || m.RSSMB != 32 || m.LateP99ms != 38.5 || m.LateP50ms != 0.1 || m.Seconds != 20.001 {
		t.Errorf("parsed %+v", m)
	}
	if _, err := parseDriverOnly("bench: listen tcp: too many open files\n"); err == nil {
		t.Error("failed run parsed")
	}
}

func TestLatenessAcrossShards(t *testing.T) {
	a := simReport{Reads: 10, Devices: 2, DevicesRead: 2, MinPerDev: 5, Late: [][2]int64{{0, 98}}}
	b := simReport{Reads: 4, Devices: 1, DevicesRead: 1, MinPerDev: 4, Late: [][2]int64{{100, 1}, {300, 1}}}
	var r simReport
	r.merge(a)
	r.merge(b)
	p50, p99, pmax := r.lateness()
	if r.Reads != 14 || r.Devices != 3 || r.MinPerDev != 4 || p50 != 0 || p99 != 10*time.Millisecond || pmax != 30*time.Millisecond {
		t.Errorf("merged %+v: p50 %v p99 %v max %v", r, p50, p99, pmax)
	}
}

func TestShards(t *testing.T) {
	var devs []config.Device
	for i := range 10 {
		devs = append(devs, config.Device{ID: fmt.Sprint(i), Modbus: &config.ModbusDevice{Address: fmt.Sprintf("a%d", i/2)}})
	}
	seen := map[string]int{}
	for k := range 3 {
		for _, d := range shardDevices(devs, k, 3) {
			if s, ok := seen["addr "+d.Modbus.Address]; ok && s != k {
				t.Errorf("address %s in shards %d and %d", d.Modbus.Address, s, k)
			}
			seen["addr "+d.Modbus.Address] = k
			seen[d.ID] = k
		}
	}
	if len(seen) != 15 {
		t.Errorf("shards hold %d devices and addresses, want 10 + 5", len(seen))
	}
	for _, c := range []struct {
		addrs, conns int
		limit        uint64
		want         int
	}{{1000, 1, 20000, 1}, {10000, 1, 20000, 2}, {10000, 2, 20000, 2}, {500, 4, 20000, 1}, {2000, 4, 20000, 1}, {10000, 4, 20000, 3}} {
		if got := simShards(c.addrs, c.conns, c.limit); got != c.want {
			t.Errorf("simShards(%d, %d, %d) = %d, want %d", c.addrs, c.conns, c.limit, got, c.want)
		}
	}
}

// TestReadStatsCountsPolls runs the simulator with the harness' counter
// and polls it as the floor does: every read is counted once, per device.
func TestReadStatsCountsPolls(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	path, err := writeSite(t.TempDir(), siteSpec{Devices: 2, PerAddress: 2, Addrs: []string{addr}, Interval: time.Second, HTTPListen: "127.0.0.1:18080"}, repo)
	if err != nil {
		t.Fatal(err)
	}
	site, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	stats := newReadStats(site)
	sim, err := simulator.New(site, simulator.Options{Logger: slog.New(slog.DiscardHandler), OnRead: stats.onRead})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	h := gb.NewTCPClientHandler(addr)
	h.Timeout = 2 * time.Second
	defer h.Close()
	c := gb.NewClient(h)
	read := func(unit byte) {
		h.SlaveId = unit
		b, err := c.ReadHoldingRegisters(0, benchRegisters)
		if err != nil || len(b) != 2*benchRegisters {
			t.Fatalf("read unit %d: %d bytes, %v", unit, len(b), err)
		}
	}
	read(1) // before the window: not counted
	stats.start()
	for range 3 {
		read(1)
	}
	read(2)
	r := stats.stop()
	if r.Reads != 4 || r.Devices != 2 || r.DevicesRead != 2 || r.MinPerDev != 1 {
		t.Errorf("report %+v, want 4 reads of 2 devices, at least 1 each", r)
	}
	// Back-to-back reads come early, never late: all in bucket 0.
	if len(r.Late) != 1 || r.Late[0] != [2]int64{0, 3} {
		t.Errorf("lateness buckets %v, want [[0 3]]", r.Late)
	}
}

func TestSummarize(t *testing.T) {
	var in bytes.Buffer
	for i, cpu := range []float64{130, 120, 150, 125, 500} {
		r := runResult{Bench: "gateway", Workload: "modbus", Commit: "abc", Devices: 1000, PerAddress: 1, Influx: true,
			Gateway: &measurement{CPUPer1k: cpu, RSSMB: 60, PerSec: 1000}, Floor: &measurement{CPUPer1k: 50}}
		if i == 4 {
			r.Err = "failed" // failed runs are left out
		}
		r.ratios()
		b, _ := json.Marshal(r)
		in.Write(append(b, '\n'))
	}
	in.WriteString("not json, skipped\n")
	runs, err := readRuns(&in)
	if err != nil || len(runs) != 4 {
		t.Fatalf("%d runs, %v", len(runs), err)
	}
	var out bytes.Buffer
	summarize(runs, &out)
	if !strings.Contains(out.String(), "127.50 (120.0-150.0)") || !strings.Contains(out.String(), "2.55") {
		t.Errorf("summary:\n%s", out.String())
	}
}
