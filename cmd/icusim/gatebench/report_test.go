//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRatios(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		r    runResult
		want map[string]float64
	}{
		{"every reference", runResult{Gateway: &measurement{CPUPer1k: 60}, Floor: &measurement{CPUPer1k: 20},
			DriverOnly: &measurement{CPUPer1k: 30}, Telegraf: &measurement{CPUPer1k: 120}},
			map[string]float64{"gateway/floor": 3, "gateway/driver_only": 2, "gateway/telegraf": 0.5}},
		{"missing and zero references left out", runResult{Gateway: &measurement{CPUPer1k: 60}, Floor: &measurement{CPUPer1k: 0}},
			map[string]float64{}},
		{"no gateway figure", runResult{Gateway: &measurement{}, Floor: &measurement{CPUPer1k: 20}}, nil},
		{"no gateway", runResult{Floor: &measurement{CPUPer1k: 20}}, nil},
	} {
		c.r.ratios()
		if len(c.r.Ratios) != len(c.want) || (c.want == nil) != (c.r.Ratios == nil) {
			t.Errorf("%s: ratios %v, want %v", c.name, c.r.Ratios, c.want)
			continue
		}
		for k, v := range c.want {
			if c.r.Ratios[k] != v {
				t.Errorf("%s: %s = %g, want %g", c.name, k, c.r.Ratios[k], v)
			}
		}
	}
}

// TestShort: a run is short when the gateway did under 95 % of the work
// the devices offer; demo runs and runs without figures never are.
func TestShort(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		workload string
		perSec   float64
		gateway  bool
		want     bool
	}{
		{"modbus", 950, true, false},
		{"modbus", 949, true, true},
		{"mqtt", 500, true, true},
		{"demo", 1, true, false},
		{"modbus", 0, false, false},
	} {
		r := runResult{Workload: c.workload, Devices: 1000, IntervalS: 1}
		if c.gateway {
			r.Gateway = &measurement{PerSec: c.perSec}
		}
		if got := r.short(); got != c.want {
			t.Errorf("%s at %g/s of 1000/s: short %v, want %v", c.workload, c.perSec, got, c.want)
		}
	}
}

func TestMeasured(t *testing.T) {
	t.Parallel()
	w := &window{user: 300 * time.Millisecond, sys: 100 * time.Millisecond, seconds: 2, rss: 64 << 20,
		problems: []string{"metrics late"},
		sim:      &simReport{Devices: 10, DevicesRead: 9, MinPerDev: 0, Late: [][2]int64{{0, 90}, {50, 10}}}}
	m := measured("icugate run", w, 2000)
	want := measurement{Name: "icugate run", Seconds: 2, Work: 2000, PerSec: 1000, CPUms: 400, UserMs: 300, SysMs: 100,
		CPUPercent: 20, CPUPer1k: 200, RSSMB: 64, LateP50ms: 0, LateP99ms: 5, LateMaxms: 5, Devices: 10, DevicesRead: 9,
		Note: "metrics late", lateKnown: true}
	if *m != want {
		t.Errorf("measured\n %+v\nwant\n %+v", *m, want)
	}
	idle := measured("idle", &window{}, 0)
	if idle.PerSec != 0 || idle.CPUPer1k != 0 || idle.CPUPercent != 0 || idle.lateKnown {
		t.Errorf("an empty window gives %+v; want zeros and no lateness", *idle)
	}
}

func TestTitle(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		r    runResult
		want []string
	}{
		{runResult{Workload: "modbus", Devices: 1000, PerAddress: 4, Addresses: 250, IntervalS: 1, Influx: true, MaxConns: 2, Commit: "abc"},
			[]string{"Modbus TCP: 1000 devices, 4 per address (250 addresses)", "InfluxDB on", "max_conns 2", "commit abc"}},
		{runResult{Workload: "mqtt", Devices: 50, IntervalS: 1, Backlog: 2000, Commit: "abc", Dirty: true, Diff: "d1"},
			[]string{"MQTT: 50 devices", "a backlog of 2000", "InfluxDB off (API only)", "commit abc+dirty (diff d1)"}},
		{runResult{Workload: "demo", Devices: 30}, []string{"demo site (configs/demo-site.yaml) with icusim: 30 devices"}},
	} {
		got := c.r.title()
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("title %q lacks %q", got, w)
			}
		}
	}
}

// TestPrintRun: the table holds one row per measured process; failures,
// short runs, unread devices, notes, points and ratios are spelled out.
func TestPrintRun(t *testing.T) {
	t.Parallel()
	r := &runResult{Workload: "modbus", Devices: 100, PerAddress: 1, Addresses: 100, IntervalS: 1, Err: "icugate exited",
		Gateway: &measurement{Name: "icugate run", PerSec: 50, CPUPer1k: 80, CPUms: 100, SysMs: 25, Devices: 100, DevicesRead: 90,
			LateP99ms: 2000, lateKnown: true, PointsPerSec: 120, Note: "3 failed polls"},
		Floor:  &measurement{Name: "goburrow floor", PerSec: 100, CPUPer1k: 20},
		Points: map[string]int64{"device_state": 7}, Notes: []string{"warm-up 20s"}}
	r.ratios()
	var b bytes.Buffer
	printRun(&b, r)
	out := b.String()
	for _, want := range []string{
		"FAILED: icugate exited",
		"icugate run", "goburrow floor",
		"25%",    // system share of the gateway's CPU
		">=2000", // lateness in the histogram's last bucket
		"120",    // points/s
		"only 90 of 100 devices were read",
		"icugate run: 3 failed polls",
		"points in InfluxDB after the run: map[device_state:7]",
		"CPU per 1k ratios: gateway/floor 4.00",
		"SHORT: the gateway did 50 of the 100",
		"note: warm-up 20s",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("printRun output lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "goburrow floor") && !strings.Contains(line, "floor: ") && strings.Count(line, " -") < 3 {
			t.Errorf("the floor's unknown lateness is not shown as -: %q", line)
		}
	}
}

// TestRecordAppendsJSONLines: each run is printed and appended to -json
// as one line that -summarize reads back.
func TestRecordAppendsJSONLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs.jsonl")
	e := &env{o: options{jsonOut: path}}
	stdout := os.Stdout
	devnull, _ := os.Open(os.DevNull)
	os.Stdout = devnull // record prints the table too
	for _, cpu := range []float64{100, 200} {
		e.record(&runResult{Bench: "gateway", Workload: "mqtt", Devices: 10, IntervalS: 1, Gateway: &measurement{CPUPer1k: cpu}, Floor: &measurement{CPUPer1k: 50}})
	}
	os.Stdout = stdout
	devnull.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 2 {
		t.Fatalf("%d lines in %s, want 2:\n%s", n, path, b)
	}
	runs, err := readRuns(bytes.NewReader(b))
	if err != nil || len(runs) != 2 || runs[1].Gateway.CPUPer1k != 200 || runs[1].Ratios["gateway/floor"] != 4 {
		t.Errorf("read back %d runs, %v; want both, with their ratios", len(runs), err)
	}
	if len(e.results) != 2 {
		t.Errorf("%d results kept for the summary, want 2", len(e.results))
	}
	var sum bytes.Buffer
	e.printSummary(&sum)
	if !strings.Contains(sum.String(), "== summary") || strings.Count(sum.String(), "SHORT") != 2 {
		t.Errorf("summary of two short runs:\n%s", sum.String())
	}
	var one bytes.Buffer
	(&env{results: e.results[:1]}).printSummary(&one)
	if one.Len() != 0 {
		t.Errorf("a single run printed a summary: %q", one.String())
	}
}

func TestConfigKey(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		r    runResult
		want string
	}{
		{runResult{Workload: "modbus", Devices: 1000, PerAddress: 4, Influx: true}, "modbus n=1000 per-address=4 influx=true"},
		{runResult{Workload: "modbus", Devices: 500, PerAddress: 1, MaxConns: 2}, "modbus n=500 per-address=1 influx=false max-conns=2"},
		{runResult{Workload: "mqtt", Devices: 50, PerAddress: 9, Backlog: 1000}, "mqtt n=50 influx=false backlog=1000"},
	} {
		if got := configKey(&c.r); got != c.want {
			t.Errorf("configKey = %q, want %q", got, c.want)
		}
	}
}

func TestMedianLoHi(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		v            []float64
		med, lo, hi  string
		medianExists bool
	}{
		{nil, "-", "-", "-", false},
		{[]float64{3}, "3.00", "3.0", "3.0", true},
		{[]float64{4, 1, 3}, "3.00", "1.0", "4.0", true},
		{[]float64{4, 1, 3, 2}, "2.50", "1.0", "4.0", true},
	} {
		in := append([]float64(nil), c.v...)
		if _, ok := median(c.v); ok != c.medianExists {
			t.Errorf("median(%v) ok %v", c.v, ok)
		}
		if med(c.v) != c.med || lo(c.v) != c.lo || hi(c.v) != c.hi {
			t.Errorf("%v: med %s lo %s hi %s; want %s %s %s", c.v, med(c.v), lo(c.v), hi(c.v), c.med, c.lo, c.hi)
		}
		for i := range in {
			if in[i] != c.v[i] {
				t.Errorf("median sorted its input %v", c.v)
			}
		}
	}
}

// TestSummarizeGroupsConfigurations: runs of different configurations
// get a row each, with their commits and short count.
func TestSummarizeGroupsConfigurations(t *testing.T) {
	t.Parallel()
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, r := range []runResult{
		{Bench: "gateway", Workload: "modbus", Devices: 100, PerAddress: 1, IntervalS: 1, Commit: "a1", Gateway: &measurement{CPUPer1k: 10, PerSec: 100}},
		{Bench: "gateway", Workload: "modbus", Devices: 100, PerAddress: 1, IntervalS: 1, Commit: "b2", Dirty: true, Diff: "ff", Gateway: &measurement{CPUPer1k: 30, PerSec: 50}},
		{Bench: "gateway", Workload: "mqtt", Devices: 10, IntervalS: 1, Commit: "a1", Gateway: &measurement{CPUPer1k: 5, PerSec: 10}},
		{Bench: "driver", Workload: "modbus", Devices: 100},
	} {
		_ = enc.Encode(r)
	}
	runs, err := readRuns(&in)
	if err != nil || len(runs) != 3 {
		t.Fatalf("%d runs, %v; want the 3 gateway runs", len(runs), err)
	}
	var out bytes.Buffer
	summarize(runs, &out)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("summary has %d lines, want a header and 2 rows:\n%s", len(lines), out.String())
	}
	if !strings.HasPrefix(lines[1], "modbus n=100 per-address=1 influx=false  2     1      a1,b2+dirty.ff  20.00 (10.0-30.0)") {
		t.Errorf("modbus row %q", lines[1])
	}
	if !strings.HasPrefix(lines[2], "mqtt n=10 influx=false") {
		t.Errorf("mqtt row %q", lines[2])
	}
}

func TestSummarizeFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if code := summarizeFile(filepath.Join(dir, "missing.jsonl"), &bytes.Buffer{}); code != 1 {
		t.Errorf("missing file: exit %d, want 1", code)
	}
	bad := filepath.Join(dir, "bad.jsonl")
	_ = os.WriteFile(bad, []byte("{\"bench\":\"gateway\"}\n{broken\n"), 0o644)
	if _, err := readRuns(strings.NewReader("{\"bench\":\"gateway\"}\n{broken\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("broken line: %v; want its line number", err)
	}
	if code := summarizeFile(bad, &bytes.Buffer{}); code != 1 {
		t.Errorf("broken file: exit %d, want 1", code)
	}
	good := filepath.Join(dir, "good.jsonl")
	_ = os.WriteFile(good, []byte(`{"bench":"gateway","workload":"mqtt","devices":1,"gateway":{"cpu_ms_per_1k":7}}`+"\n"), 0o644)
	var out bytes.Buffer
	if code := summarizeFile(good, &out); code != 0 || !strings.Contains(out.String(), "7.00") {
		t.Errorf("good file: exit %d, output %q", code, out.String())
	}
}

// TestRunFlagValidation: bad flags end with exit status 2 before anything
// is started.
func TestRunFlagValidation(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-workload", "zigbee"},
		{"-scale", "100,lots"},
		{"-scale", "100,-5"},
		{"-serve", "site.yaml", "-shard", "2/2"},
		{"-serve", "site.yaml", "-shard", "x"},
		{"-no-such-flag"},
	} {
		if code := run(args); code != 2 {
			t.Errorf("run %v: exit %d, want 2", args, code)
		}
	}
	if code := run([]string{"-workload", "modbus", "-bin", t.TempDir()}); code != 1 {
		t.Errorf("run without binaries: exit %d, want 1", code)
	}
}

func TestScrapeAndWaits(t *testing.T) {
	t.Parallel()
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		calls++
		_, _ = w.Write([]byte("icugate_mqtt_connected " + map[bool]string{true: "1", false: "0"}[calls > 2] + "\n"))
	}))
	defer srv.Close()
	ctx := t.Context()
	if _, err := scrape(ctx, srv.URL+"/nope"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("scrape of a 404: %v", err)
	}
	if err := waitMetric(ctx, srv.URL+"/metrics", "icugate_mqtt_connected", 1, 10*time.Second); err != nil || calls != 3 {
		t.Errorf("waitMetric: %v after %d scrapes; want success at the third", err, calls)
	}
	if err := waitMetric(ctx, srv.URL+"/metrics", "icugate_never", 1, 0); err == nil || !strings.Contains(err.Error(), "icugate_never did not reach 1") {
		t.Errorf("waitMetric of a missing metric: %v", err)
	}
	if err := waitPort(ctx, strings.TrimPrefix(srv.URL, "http://"), 0); err != nil {
		t.Errorf("waitPort of a listening server: %v", err)
	}
	free, err := reservePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := waitPort(ctx, free[0], 0); err == nil {
		t.Errorf("waitPort of a free port %s succeeded", free[0])
	}
}

func TestTail(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "icugate.log")
	var b strings.Builder
	for i := range 30 {
		b.WriteString("line " + string(rune('a'+i%26)) + "\n")
		b.WriteString("level=INFO msg=transition bed=x\n")
	}
	_ = os.WriteFile(path, []byte(b.String()), 0o644)
	got := tail(path, 3)
	if got != "line b\nline c\nline d" {
		t.Errorf("tail = %q; want the last 3 lines that are not transitions", got)
	}
	if tail(filepath.Join(t.TempDir(), "none"), 3) != "" {
		t.Error("tail of a missing file is not empty")
	}
}
