//go:build linux

// Command bench measures the Modbus driver at hospital scale: it starts a
// simulator of N devices (16 registers each) in a child process, polls
// them all with the driver in this process, and reports the driver's CPU
// time per 1,000 polls (getrusage of this process only), its peak RSS and
// how late polls come (p50/p99/max of each device's gap between
// observations minus its interval). Then, with the driver stopped, it
// measures the floor: the same polls made by a bare epoll loop with raw
// system calls (see epollFloor), so that each run reports the driver's
// cost against what the kernel alone costs on this machine at that time.
// -cpuprofile writes a CPU profile of the measured time.
//
//	go run ./cmd/icusim/bench [-devices 2000] [-per-address 4] [-interval 1s] [-duration 30s]
//
// Targets: <= 20 ms CPU per 1,000 polls, <= 64 MB peak RSS.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/icugate/icugate/cmd/icusim/internal/benchsim"
	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/drivers/modbus"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/simulator"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout))
}

type params struct {
	Devices    int
	PerAddress int
	Interval   time.Duration
	Addrs      []string
}

func run(args []string, stdout io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	devices := fs.Int("devices", 2000, "simulated devices")
	per := fs.Int("per-address", 4, "devices (unit ids) per address")
	interval := fs.Duration("interval", time.Second, "poll interval")
	duration := fs.Duration("duration", 30*time.Second, "measured time")
	warmup := fs.Duration("warmup", 5*time.Second, "time before measuring")
	serve := fs.String("serve", "", "internal: run the simulator for the params file")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the measured time to this file")
	floorFor := fs.Duration("floor", 15*time.Second, "then measure the bare epoll floor for this long (0: skip)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *serve != "" {
		return serveSim(*serve)
	}
	p := params{Devices: *devices, PerAddress: max(*per, 1), Interval: *interval}
	// Reserve distinct free ports, then free them for the child.
	var reserved []net.Listener
	for i := 0; i < (p.Devices+p.PerAddress-1)/p.PerAddress; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		reserved = append(reserved, ln)
		p.Addrs = append(p.Addrs, ln.Addr().String())
	}
	for _, ln := range reserved {
		ln.Close()
	}
	f, err := os.CreateTemp("", "icusim-bench-*.json")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer os.Remove(f.Name())
	_ = json.NewEncoder(f).Encode(p)
	f.Close()
	site := buildSite(p)

	child := exec.Command(os.Args[0], "-serve", f.Name())
	child.Stderr = os.Stderr
	out, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		fmt.Fprintln(os.Stderr, "bench: simulator did not start:", line)
		return 1
	}

	drv, err := modbus.New(site, modbus.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	in := newCounter(site, p.Interval)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = drv.Run(ctx, in); close(done) }()
	time.Sleep(*warmup)
	polls0, errs0 := in.polls.Load(), in.errs.Load()
	in.measuring.Store(true)
	user0, sys0 := cpuTime()
	start := time.Now()
	var pf *os.File
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		switch {
		case err != nil:
			fmt.Fprintln(os.Stderr, "bench: -cpuprofile:", err)
		case pprof.StartCPUProfile(f) != nil:
			f.Close()
		default:
			pf = f
		}
	}
	time.Sleep(*duration)
	if pf != nil {
		// Stopped here, before anything returns, so the profile is whole
		// and closed once run ends.
		pprof.StopCPUProfile()
		pf.Close()
	}
	polls, errs := in.polls.Load()-polls0, in.errs.Load()-errs0
	in.measuring.Store(false)
	user, sys := cpuTime()
	user, sys = user-user0, sys-sys0
	cpu := user + sys
	elapsed := time.Since(start)
	cancel()
	<-done
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Fprintf(stdout, "devices %d (%d per address, %d addresses), interval %v, measured %v\n",
		p.Devices, p.PerAddress, len(p.Addrs), p.Interval, elapsed.Round(time.Millisecond))
	fmt.Fprintf(stdout, "polls %d (%.0f/s), errors %d (all run, by reason: %v)\n", polls, float64(polls)/elapsed.Seconds(), errs, in.reasons)
	if polls > 0 {
		per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(polls) }
		fmt.Fprintf(stdout, "driver CPU %.2f ms per 1,000 polls (user %.2f, system %.2f; target <= 20)\n", per(cpu), per(user), per(sys))
	}
	fmt.Fprintf(stdout, "peak RSS %.1f MB (target <= 64)\n", float64(ru.Maxrss)/1024)
	p50, p99, pmax := in.late.Percentiles()
	fmt.Fprintf(stdout, "poll lateness (gap between a device's observations minus its interval): p50 %v, p99 %v, max %v\n", p50, p99, pmax)
	if *floorFor > 0 {
		// An interval shorter than a slot is one burst, not zero.
		floor, n, err := epollFloor(p, max(int(p.Interval/slotOf), 1), *floorFor)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		} else {
			fmt.Fprintf(stdout, "floor: the same polls from a bare epoll loop (one thread, raw system calls, nothing decoded): %.2f ms CPU per 1,000 polls (%d polls); driver/floor %.2f\n",
				float64(floor.Nanoseconds())/1e3, n, float64(cpu)/float64(polls)/float64(floor))
		}
	}
	return 0
}

// slotOf is the width of the driver scheduler's start slots; the floor
// wakes its addresses in the same number of bursts per interval.
const slotOf = modbus.StartSlot

// counter is an intake that only counts, and histograms how late each
// device's observations come (the gap since its previous one, minus the
// interval) while measuring.
type counter struct {
	polls, errs atomic.Int64
	mu          sync.Mutex
	reasons     map[string]int

	interval  time.Duration
	index     map[string]int // device id -> position in last; read-only
	last      []atomic.Int64 // previous observation time, unix ns
	measuring atomic.Bool
	late      *benchsim.Lateness
}

func newCounter(site *config.Site, interval time.Duration) *counter {
	c := &counter{reasons: map[string]int{}, interval: interval, index: map[string]int{},
		last: make([]atomic.Int64, len(site.Devices)), late: benchsim.NewLateness()}
	for i := range site.Devices {
		c.index[site.Devices[i].ID] = i
	}
	return c
}

// lookup finds a device's position. The benchmark's ids are dev-NNNN, so
// the number is read from the id rather than hashed: the intake's own cost
// is not the driver's and should stay out of the measurement.
func (c *counter) lookup(id string) (int, bool) {
	if len(id) > 4 && id[:4] == "dev-" {
		n := 0
		for _, ch := range id[4:] {
			if ch < '0' || ch > '9' {
				n = -1
				break
			}
			n = n*10 + int(ch-'0')
		}
		if n >= 0 && n < len(c.last) {
			return n, true
		}
	}
	i, ok := c.index[id]
	return i, ok
}

// Offer counts an observation and its error reason.
func (c *counter) Offer(ctx context.Context, o pipeline.Observation) error {
	c.polls.Add(1)
	if i, ok := c.lookup(o.Device); ok {
		now := o.Time.UnixNano()
		prev := c.last[i].Swap(now)
		if prev != 0 && c.measuring.Load() {
			c.late.Add(time.Duration(now-prev), c.interval)
		}
	}
	if o.Err != nil {
		c.errs.Add(1)
		c.mu.Lock()
		c.reasons[modbus.Reason(o.Err)]++
		c.mu.Unlock()
	}
	return ctx.Err()
}

func cpuTime() (user, sys time.Duration) {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

func ptr[T any](v T) *T { return &v }

// buildSite makes the benchmark site: every device reads 16 holding
// registers (one coalesced request) of mixed types.
func buildSite(p params) *config.Site {
	prof := &config.Profile{Name: "bench", Kind: "ventilator", Values: []config.Value{
		{Name: "status", Table: config.TableHolding, Address: ptr(0), Type: config.TypeUint16, Range: []float64{0, 15}},
		{Name: "running", Table: config.TableHolding, Address: ptr(1), Type: config.TypeBool, Bit: ptr(0)},
		{Name: "hours", Table: config.TableHolding, Address: ptr(2), Type: config.TypeFloat32, Range: []float64{0, 1e6}},
		{Name: "serial", Table: config.TableHolding, Address: ptr(4), Type: config.TypeUint32},
		{Name: "flow", Table: config.TableHolding, Address: ptr(6), Type: config.TypeFloat32, Order: config.OrderCDAB},
		{Name: "counter", Table: config.TableHolding, Address: ptr(8), Type: config.TypeUint64},
		{Name: "mode", Table: config.TableHolding, Address: ptr(12), Type: config.TypeUint16},
		{Name: "temp", Table: config.TableHolding, Address: ptr(13), Type: config.TypeInt16, Scale: ptr(0.1)},
		{Name: "pressure", Table: config.TableHolding, Address: ptr(14), Type: config.TypeFloat32},
	}, Serial: "serial", State: config.StateRules{InUse: "running"},
		Simulate: map[string]map[string]any{"standby": {"hours": 1200.5, "flow": 3.5, "counter": 123456789, "mode": 2, "temp": 36.6, "pressure": 12.5}}}
	if err := prof.Compile(); err != nil {
		panic(err) // a fixed profile: a failure here is a bug in this file
	}
	s := &config.Site{Profiles: map[string]*config.Profile{"bench": prof}}
	for i := 0; i < p.Devices; i++ {
		s.Devices = append(s.Devices, config.Device{
			ID: fmt.Sprintf("dev-%04d", i), Kind: "ventilator", Profile: "bench", Serial: fmt.Sprint(1000 + i),
			Modbus: &config.ModbusDevice{Address: p.Addrs[i/p.PerAddress], UnitID: 1 + i%p.PerAddress,
				Interval: p.Interval, Timeout: time.Second},
		})
	}
	return s
}

// serveSim is the child: it simulates the site until killed.
func serveSim(file string) int {
	data, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench simulator:", err)
		return 1
	}
	var p params
	if err := json.Unmarshal(data, &p); err != nil {
		fmt.Fprintln(os.Stderr, "bench simulator:", err)
		return 1
	}
	// The parent may still hold the reserved ports for a moment.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := benchsim.StartSimulator(ctx, buildSite(p), simulator.Options{Logger: slog.New(slog.DiscardHandler)}, 100*time.Millisecond); err != nil {
		fmt.Fprintln(os.Stderr, "bench simulator:", err)
		return 1
	}
	fmt.Println("ready")
	select {}
}
