//go:build linux

// Command gatebench measures the product as users run it: `icugate run`
// in its own process against simulated devices in another process, with a
// real Mosquitto and a real InfluxDB 1.8.3 on loopback. It measures the
// gateway process only (utime+stime from /proc/PID/stat over a window
// after a warm-up, peak RSS from VmHWM), counts the polls the simulator
// answered (simulator.Options.OnRead) and how late they came, and the
// points the gateway wrote to InfluxDB (its own metrics, and a count
// query after it stopped).
//
//	gatebench [-workload modbus|mqtt|demo] [-devices 1000] [-per-address 1]
//	          [-scale 500,1000,2000,5000,10000] [-influx=false] [-max-conns 2]
//	          [-backlog 200000] [-compare=false] [-telegraf PATH] [-json FILE]
//	gatebench -summarize FILE     medians of the runs recorded in FILE
//
// For the Modbus workload it then measures, one at a time (the machine
// has two cores: never two measured processes at once), the same polls
// made by the driver alone (cmd/icusim/bench, built beside it), by a
// goburrow floor (this program's -floor mode: goburrow/modbus from one
// goroutine per device, nothing decoded) and, when given, by Telegraf's
// modbus input, and prints the gateway's ratios to them.
//
// It expects icugate, icusim and bench built into -bin (default: its own
// directory), as scripts/bench.sh does:
//
//	go build -o DIR ./cmd/icugate ./cmd/icusim ./cmd/icusim/bench ./cmd/icusim/gatebench
//
// Each run prints a table and one JSON line (also appended to -json).
// Every process it starts is stopped when it ends, on Ctrl-C too.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// options are the harness' flags.
type options struct {
	workload   string
	devices    []int
	perAddress int
	interval   time.Duration
	warmup     time.Duration
	duration   time.Duration
	influx     bool
	maxConns   int
	backlog    int
	compare    bool
	telegraf   string
	bin        string
	repo       string
	jsonOut    string
	scenario   string
	keep       bool
	commit     string
}

func run(args []string) int {
	fs := flag.NewFlagSet("gatebench", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.workload, "workload", "modbus", "modbus (N Modbus TCP devices), mqtt (N MQTT devices through Mosquitto) or demo (configs/demo-site.yaml with icusim)")
	devices := fs.Int("devices", 1000, "simulated devices")
	scale := fs.String("scale", "", "comma-separated device counts to run in turn (a scale curve), e.g. 500,1000,2000,5000,10000")
	fs.IntVar(&o.perAddress, "per-address", 1, "Modbus devices (unit ids) per address: 4 simulates converters with 4 devices each")
	fs.DurationVar(&o.interval, "interval", time.Second, "poll interval (Modbus) or publish interval (MQTT)")
	fs.DurationVar(&o.warmup, "warmup", 5*time.Second, "time after the gateway answers before measuring")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "measured window")
	fs.BoolVar(&o.influx, "influx", true, "write to InfluxDB 1.8.3 (false: no influxdb block, API only)")
	fs.IntVar(&o.maxConns, "max-conns", 0, "max_conns on every Modbus device (0: the default, 1)")
	fs.IntVar(&o.backlog, "backlog", 0, "mqtt: then publish this many messages while the gateway is stopped and measure their drain")
	fs.BoolVar(&o.compare, "compare", true, "modbus: also measure the driver alone (cmd/icusim/bench) and the goburrow floor")
	fs.StringVar(&o.telegraf, "telegraf", "", "modbus: also measure this telegraf binary polling the same devices")
	fs.StringVar(&o.bin, "bin", "", "directory holding icugate, icusim and bench (default: this program's)")
	fs.StringVar(&o.repo, "repo", ".", "repository root (for configs/)")
	fs.StringVar(&o.jsonOut, "json", "", "append each run's JSON line to this file")
	fs.StringVar(&o.scenario, "scenario", "", "demo: icusim scenario to play during the run (default none: a steady state)")
	fs.BoolVar(&o.keep, "keep", false, "keep the run directory (configs, logs) instead of removing it")
	fs.StringVar(&o.commit, "commit", "", "record this commit instead of the repository's (for -bin binaries built from another tree)")
	timeout := fs.Duration("timeout", time.Hour, "stop everything after this long")
	serve := fs.String("serve", "", "internal: serve SITE's Modbus devices and count reads")
	shard := fs.String("shard", "0/1", "internal, with -serve: serve shard K/N of the addresses")
	floor := fs.String("floor", "", "internal: poll SITE's Modbus devices with goburrow (the floor)")
	publish := fs.String("publish", "", "internal: publish SITE's MQTT devices' messages")
	bulk := fs.Int("bulk", 0, "internal, with -publish: publish this many messages at once and exit")
	summarize := fs.String("summarize", "", "print the medians of the runs recorded in this JSON-lines file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch {
	case *serve != "":
		var k, n int
		if _, err := fmt.Sscanf(*shard, "%d/%d", &k, &n); err != nil || n < 1 || k < 0 || k >= n {
			fmt.Fprintf(os.Stderr, "gatebench: -shard %q: want K/N\n", *shard)
			return 2
		}
		return serveSim(*serve, k, n)
	case *floor != "":
		return runFloor(*floor)
	case *publish != "":
		return runPublisher(*publish, *bulk)
	case *summarize != "":
		return summarizeFile(*summarize, os.Stdout)
	}
	o.devices = []int{*devices}
	if *scale != "" {
		o.devices = nil
		for _, f := range strings.Split(*scale, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				fmt.Fprintf(os.Stderr, "gatebench: -scale %q: want device counts like 500,1000,2000\n", *scale)
				return 2
			}
			o.devices = append(o.devices, n)
		}
	}
	o.perAddress = max(o.perAddress, 1)
	repo, err := filepath.Abs(o.repo)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gatebench:", err)
		return 1
	}
	o.repo = repo
	if o.bin == "" {
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, "gatebench:", err)
			return 1
		}
		o.bin = filepath.Dir(self)
	}
	switch o.workload {
	case "modbus", "mqtt", "demo":
	default:
		fmt.Fprintf(os.Stderr, "gatebench: -workload %q: want modbus, mqtt or demo\n", o.workload)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	e, err := newEnv(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gatebench:", err)
		return 1
	}
	defer e.close()
	failed := false
	for _, n := range o.devices {
		var r *runResult
		switch o.workload {
		case "modbus":
			r = e.runModbus(ctx, n)
		case "mqtt":
			r = e.runMQTT(ctx, n)
		case "demo":
			r = e.runDemo(ctx)
		}
		e.record(r)
		if r.Err != "" {
			failed = true
		}
		if ctx.Err() != nil || o.workload == "demo" {
			break
		}
	}
	e.printSummary(os.Stdout)
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "gatebench: stopped:", context.Cause(ctx))
		return 1
	}
	if failed {
		return 1
	}
	return 0
}
