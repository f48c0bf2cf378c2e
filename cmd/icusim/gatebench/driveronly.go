//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// driverOnly runs cmd/icusim/bench (the Modbus driver with a counting
// intake, its own simulator child) on the same number of devices and
// reads its figures: it measures itself, with getrusage.
func (e *env) driverOnly(ctx context.Context, dir string, n int) (*measurement, error) {
	ctx, cancel := context.WithTimeout(ctx, e.o.warmup+e.o.duration+3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(e.o.bin, "bench"),
		"-devices", strconv.Itoa(n), "-per-address", strconv.Itoa(e.o.perAddress),
		"-interval", e.o.interval.String(), "-warmup", e.o.warmup.String(),
		"-duration", e.o.duration.String(), "-floor", "0")
	logPath := filepath.Join(dir, "driver-only.log")
	out, err := cmd.Output()
	_ = os.WriteFile(logPath, out, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%v\n%s", err, out)
	}
	return parseDriverOnly(string(out))
}

var (
	reMeasured = regexp.MustCompile(`measured ([0-9.]+m?s)`)
	rePolls    = regexp.MustCompile(`polls (\d+) \(([0-9.]+)/s\)`)
	reCPU      = regexp.MustCompile(`driver CPU ([0-9.]+) ms per 1,000 polls \(user ([0-9.]+), system ([0-9.]+)`)
	reRSS      = regexp.MustCompile(`peak RSS ([0-9.]+) MB`)
	reLate     = regexp.MustCompile(`p50 (\S+), p99 (\S+), max (\S+)`)
)

// parseDriverOnly reads the text cmd/icusim/bench prints.
func parseDriverOnly(out string) (*measurement, error) {
	m := &measurement{Name: "driver only (bench)"}
	p := rePolls.FindStringSubmatch(out)
	c := reCPU.FindStringSubmatch(out)
	if p == nil || c == nil {
		return nil, fmt.Errorf("cannot read the driver-only bench's output:\n%s", out)
	}
	m.Work, _ = strconv.ParseInt(p[1], 10, 64)
	m.PerSec, _ = strconv.ParseFloat(p[2], 64)
	m.CPUPer1k, _ = strconv.ParseFloat(c[1], 64)
	if s := reMeasured.FindStringSubmatch(out); s != nil {
		if d, err := time.ParseDuration(s[1]); err == nil {
			m.Seconds = d.Seconds()
		}
	}
	m.CPUms = m.CPUPer1k * float64(m.Work) / 1000
	if m.Seconds > 0 {
		m.CPUPercent = 100 * m.CPUms / 1000 / m.Seconds
	}
	user, _ := strconv.ParseFloat(c[2], 64)
	sys, _ := strconv.ParseFloat(c[3], 64)
	m.UserMs, m.SysMs = user*float64(m.Work)/1000, sys*float64(m.Work)/1000
	if s := reRSS.FindStringSubmatch(out); s != nil {
		m.RSSMB, _ = strconv.ParseFloat(s[1], 64)
	}
	if s := reLate.FindStringSubmatch(out); s != nil {
		for i, dst := range []*float64{&m.LateP50ms, &m.LateP99ms, &m.LateMaxms} {
			if d, err := time.ParseDuration(s[i+1]); err == nil {
				*dst = ms(d)
			}
		}
		m.lateKnown = true
	}
	m.Note = "its own process: driver + counting intake, simulator in a child (getrusage)"
	return m, nil
}
