package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icugate/icugate/pipeline"
)

// sseEvent is one parsed server-sent event.
type sseEvent struct {
	name, data string
}

// readEvents parses the stream into events (comments and retry lines are
// reported as events named ":comment" and "retry").
func readEvents(body *bufio.Reader, out chan<- sseEvent) {
	defer close(out)
	var ev sseEvent
	for {
		line, err := body.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if ev.name != "" {
				out <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
			out <- sseEvent{name: ":comment", data: line}
		case strings.HasPrefix(line, "retry: "):
			out <- sseEvent{name: "retry", data: strings.TrimPrefix(line, "retry: ")}
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data += strings.TrimPrefix(line, "data: ")
		}
	}
}

// next returns the next event named name, skipping others; it fails the
// test if the stream ends or nothing comes for a long while (a hang guard,
// not a speed assertion).
func next(t *testing.T, events <-chan sseEvent, name string) sseEvent {
	t.Helper()
	guard := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("stream ended waiting for %q", name)
			}
			if ev.name == name {
				return ev
			}
		case <-guard:
			t.Fatalf("no %q event", name)
		}
	}
}

func openStream(t *testing.T, ctx context.Context, url string) (*http.Response, <-chan sseEvent) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/api/v1/events", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET events: %v", err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	events := make(chan sseEvent, 64)
	go readEvents(bufio.NewReader(res.Body), events)
	return res, events
}

func TestEventsDeliverSnapshotThenTransitions(t *testing.T) {
	f := newFixture(t, Config{})
	ts := httptest.NewServer(f.h)
	defer ts.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, events := openStream(t, ctx, ts.URL)
	defer res.Body.Close()

	if ev := next(t, events, "retry"); ev.data != "3000" {
		t.Errorf("retry hint %q", ev.data)
	}
	var site siteView
	if err := json.Unmarshal([]byte(next(t, events, "site").data), &site); err != nil || len(site.Units) != 3 {
		t.Fatalf("site event: %v %+v", err, site)
	}
	var snap pipeline.Snapshot
	if err := json.Unmarshal([]byte(next(t, events, "snapshot").data), &snap); err != nil {
		t.Fatal(err)
	}
	if len(snap.Devices) != len(f.b.site.Devices) || len(snap.Beds) != 8 {
		t.Fatalf("snapshot: %d devices, %d beds", len(snap.Devices), len(snap.Beds))
	}

	f.b.set("vent-a2", pipeline.Fault)
	var got []pipeline.Transition
	for len(got) < 2 {
		var tr pipeline.Transition
		if err := json.Unmarshal([]byte(next(t, events, "transition").data), &tr); err != nil {
			t.Fatal(err)
		}
		got = append(got, tr)
	}
	if got[0].Type != "device" || got[0].ID != "vent-a2" || got[0].From != "standby" || got[0].To != "fault" {
		t.Errorf("device transition: %+v", got[0])
	}
	if got[1].Type != "bed" || got[1].ID != "icu-a-2" || got[1].To != "degraded" || len(got[1].Reason) == 0 {
		t.Errorf("bed transition: %+v", got[1])
	}
	cancel()
	res.Body.Close()
	ts.Close()
	// The backend ends a subscription when its context ends, on its own
	// goroutine: give it a moment.
	eventually(t, "every subscription ended after the client went away", func() bool { return f.b.subscribers() == 0 })
}

// flushWriter is a ResponseWriter for calling the handler in a synctest
// bubble, where real sockets are not allowed.
type flushWriter struct {
	mu  sync.Mutex
	hdr http.Header
	buf bytes.Buffer
}

func (w *flushWriter) Header() http.Header { return w.hdr }
func (w *flushWriter) WriteHeader(int)     {}
func (w *flushWriter) Flush()              {}
func (w *flushWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(b)
}

func (w *flushWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestEventsHeartbeatEvery15s(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		ctx, cancel := context.WithCancel(t.Context())
		r := newRequest(ctx, "GET", "/api/v1/events", "")
		w := &flushWriter{hdr: http.Header{}}
		done := make(chan struct{})
		go func() {
			defer close(done)
			f.h.ServeHTTP(w, r)
		}()
		synctest.Wait()
		if !strings.Contains(w.String(), "event: snapshot") {
			t.Fatalf("no snapshot first: %q", w.String())
		}
		time.Sleep(14 * time.Second)
		synctest.Wait()
		if strings.Contains(w.String(), "heartbeat") {
			t.Fatal("heartbeat before 15s")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if n := strings.Count(w.String(), ": heartbeat\n\n"); n != 1 {
			t.Fatalf("after 15s: %d heartbeats", n)
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if n := strings.Count(w.String(), ": heartbeat\n\n"); n != 3 {
			t.Fatalf("after 45s: %d heartbeats", n)
		}
		cancel()
		<-done
	})
}

func TestServeShutsDownWithOpenStreams(t *testing.T) {
	t.Parallel()
	// A write timeout far shorter than the stream's life: the stream must
	// outlive it (each write has its own deadline), other routes not.
	f := newFixture(t, Config{WriteTimeout: 150 * time.Millisecond, Heartbeat: 50 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- f.srv.Serve(ctx, ln) }()

	res, err := http.Get(url + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("healthz over TCP: %v %v", err, res)
	}
	res.Body.Close()
	stream, events := openStream(t, context.Background(), url)
	defer stream.Body.Close()
	next(t, events, "snapshot")
	for range 8 { // 8 heartbeats: well past the write timeout
		next(t, events, ":comment")
	}

	stop()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return after its context ended (event stream held it?)")
	}
	// The stream ends: the reader sees the end of the body.
	for range events {
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("server still answering after shutdown")
	}
}

func TestRunReportsListenErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f := newFixture(t, Config{Listen: ln.Addr().String()})
	err = f.srv.Run(context.Background())
	var op *net.OpError
	if err == nil || !errors.As(err, &op) || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("Run on a busy address: %v", err)
	}
}
