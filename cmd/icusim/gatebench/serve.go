package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/simulator"
)

// readStats counts the reads a simulator answers, per device, and
// histograms the gap between a device's consecutive reads minus its
// interval (how late the poll came), in lateStep buckets.
type readStats struct {
	index     map[string]int // device id -> position; read-only once built
	interval  []time.Duration
	last      []atomic.Int64 // previous read, unix ns
	perDev    []atomic.Int64 // reads while measuring
	reads     atomic.Int64
	measuring atomic.Bool
	late      []atomic.Int64
	since     time.Time
}

const (
	lateStep    = 100 * time.Microsecond
	lateBuckets = 20001 // up to 2 s; the last bucket holds the rest
)

func newReadStats(site *config.Site) *readStats {
	s := &readStats{index: map[string]int{}, late: make([]atomic.Int64, lateBuckets)}
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
		b := min(max(time.Duration(now-prev)-s.interval[i], 0)/lateStep, lateBuckets-1)
		s.late[b].Add(1)
	}
}

// start begins a measuring window.
func (s *readStats) start() {
	s.reads.Store(0)
	for i := range s.perDev {
		s.perDev[i].Store(0)
	}
	for i := range s.late {
		s.late[i].Store(0)
	}
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
	for i := range s.late {
		if n := s.late[i].Load(); n > 0 {
			r.Late = append(r.Late, [2]int64{int64(i), n})
		}
	}
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
	counts := make([]int64, lateBuckets)
	for _, b := range r.Late {
		if b[0] >= 0 && b[0] < lateBuckets {
			counts[b[0]] += b[1]
		}
	}
	return percentiles(counts, lateStep)
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

// percentiles returns p50, p99 and the maximum of a histogram whose
// bucket i holds values in [i*step, (i+1)*step).
func percentiles(counts []int64, step time.Duration) (p50, p99, pmax time.Duration) {
	var total, seen int64
	for _, n := range counts {
		total += n
	}
	var has50, has99 bool
	for i, n := range counts {
		if n == 0 {
			continue
		}
		seen += n
		d := time.Duration(i) * step
		if !has50 && seen*2 >= total {
			p50, has50 = d, true
		}
		if !has99 && seen*100 >= total*99 {
			p99, has99 = d, true
		}
		pmax = d
	}
	return p50, p99, pmax
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
	var sim *simulator.Simulator
	for try := 0; ; try++ {
		sim, err = simulator.New(site, simulator.Options{Logger: slog.New(slog.DiscardHandler), OnRead: stats.onRead})
		if err == nil {
			err = sim.Start()
		}
		if err == nil {
			break
		}
		if try == 50 { // a reserved port may linger for a moment
			fmt.Fprintln(os.Stderr, "gatebench simulator:", err)
			return 1
		}
		time.Sleep(100 * time.Millisecond)
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
