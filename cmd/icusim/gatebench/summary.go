//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
)

// summarizeFile prints, per configuration, the medians of the runs in a
// JSON-lines file written by -json (e.g. five runs of the same command),
// and how many of them were short (the gateway did not keep up).
func summarizeFile(path string, w io.Writer) int {
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gatebench:", err)
		return 1
	}
	defer f.Close()
	runs, err := readRuns(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gatebench:", err)
		return 1
	}
	summarize(runs, w)
	return 0
}

func readRuns(r io.Reader) ([]*runResult, error) {
	var runs []*runResult
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var run runResult
		if err := json.Unmarshal([]byte(line), &run); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if run.Bench == "gateway" && run.Err == "" {
			runs = append(runs, &run)
		}
	}
	return runs, sc.Err()
}

// configKey groups runs of the same configuration.
func configKey(r *runResult) string {
	k := fmt.Sprintf("%s n=%d", r.Workload, r.Devices)
	if r.Workload == "modbus" {
		k += fmt.Sprintf(" per-address=%d", r.PerAddress)
	}
	k += fmt.Sprintf(" influx=%t", r.Influx)
	if r.MaxConns > 0 {
		k += fmt.Sprintf(" max-conns=%d", r.MaxConns)
	}
	if r.Backlog > 0 {
		k += fmt.Sprintf(" backlog=%d", r.Backlog)
	}
	return k
}

func summarize(runs []*runResult, w io.Writer) {
	groups := map[string][]*runResult{}
	var keys []string
	for _, r := range runs {
		k := configKey(r)
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], r)
	}
	sort.Strings(keys)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "configuration\truns\tshort\tcommits\tCPU ms/1k (min-max)\tRSS MB\twork/s\tp99 late ms\tfloor ms/1k\tdriver-only ms/1k\ttelegraf ms/1k\tgw/floor\tgw/driver-only\tgw/telegraf\tdrain ms/1k\t")
	for _, k := range keys {
		g := groups[k]
		pick := func(get func(*runResult) (float64, bool)) []float64 {
			var v []float64
			for _, r := range g {
				if x, ok := get(r); ok {
					v = append(v, x)
				}
			}
			return v
		}
		gw := func(f func(*measurement) float64) []float64 {
			return pick(func(r *runResult) (float64, bool) {
				if r.Gateway == nil {
					return 0, false
				}
				return f(r.Gateway), true
			})
		}
		of := func(which func(*runResult) *measurement) []float64 {
			return pick(func(r *runResult) (float64, bool) {
				if m := which(r); m != nil {
					return m.CPUPer1k, true
				}
				return 0, false
			})
		}
		ratio := func(name string) []float64 {
			return pick(func(r *runResult) (float64, bool) { v, ok := r.Ratios[name]; return v, ok })
		}
		cpu := gw(func(m *measurement) float64 { return m.CPUPer1k })
		commits := map[string]bool{}
		for _, r := range g {
			c := r.Commit
			if r.Dirty {
				c += "+dirty"
				if r.Diff != "" {
					c += "." + r.Diff
				}
			}
			commits[c] = true
		}
		var cs []string
		for c := range commits {
			cs = append(cs, c)
		}
		sort.Strings(cs)
		// Lateness is known where the simulator counted the reads.
		late := pick(func(r *runResult) (float64, bool) {
			if r.Gateway == nil || r.Gateway.Devices == 0 {
				return 0, false
			}
			return r.Gateway.LateP99ms, true
		})
		short := 0
		for _, r := range g {
			if r.short() {
				short++
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s (%s-%s)\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", k, len(g), short, strings.Join(cs, ","),
			med(cpu), lo(cpu), hi(cpu), med(gw(func(m *measurement) float64 { return m.RSSMB })),
			med(gw(func(m *measurement) float64 { return m.PerSec })), med(late),
			med(of(func(r *runResult) *measurement { return r.Floor })), med(of(func(r *runResult) *measurement { return r.DriverOnly })),
			med(of(func(r *runResult) *measurement { return r.Telegraf })),
			med(ratio("gateway/floor")), med(ratio("gateway/driver_only")), med(ratio("gateway/telegraf")),
			med(of(func(r *runResult) *measurement { return r.Drain })))
	}
	tw.Flush()
}

func median(v []float64) (float64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

func med(v []float64) string {
	m, ok := median(v)
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.2f", m)
}

func lo(v []float64) string {
	if len(v) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", slices.Min(v))
}

func hi(v []float64) string {
	if len(v) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", slices.Max(v))
}
