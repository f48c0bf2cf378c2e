//go:build linux

package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/internal/influxtest"
	"github.com/icugate/icugate/internal/mosquittotest"
)

// env is what the runs of one invocation share: the servers, the
// processes started, the temporary directory and the results so far.
type env struct {
	o       options
	cs      *children
	dir     string
	influx  *influxtest.Server
	mosq    *mosquittotest.Broker
	commit  string
	diff    string
	fdLimit uint64
	seq     int
	results []*runResult
}

func newEnv(ctx context.Context, o options) (*env, error) {
	for _, b := range []string{"icugate", "icusim", "bench"} {
		if !isFile(filepath.Join(o.bin, b)) {
			return nil, fmt.Errorf("%s not found in %s: build with go build -o %s ./cmd/icugate ./cmd/icusim ./cmd/icusim/bench ./cmd/icusim/gatebench", b, o.bin, o.bin)
		}
	}
	dir, err := os.MkdirTemp("", "gatebench-*")
	if err != nil {
		return nil, err
	}
	e := &env{o: o, cs: &children{}, dir: dir}
	e.commit, e.diff = gitCommit(o.repo)
	if o.commit != "" {
		e.commit, e.diff = o.commit, ""
	}
	if e.fdLimit, err = raiseFileLimit(65536); err != nil {
		fmt.Fprintln(os.Stderr, "gatebench: cannot raise the open-file limit:", err)
	}
	if o.influx {
		if e.influx, err = startInflux(ctx, filepath.Join(dir, "influxdb")); err != nil {
			e.close()
			return nil, err
		}
	}
	if o.workload != "modbus" {
		if e.mosq, err = startMosquitto(filepath.Join(dir, "mosquitto")); err != nil {
			e.close()
			return nil, err
		}
	}
	tree := ""
	if e.diff != "" {
		tree = " (dirty tree, diff " + e.diff + ")"
	}
	fmt.Fprintf(os.Stderr, "gatebench: commit %s%s, run directory %s, open-file limit %d\n", e.commit, tree, dir, e.fdLimit)
	return e, nil
}

// close stops every process and removes the run directory unless -keep.
func (e *env) close() {
	e.cs.stopAll()
	if e.mosq != nil {
		e.mosq.Stop()
	}
	if e.influx != nil {
		e.influx.Stop()
	}
	if e.o.keep {
		fmt.Fprintln(os.Stderr, "gatebench: run directory kept:", e.dir)
		return
	}
	_ = os.RemoveAll(e.dir)
}

// gitCommit returns the short commit of the repository and, when its
// tree has changes (other engineers edit it while benchmarks run), a
// short hash of its diff, so that runs of the same uncommitted code can
// be told from runs of different code.
func gitCommit(repo string) (commit, diff string) {
	out, err := exec.Command("git", "-C", repo, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown", ""
	}
	d, err := exec.Command("git", "-C", repo, "diff", "HEAD").Output()
	if err != nil || len(d) == 0 {
		return strings.TrimSpace(string(out)), ""
	}
	h := sha256.Sum256(d)
	return strings.TrimSpace(string(out)), fmt.Sprintf("%x", h[:4])
}

// runDir makes a fresh directory for one run.
func (e *env) runDir(name string) (string, error) {
	e.seq++
	d := filepath.Join(e.dir, fmt.Sprintf("%02d-%s", e.seq, name))
	return d, os.MkdirAll(d, 0o755)
}

// database creates a fresh InfluxDB database for the run, when the runs
// write to InfluxDB, and points the site spec at it; it returns the
// database's name.
func (e *env) database(spec *siteSpec) (string, error) {
	db := fmt.Sprintf("bench%02d", e.seq)
	if e.influx == nil {
		return db, nil
	}
	if err := e.influx.CreateDatabase(db); err != nil {
		return "", err
	}
	spec.InfluxURL, spec.Bucket = e.influx.URL, db+"/autogen"
	return db, nil
}

// generate writes a generated site into dir, with its database, and has
// icugate check it; it returns the database and the site file.
func (e *env) generate(dir string, spec *siteSpec) (db, site string, err error) {
	if db, err = e.database(spec); err != nil {
		return "", "", err
	}
	if site, err = writeSite(dir, *spec, e.o.repo); err != nil {
		return "", "", err
	}
	return db, site, e.check(site)
}

// check runs `icugate check` on a generated site: the harness must not
// measure a gateway that refuses its config.
func (e *env) check(site string) error {
	out, err := exec.Command(filepath.Join(e.o.bin, "icugate"), "check", "-c", site).CombinedOutput()
	if err != nil {
		return fmt.Errorf("icugate check -c %s: %v\n%s", site, err, out)
	}
	return nil
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// gateway is a running `icugate run`.
type gateway struct {
	*child
	metrics string
	logPath string
}

// startGateway runs icugate on a site and waits until its HTTP API
// answers /metrics.
func (e *env) startGateway(ctx context.Context, dir, site, listen string) (*gateway, error) {
	cmd := exec.Command(filepath.Join(e.o.bin, "icugate"), "run", "-c", site, "-data", filepath.Join(dir, "data"))
	cmd.Env = append(os.Environ(), "ICUGATE_INFLUXDB_TOKEN=bench:bench")
	logPath := filepath.Join(dir, "icugate.log")
	c, err := e.cs.start("icugate", logPath, cmd)
	if err != nil {
		return nil, err
	}
	g := &gateway{child: c, metrics: "http://" + listen + "/metrics", logPath: logPath}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if resp, err := http.Get(g.metrics); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return g, nil
			}
		}
		if c.exited() {
			return nil, fmt.Errorf("icugate exited at start: %v\n%s", c.err, tail(logPath, 20))
		}
		if time.Now().After(deadline) {
			c.stop(5 * time.Second)
			return nil, fmt.Errorf("icugate did not answer %s within 2 minutes\n%s", g.metrics, tail(logPath, 20))
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			c.stop(5 * time.Second)
			return nil, err
		}
	}
}

// tail returns the last n lines of a log file, leaving out the
// gateway's transition lines (thousands when devices go offline).
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if !strings.Contains(l, "msg=transition ") {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// window is one measured process over one measuring window.
type window struct {
	user, sys time.Duration
	seconds   float64
	rss       int64
	sim       *simReport
	m0, m1    map[string]float64
	// problems are what went wrong without spoiling the CPU figures
	// (an overloaded gateway that does not answer its metrics in time).
	problems []string
}

func (w *window) cpu() time.Duration { return w.user + w.sys }

// delta is how much a metric grew over the window.
func (w *window) delta(name string) float64 { return w.m1[name] - w.m0[name] }

// measure waits the warm-up, then measures process pid over the window:
// its CPU, the simulator's read counts (when sim is set) and the growth
// of its metrics (when metricsURL is set). Metrics are scraped outside
// the CPU window, so the scrapes' cost is not counted.
func (e *env) measure(ctx context.Context, c *child, sim *simGroup, metricsURL string) (*window, error) {
	return e.measureAfter(ctx, e.o.warmup, c, sim, metricsURL)
}

// gatewayWarmup is the warm-up of a gateway on a site: -warmup, but at
// least the site's hold time and 5 s more, so that the window does not
// hold the start's wave of bed transitions (every bed settles once its
// devices' states have held that long) but the steady state.
func (e *env) gatewayWarmup(r *runResult, sitePath string) time.Duration {
	site, err := config.Load(sitePath)
	if err != nil {
		return e.o.warmup
	}
	w := max(e.o.warmup, site.HoldTime()+5*time.Second)
	if w != e.o.warmup {
		r.note("the gateway's warm-up is %v: beds settle after the site's hold of %v", w, site.HoldTime())
	}
	r.WarmupS = w.Seconds()
	return w
}

func (e *env) measureAfter(ctx context.Context, warmup time.Duration, c *child, sim *simGroup, metricsURL string) (*window, error) {
	if err := sleep(ctx, warmup); err != nil {
		return nil, err
	}
	w := &window{}
	var err error
	if metricsURL != "" {
		if w.m0, err = scrape(ctx, metricsURL); err != nil {
			w.problems = append(w.problems, fmt.Sprintf("the gateway's metrics did not answer before the window (%v): its metric figures are missing", err))
		}
	}
	if sim != nil {
		if err := sim.start(ctx); err != nil {
			return nil, err
		}
	}
	u0, s0, err := procCPU(c.pid())
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := sleep(ctx, e.o.duration); err != nil {
		return nil, err
	}
	u1, s1, err := procCPU(c.pid())
	if err != nil {
		return nil, fmt.Errorf("%s ended during the window: %w", c.name, err)
	}
	w.seconds = time.Since(t0).Seconds()
	w.user, w.sys = u1-u0, s1-s0
	if sim != nil {
		if w.sim, err = sim.stop(ctx); err != nil {
			return nil, err
		}
	}
	if w.rss, err = procPeakRSS(c.pid()); err != nil {
		return nil, err
	}
	if metricsURL != "" {
		if w.m1, err = scrape(ctx, metricsURL); err != nil {
			w.problems = append(w.problems, fmt.Sprintf("the gateway's metrics did not answer after the window (%v): its metric figures are missing", err))
		}
		if w.m0 == nil || w.m1 == nil {
			w.m0, w.m1 = nil, nil
		}
	}
	if c.exited() {
		return nil, errors.New(c.name + " ended during the window")
	}
	return w, nil
}

// measured turns a window into the figures reported for one process;
// work is the polls or messages the process handled in the window.
func measured(name string, w *window, work int64) *measurement {
	m := &measurement{Name: name, Seconds: w.seconds, Work: work,
		CPUms: ms(w.cpu()), UserMs: ms(w.user), SysMs: ms(w.sys), RSSMB: float64(w.rss) / (1 << 20)}
	if w.seconds > 0 {
		m.PerSec = float64(work) / w.seconds
		m.CPUPercent = 100 * w.cpu().Seconds() / w.seconds
	}
	if work > 0 {
		m.CPUPer1k = m.CPUms / float64(work) * 1000
	}
	for _, p := range w.problems {
		m.addNote("%s", p)
	}
	if s := w.sim; s != nil {
		p50, p99, pmax := s.lateness()
		m.LateP50ms, m.LateP99ms, m.LateMaxms = ms(p50), ms(p99), ms(pmax)
		m.DevicesRead, m.Devices, m.MinPerDevice = s.DevicesRead, s.Devices, s.MinPerDev
		m.lateKnown = true
	}
	return m
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
