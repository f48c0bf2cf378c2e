//go:build linux

package modbus

import (
	"context"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
)

// obsIntake hands observations to the test.
type obsIntake chan pipeline.Observation

func (c obsIntake) Offer(ctx context.Context, o pipeline.Observation) error {
	select {
	case c <- o:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loopDriver polls one device (4 holding registers, unit 1) at addr every
// 100 ms through the event loop, and returns its observations.
func loopDriver(t *testing.T, addr string, timeout time.Duration) <-chan pipeline.Observation {
	t.Helper()
	p := &config.Profile{Name: "p", Kind: "ventilator", Values: []config.Value{
		{Name: "a", Table: config.TableHolding, Address: ptr(0), Type: config.TypeUint16},
		{Name: "b", Table: config.TableHolding, Address: ptr(3), Type: config.TypeUint16},
	}}
	if err := p.Compile(); err != nil {
		t.Fatal(err)
	}
	site := &config.Site{Profiles: map[string]*config.Profile{"p": p}, Devices: []config.Device{{
		ID: "d", Kind: "ventilator", Profile: "p",
		Modbus: &config.ModbusDevice{Address: addr, UnitID: 1, Interval: 100 * time.Millisecond, Timeout: timeout},
	}}}
	d, err := New(site, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if looped, _ := splitLooped(d.endpoints); len(looped) != 1 {
		t.Fatal("a plain Modbus TCP endpoint with one connection should be on the event loop")
	}
	in := make(obsIntake)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx, in); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return in
}

func nextObs(t *testing.T, c <-chan pipeline.Observation) pipeline.Observation {
	t.Helper()
	select {
	case o := <-c:
		return o
	case <-time.After(5 * time.Second):
		t.Fatal("no observation within 5 s")
	}
	return pipeline.Observation{}
}

func TestEventLoopAnswerInPieces(t *testing.T) {
	addr := rawServer(t, func(req []byte) [][]byte {
		a := answerTo(req)
		return [][]byte{a[:3], a[3:9], a[9:]}
	})
	obs := loopDriver(t, addr, time.Second)
	for range 3 {
		o := nextObs(t, obs)
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		if o.Values[0].Num != 100 || o.Values[1].Num != 103 {
			t.Fatalf("values %v, want registers 0 and 3 = 100 and 103", o.Values)
		}
	}
}

func TestEventLoopBadAnswers(t *testing.T) {
	cases := []struct {
		name   string
		reply  func(req []byte) [][]byte
		reason string
	}{
		{"bytes after the answer", func(req []byte) [][]byte { return [][]byte{append(answerTo(req), 0, 0)} }, ReasonFrame},
		{"no answer", func([]byte) [][]byte { return nil }, ReasonTimeout},
		{"half an answer", func(req []byte) [][]byte { return [][]byte{answerTo(req)[:8]} }, ReasonTimeout},
		{"wrong transaction id", func(req []byte) [][]byte {
			a := answerTo(req)
			a[1]++
			return [][]byte{a}
		}, ReasonFrame},
		{"wrong unit", func(req []byte) [][]byte {
			a := answerTo(req)
			a[6]++
			return [][]byte{a}
		}, ReasonFrame},
		{"byte count off", func(req []byte) [][]byte {
			a := answerTo(req)
			a[8]--
			return [][]byte{a}
		}, ReasonFrame},
		{"other function code", func(req []byte) [][]byte {
			a := answerTo(req)
			a[7] = 4
			return [][]byte{a}
		}, ReasonFrame},
		{"MBAP length too large", func(req []byte) [][]byte {
			a := answerTo(req)
			a[4], a[5] = 1, 0
			return [][]byte{a}
		}, ReasonFrame},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obs := loopDriver(t, rawServer(t, c.reply), 200*time.Millisecond)
			if o := nextObs(t, obs); Reason(o.Err) != c.reason {
				t.Fatalf("reason %q (%v), want %q", Reason(o.Err), o.Err, c.reason)
			}
		})
	}
}

// An exception answer keeps the connection (the server here serves one
// connection only, so a second poll that works proves it); bytes that come
// when no request is out close it, so they can never be taken as the
// answer to the next request.
func TestEventLoopExceptionKeepsConnectionStrayBytesClose(t *testing.T) {
	n := 0
	addr := rawServer(t, func(req []byte) [][]byte {
		n++
		switch n {
		case 1:
			return [][]byte{{req[0], req[1], 0, 0, 0, 3, req[6], 0x83, 2}} // illegal data address
		case 2:
			return [][]byte{answerTo(req)}
		}
		return [][]byte{answerTo(req), {0xde, 0xad}} // answered, then stray bytes
	})
	obs := loopDriver(t, addr, 300*time.Millisecond)
	if o := nextObs(t, obs); Reason(o.Err) != ReasonException {
		t.Fatalf("first poll: reason %q (%v), want %q", Reason(o.Err), o.Err, ReasonException)
	}
	if o := nextObs(t, obs); o.Err != nil {
		t.Fatalf("second poll after an exception: %v (connection not kept?)", o.Err)
	}
	if o := nextObs(t, obs); o.Err != nil {
		t.Fatalf("third poll: %v", o.Err)
	}
	// The stray bytes closed the connection; the server does not serve a
	// second one, so the next poll's dial succeeds but nothing answers.
	if o := nextObs(t, obs); Reason(o.Err) != ReasonTimeout {
		t.Fatalf("poll after stray bytes: reason %q (%v), want %q on a fresh connection", Reason(o.Err), o.Err, ReasonTimeout)
	}
}

func TestEventLoopRefusedThenBackoff(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	obs := loopDriver(t, addr, 200*time.Millisecond)
	if o := nextObs(t, obs); Reason(o.Err) != ReasonRefused {
		t.Fatalf("reason %q (%v), want %q", Reason(o.Err), o.Err, ReasonRefused)
	}
	// Within the reconnect backoff the next polls fail without dialling.
	if o := nextObs(t, obs); Reason(o.Err) != ReasonBackoff {
		t.Fatalf("reason %q (%v), want %q", Reason(o.Err), o.Err, ReasonBackoff)
	}
}

// The event loop serves every plain TCP endpoint from one goroutine: 40
// endpoints must not cost 40 polling goroutines (the worker path's one
// each). Counted from the goroutines' stacks.
func TestEventLoopUsesOneGoroutine(t *testing.T) {
	const n = 40
	for _, workers := range []bool{false, true} {
		site := &config.Site{Profiles: map[string]*config.Profile{}}
		p := &config.Profile{Name: "p", Kind: "ventilator", Values: []config.Value{
			{Name: "a", Table: config.TableHolding, Address: ptr(0), Type: config.TypeUint16}}}
		if err := p.Compile(); err != nil {
			t.Fatal(err)
		}
		site.Profiles["p"] = p
		for i := range n {
			site.Devices = append(site.Devices, config.Device{ID: string(rune('A' + i)), Kind: "ventilator", Profile: "p",
				Modbus: &config.ModbusDevice{Address: rawServer(t, func(req []byte) [][]byte { return [][]byte{answerTo(req)} }),
					UnitID: 1, Interval: 50 * time.Millisecond, Timeout: time.Second}})
		}
		d, err := New(site, Options{Logger: slog.New(slog.DiscardHandler), GoroutinePerConnection: workers})
		if err != nil {
			t.Fatal(err)
		}
		in := make(obsIntake, 1024)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = d.Run(ctx, in); close(done) }()
		for range 3 * n {
			if o := nextObs(t, in); o.Err != nil {
				t.Fatal(o.Err)
			}
		}
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		loops := strings.Count(stacks, "drivers/modbus.(*reactor).run(")
		work := strings.Count(stacks, "drivers/modbus.(*endpoint).work(")
		cancel()
		<-done
		switch {
		case !workers && (loops != 1 || work != 0):
			t.Errorf("event loop: %d loop and %d worker goroutines for %d endpoints, want 1 and 0", loops, work, n)
		case workers && (loops != 0 || work != n):
			t.Errorf("worker path: %d loop and %d worker goroutines for %d endpoints, want 0 and %d", loops, work, n, n)
		}
	}
}
