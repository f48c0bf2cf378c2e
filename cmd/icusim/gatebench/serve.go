//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/icugate/icugate/cmd/icusim/internal/benchsim"
	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/simulator"
)

// readStats counts the reads a simulator answers, per device, and
// histograms the gap between a device's consecutive reads minus its
// interval (how late the poll came).
type readStats struct {
	index     map[string]int // device id -> position; read-only once built
	interval  []time.Duration
	last      []atomic.Int64 // previous read, unix ns
	perDev    []atomic.Int64 // reads while measuring
	reads     atomic.Int64
	measuring atomic.Bool
	late      *benchsim.Lateness
	since     time.Time
}

func newReadStats(site *config.Site) *readStats {
	s := &readStats{index: map[string]int{}, late: benchsim.NewLateness()}
	for i := range site.Devices {
		if m := site.Devices[i].Modbus; m != nil {
			s.index[site.Devices[i].ID] = len(s.interval)
			s.interval = append(s.interval, m.Interval)
		}
	}
	s.last = make([]atomic.Int64, len(s.interval))
	s.perDev = make([]atomic.Int64, len(s.interval))
	return s
}

// onRead is the simulator's OnRead hook.
func (s *readStats) onRead(device string, at time.Time) {
	i, ok := s.index[device]
	if !ok {
		return
	}
	now := at.UnixNano()
	prev := s.last[i].Swap(now)
	if !s.measuring.Load() {
		return
	}
	s.reads.Add(1)
	s.perDev[i].Add(1)
	if prev != 0 {
		s.late.Add(time.Duration(now-prev), s.interval[i])
	}
}

// start begins a measuring window.
func (s *readStats) start() {
	s.reads.Store(0)
	for i := range s.perDev {
		s.perDev[i].Store(0)
	}
	s.late.Reset()
	s.since = time.Now()
	s.measuring.Store(true)
}

// simReport is what a simulator child reports for a window. Late is the
// lateness histogram, sparse: [bucket, count] pairs, so that the reports
// of several children (shards) can be merged.
type simReport struct {
	Reads       int64      `json:"reads"`
	Seconds     float64    `json:"seconds"`
	Devices     int        `json:"devices"`
	DevicesRead int        `json:"devices_read"`
	MinPerDev   int64      `json:"min_per_device"`
	Late        [][2]int64 `json:"late"`
}

// stop ends the window and summarises it.
func (s *readStats) stop() simReport {
	s.measuring.Store(false)
	r := simReport{Reads: s.reads.Load(), Seconds: time.Since(s.since).Seconds(), Devices: len(s.perDev), MinPerDev: -1}
	for i := range s.perDev {
		n := s.perDev[i].Load()
		if n > 0 {
			r.DevicesRead++
		}
		if r.MinPerDev < 0 || n < r.MinPerDev {
			r.MinPerDev = n
		}
	}
	r.Late = s.late.Sparse()
	return r
}

// merge adds another shard's report to r.
func (r *simReport) merge(o simReport) {
	if r.Devices == 0 {
		r.MinPerDev = o.MinPerDev
	} else if o.Devices > 0 {
		r.MinPerDev = min(r.MinPerDev, o.MinPerDev)
	}
	r.Reads += o.Reads
	r.Seconds = max(r.Seconds, o.Seconds)
	r.Devices += o.Devices
	r.DevicesRead += o.DevicesRead
	r.Late = append(r.Late, o.Late...)
}

// lateness returns the p50, p99 and maximum lateness of the report.
func (r *simReport) lateness() (p50, p99, pmax time.Duration) {
	return benchsim.SparsePercentiles(r.Late)
}

// shardDevices returns the Modbus devices whose address is shard k of n,
// addresses numbered in order of first appearance.
func shardDevices(devs []config.Device, k, n int) []config.Device {
	if n <= 1 {
		return devs
	}
	index := map[string]int{}
	var out []config.Device
	for _, d := range devs {
		if d.Modbus == nil {
			continue
		}
		ep := d.Modbus.Endpoint()
		i, ok := index[ep]
		if !ok {
			i = len(index)
			index[ep] = i
		}
		if i%n == k {
			out = append(out, d)
		}
	}
	return out
}

// serveSim is the simulator child: it serves the site's Modbus devices
// (shard k of n: every n-th address from the k-th, so that 10,000
// addresses fit the open-file limit across processes) and answers the
// harness on stdin/stdout: "start" opens a measuring window, "stop" closes
// it and prints its simReport as JSON. It exits when its standard input
// closes (the harness went away).
func serveSim(sitePath string, k, n int) int {
	site, err := config.Load(sitePath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gatebench simulator:", err)
		return 1
	}
	site.Devices = shardDevices(site.Devices, k, n)
	stats := newReadStats(site)
	// A port the harness reserved and freed may linger for a moment.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sim, err := benchsim.StartSimulator(ctx, site, simulator.Options{Logger: slog.New(slog.DiscardHandler), OnRead: stats.onRead}, 100*time.Millisecond)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gatebench simulator:", err)
		return 1
	}
	defer sim.Close()
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	enc := json.NewEncoder(os.Stdout)
	for in.Scan() {
		switch in.Text() {
		case "start":
			stats.start()
			fmt.Println("ok")
		case "stop":
			_ = enc.Encode(stats.stop())
		default:
			fmt.Println("unknown command")
		}
	}
	return 0
}
