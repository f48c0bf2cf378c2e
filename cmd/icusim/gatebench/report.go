//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/icugate/icugate/cmd/icusim/internal/benchsim"
)

// measurement is what one measured process did over its window.
type measurement struct {
	Name         string  `json:"name"`
	Seconds      float64 `json:"seconds"`
	Work         int64   `json:"work"` // polls answered or messages taken
	PerSec       float64 `json:"per_s"`
	CPUms        float64 `json:"cpu_ms"`
	UserMs       float64 `json:"user_ms"`
	SysMs        float64 `json:"sys_ms"`
	CPUPercent   float64 `json:"cpu_pct"`
	CPUPer1k     float64 `json:"cpu_ms_per_1k"`
	RSSMB        float64 `json:"peak_rss_mb"`
	LateP50ms    float64 `json:"late_p50_ms"`
	LateP99ms    float64 `json:"late_p99_ms"`
	LateMaxms    float64 `json:"late_max_ms"`
	Devices      int     `json:"devices,omitempty"`
	DevicesRead  int     `json:"devices_read,omitempty"`
	MinPerDevice int64   `json:"min_per_device,omitempty"`
	// PointsPerSec is what the gateway wrote to InfluxDB in the window
	// (icugate_influxdb_points_written_total).
	PointsPerSec float64 `json:"points_per_s,omitempty"`
	Note         string  `json:"note,omitempty"`
	lateKnown    bool
}

// runResult is one run: a workload at one size, every process measured.
type runResult struct {
	Bench      string             `json:"bench"`
	Workload   string             `json:"workload"`
	Time       string             `json:"time"`
	Commit     string             `json:"commit"`
	Dirty      bool               `json:"dirty"`
	Diff       string             `json:"diff,omitempty"` // hash of the uncommitted changes
	Devices    int                `json:"devices"`
	PerAddress int                `json:"per_address,omitempty"`
	Addresses  int                `json:"addresses,omitempty"`
	IntervalS  float64            `json:"interval_s"`
	WarmupS    float64            `json:"warmup_s"`
	WindowS    float64            `json:"window_s"`
	Influx     bool               `json:"influx"`
	MaxConns   int                `json:"max_conns,omitempty"`
	Backlog    int                `json:"backlog,omitempty"`
	Gateway    *measurement       `json:"gateway,omitempty"`
	Drain      *measurement       `json:"drain,omitempty"`
	DriverOnly *measurement       `json:"driver_only,omitempty"`
	Floor      *measurement       `json:"floor,omitempty"`
	Telegraf   *measurement       `json:"telegraf,omitempty"`
	Points     map[string]int64   `json:"influx_points,omitempty"` // counted in InfluxDB after the run
	Ratios     map[string]float64 `json:"ratios,omitempty"`
	Notes      []string           `json:"notes,omitempty"`
	Err        string             `json:"error,omitempty"`
}

// addNote appends a remark to the measurement's note.
func (m *measurement) addNote(format string, args ...any) {
	if m.Note != "" {
		m.Note += "; "
	}
	m.Note += fmt.Sprintf(format, args...)
}

func (e *env) newResult(workload string, devices int) *runResult {
	o := e.o
	r := &runResult{Bench: "gateway", Workload: workload, Time: time.Now().UTC().Format(time.RFC3339),
		Commit: e.commit, Dirty: e.diff != "", Diff: e.diff, Devices: devices, IntervalS: o.interval.Seconds(),
		WarmupS: o.warmup.Seconds(), WindowS: o.duration.Seconds(), Influx: o.influx, MaxConns: o.maxConns}
	if workload == "modbus" {
		r.PerAddress = o.perAddress
		r.Addresses = (devices + o.perAddress - 1) / o.perAddress
	}
	return r
}

func (r *runResult) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.Notes = append(r.Notes, msg)
	fmt.Fprintln(os.Stderr, "gatebench:", msg)
}

// ratios sets the gateway's CPU per unit of work against each reference.
func (r *runResult) ratios() {
	if r.Gateway == nil || r.Gateway.CPUPer1k == 0 {
		return
	}
	r.Ratios = map[string]float64{}
	for name, m := range map[string]*measurement{"gateway/floor": r.Floor, "gateway/driver_only": r.DriverOnly, "gateway/telegraf": r.Telegraf} {
		if m != nil && m.CPUPer1k > 0 {
			r.Ratios[name] = r.Gateway.CPUPer1k / m.CPUPer1k
		}
	}
}

// short reports whether the gateway did fewer than 95 % of the polls or
// messages the devices make: it did not keep up.
func (r *runResult) short() bool {
	if r.Gateway == nil || r.IntervalS <= 0 || r.Workload == "demo" {
		return false
	}
	return r.Gateway.PerSec < 0.95*float64(r.Devices)/r.IntervalS
}

// title describes a run in one line.
func (r *runResult) title() string {
	var b strings.Builder
	switch r.Workload {
	case "modbus":
		fmt.Fprintf(&b, "Modbus TCP: %d devices, %d per address (%d addresses), 16 registers every %gs", r.Devices, r.PerAddress, r.Addresses, r.IntervalS)
	case "mqtt":
		fmt.Fprintf(&b, "MQTT: %d devices publishing every %gs through Mosquitto", r.Devices, r.IntervalS)
		if r.Backlog > 0 {
			fmt.Fprintf(&b, ", then a backlog of %d", r.Backlog)
		}
	case "demo":
		fmt.Fprintf(&b, "demo site (configs/demo-site.yaml) with icusim: %d devices", r.Devices)
	}
	fmt.Fprintf(&b, "; InfluxDB %s", map[bool]string{true: "on", false: "off (API only)"}[r.Influx])
	if r.MaxConns > 0 {
		fmt.Fprintf(&b, "; max_conns %d", r.MaxConns)
	}
	dirty := ""
	if r.Dirty {
		dirty = "+dirty (diff " + r.Diff + ")"
	}
	fmt.Fprintf(&b, "; commit %s%s", r.Commit, dirty)
	return b.String()
}

// printRun prints a run's table.
func printRun(w io.Writer, r *runResult) {
	fmt.Fprintf(w, "\n== %s\n", r.title())
	if r.Err != "" {
		fmt.Fprintf(w, "FAILED: %s\n", r.Err)
	}
	unit := "polls"
	if r.Workload != "modbus" {
		unit = "obs"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "process\t%s/s\tCPU ms per 1k %s\tCPU %%\tof it system\tpeak RSS MB\tlateness p50 ms\tp99 ms\tmax ms\tpoints/s to InfluxDB\t\n", unit, unit)
	for _, m := range []*measurement{r.Gateway, r.Drain, r.DriverOnly, r.Floor, r.Telegraf} {
		if m == nil {
			continue
		}
		late := func(v float64) string {
			switch {
			case !m.lateKnown:
				return "-"
			case v >= ms(benchsim.Max):
				return ">=" + fmt.Sprintf("%.0f", v) // the histogram's last bucket
			}
			return fmt.Sprintf("%.1f", v)
		}
		pts := "-"
		if m.PointsPerSec > 0 {
			pts = fmt.Sprintf("%.0f", m.PointsPerSec)
		}
		sysShare := "-"
		if m.CPUms > 0 {
			sysShare = fmt.Sprintf("%.0f%%", 100*m.SysMs/m.CPUms)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.1f\t%.1f\t%s\t%.1f\t%s\t%s\t%s\t%s\t\n", m.Name, m.PerSec, m.CPUPer1k, m.CPUPercent, sysShare, m.RSSMB,
			late(m.LateP50ms), late(m.LateP99ms), late(m.LateMaxms), pts)
	}
	tw.Flush()
	for _, m := range []*measurement{r.Gateway, r.Drain, r.DriverOnly, r.Floor, r.Telegraf} {
		if m != nil && m.Devices > 0 && m.DevicesRead < m.Devices {
			fmt.Fprintf(w, "  %s: only %d of %d devices were read in the window\n", m.Name, m.DevicesRead, m.Devices)
		}
		if m != nil && m.Note != "" {
			fmt.Fprintf(w, "  %s: %s\n", m.Name, m.Note)
		}
	}
	if len(r.Points) > 0 {
		fmt.Fprintf(w, "  points in InfluxDB after the run: %v\n", r.Points)
	}
	if len(r.Ratios) > 0 {
		var parts []string
		for _, k := range []string{"gateway/floor", "gateway/driver_only", "gateway/telegraf"} {
			if v, ok := r.Ratios[k]; ok {
				parts = append(parts, fmt.Sprintf("%s %.2f", k, v))
			}
		}
		fmt.Fprintf(w, "  CPU per 1k ratios: %s\n", strings.Join(parts, ", "))
	}
	if r.short() {
		fmt.Fprintf(w, "  SHORT: the gateway did %.0f of the %.0f polls or messages a second the devices make: it did not keep up\n",
			r.Gateway.PerSec, float64(r.Devices)/r.IntervalS)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
}

// record prints a run and its JSON line, and appends the line to -json.
func (e *env) record(r *runResult) {
	r.ratios()
	e.results = append(e.results, r)
	printRun(os.Stdout, r)
	line, err := json.Marshal(r)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gatebench:", err)
		return
	}
	fmt.Printf("%s\n", line)
	if e.o.jsonOut != "" {
		f, err := os.OpenFile(e.o.jsonOut, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err == nil {
			_, err = f.Write(append(line, '\n'))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "gatebench: -json:", err)
		}
	}
}

// printSummary prints one line per run, for a scale curve.
func (e *env) printSummary(w io.Writer) {
	if len(e.results) < 2 {
		return
	}
	fmt.Fprintf(w, "\n== summary (gateway process)\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "devices\twork/s\tCPU ms per 1k\tCPU %%\tpeak RSS MB\tp99 late ms\tgateway/floor\tgateway/driver_only\tstatus\t\n")
	for _, r := range e.results {
		g := r.Gateway
		if g == nil {
			g = &measurement{}
		}
		status := "ok"
		switch {
		case r.Err != "":
			status = "FAILED"
		case r.short():
			status = "SHORT"
		}
		fmt.Fprintf(tw, "%d\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%.2f\t%.2f\t%s\t\n", r.Devices, g.PerSec, g.CPUPer1k, g.CPUPercent, g.RSSMB,
			g.LateP99ms, r.Ratios["gateway/floor"], r.Ratios["gateway/driver_only"], status)
	}
	tw.Flush()
}
