//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/cmd/icusim/internal/benchsim"
	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/simulator"
)

// TestMain lets the test binary be the bench's simulator child, which
// the bench starts as os.Args[0] -serve FILE.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "-serve" {
		os.Exit(serveSim(os.Args[2]))
	}
	os.Exit(m.Run())
}

// TestSmallRun runs the whole bench at a small scale: 6 devices, 3 per
// address, polled every 200 ms for a second, then the epoll floor for
// half a second, and reads its report.
func TestSmallRun(t *testing.T) {
	var out bytes.Buffer
	args := []string{"-devices", "6", "-per-address", "3", "-interval", "200ms", "-warmup", "400ms", "-duration", "1s", "-floor", "500ms"}
	if code := run(args, &out); code != 0 {
		t.Fatalf("bench exited %d:\n%s", code, out.String())
	}
	text := out.String()
	for _, re := range []string{
		`devices 6 \(3 per address, 2 addresses\), interval 200ms`,
		`driver CPU [0-9.]+ ms per 1,000 polls`,
		`peak RSS [0-9.]+ MB`,
		`p50 \S+, p99 \S+, max \S+`,
		`floor: .* ms CPU per 1,000 polls \([1-9][0-9]* polls\); driver/floor [0-9.]+`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("report lacks %q:\n%s", re, text)
		}
	}
	m := regexp.MustCompile(`polls (\d+) \([0-9.]+/s\), errors (\d+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no poll count in:\n%s", text)
	}
	polls, _ := strconv.Atoi(m[1])
	errs, _ := strconv.Atoi(m[2])
	// 6 devices every 200 ms for a second: about 30 polls.
	if polls < 15 || errs != 0 {
		t.Errorf("%d polls, %d errors; want about 30 and none", polls, errs)
	}
}

func TestBadFlags(t *testing.T) {
	if code := run([]string{"-devices", "many"}, &bytes.Buffer{}); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
}

// TestBuildSite: devices share addresses perAddress at a time with unit
// ids 1..perAddress, and the profile compiles to one 16-register read.
func TestBuildSite(t *testing.T) {
	p := params{Devices: 7, PerAddress: 3, Interval: time.Second, Addrs: []string{"a:1", "b:2", "c:3"}}
	s := buildSite(p)
	if len(s.Devices) != 7 {
		t.Fatalf("%d devices", len(s.Devices))
	}
	for i, d := range s.Devices {
		if d.ID != "dev-000"+strconv.Itoa(i) || d.Modbus.Address != p.Addrs[i/3] || d.Modbus.UnitID != 1+i%3 || d.Serial != strconv.Itoa(1000+i) {
			t.Errorf("device %d: %s at %s unit %d serial %s", i, d.ID, d.Modbus.Address, d.Modbus.UnitID, d.Serial)
		}
	}
	last := s.Profiles["bench"].Values[len(s.Profiles["bench"].Values)-1]
	if *last.Address+last.Registers() != 16 {
		t.Errorf("profile ends at register %d, want 16", *last.Address+last.Registers())
	}
}

// TestCounterLookupAndLateness: ids are found by their number without a
// map lookup; lateness is counted only while measuring; errors are
// counted by reason.
func TestCounterLookupAndLateness(t *testing.T) {
	site := &config.Site{}
	for _, id := range []string{"dev-0000", "dev-0001", "other"} {
		site.Devices = append(site.Devices, config.Device{ID: id})
	}
	c := newCounter(site, time.Second)
	for _, l := range []struct {
		id   string
		want int
		ok   bool
	}{{"dev-0001", 1, true}, {"other", 2, true}, {"dev-9999", 0, false}, {"dev-x1", 0, false}, {"nope", 0, false}} {
		if got, ok := c.lookup(l.id); ok != l.ok || (ok && got != l.want) {
			t.Errorf("lookup(%s) = %d, %v; want %d, %v", l.id, got, ok, l.want, l.ok)
		}
	}
	t0 := time.Unix(1000, 0)
	ctx := context.Background()
	_ = c.Offer(ctx, pipeline.Observation{Device: "dev-0000", Time: t0})
	_ = c.Offer(ctx, pipeline.Observation{Device: "dev-0000", Time: t0.Add(1500 * time.Millisecond)}) // not measuring
	c.measuring.Store(true)
	_ = c.Offer(ctx, pipeline.Observation{Device: "dev-0000", Time: t0.Add(2600 * time.Millisecond), Err: errors.New("boom")})
	if _, p99, _ := c.late.Percentiles(); p99 != 100*time.Millisecond {
		t.Errorf("p99 lateness %v, want 100ms (only the measured gap)", p99)
	}
	if c.polls.Load() != 3 || c.errs.Load() != 1 || len(c.reasons) != 1 {
		t.Errorf("polls %d errs %d reasons %v", c.polls.Load(), c.errs.Load(), c.reasons)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.Offer(cctx, pipeline.Observation{Device: "other"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Offer on an ended context: %v", err)
	}
}

// TestEpollFloor polls a simulator with the bare epoll loop: every unit
// behind every address answers, in slots over the interval; an address
// nothing listens on is an error, not a hang.
func TestEpollFloor(t *testing.T) {
	addrs := make([]string, 2)
	for i := range addrs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = ln.Addr().String()
		ln.Close()
	}
	p := params{Devices: 3, PerAddress: 2, Interval: 100 * time.Millisecond, Addrs: addrs}
	sim, err := benchsim.StartSimulator(t.Context(), buildSite(p), simulator.Options{Logger: slog.New(slog.DiscardHandler)}, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	perPoll, polls, err := epollFloor(p, 2, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	// Two slots of 50 ms over 500 ms: ten bursts; 3 devices in all.
	if polls < 9 || perPoll <= 0 {
		t.Errorf("%d polls at %v CPU each; want about 15 (3 devices, 5 intervals)", polls, perPoll)
	}
	sim.Close()
	if _, _, err := epollFloor(p, 1, 100*time.Millisecond); err == nil || !strings.Contains(err.Error(), "floor: connect") {
		t.Errorf("floor against closed ports: %v; want a connect error", err)
	}
}
