package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
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

// eventually polls cond until it holds; a hang guard, not a speed
// assertion.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not %s after 20s", what)
		}
		<-tick.C
	}
}

// toggle makes the backend produce transitions: device id goes to fault
// and back.
func toggle(b *testBackend, id string) {
	b.set(id, pipeline.Fault)
	b.set(id, pipeline.Standby)
}

func TestEventStreamsShareOneSubscription(t *testing.T) {
	f := newFixture(t, Config{})
	ts := httptest.NewServer(f.h)
	defer ts.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 20
	var streams []<-chan sseEvent
	for range n {
		res, events := openStream(t, ctx, ts.URL)
		defer res.Body.Close()
		next(t, events, "snapshot")
		streams = append(streams, events)
	}
	if got := f.b.subscribers(); got != 1 {
		t.Errorf("%d streams hold %d backend subscriptions, want 1", n, got)
	}
	f.b.set("vent-a3", pipeline.Fault)
	for i, events := range streams {
		if ev := next(t, events, "transition"); !strings.Contains(ev.data, `"vent-a3"`) {
			t.Errorf("stream %d: %s", i, ev.data)
		}
	}
	cancel()
	eventually(t, "unsubscribed after the last stream left", func() bool {
		return f.b.subscribers() == 0 && f.srv.streams.clients() == 0
	})
}

func TestEventStreamsCapped(t *testing.T) {
	f := newFixture(t, Config{MaxEventClients: 3})
	ts := httptest.NewServer(f.h)
	defer ts.Close()
	var cancels []context.CancelFunc
	for range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		res, events := openStream(t, ctx, ts.URL)
		defer res.Body.Close()
		next(t, events, "snapshot")
		cancels = append(cancels, cancel)
	}
	res, err := http.Get(ts.URL + "/api/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	var e apiError
	err = json.NewDecoder(res.Body).Decode(&e)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "10" ||
		e.Error != "too many event streams" || !strings.Contains(e.Reason, "http.max_event_clients") {
		t.Errorf("fourth stream: %d Retry-After %q %+v", res.StatusCode, res.Header.Get("Retry-After"), e)
	}
	if n := metricValue(f.srv.metrics.sseRefused); n != 1 {
		t.Errorf("refused streams: %v", n)
	}
	// One leaves: there is room again.
	cancels[0]()
	eventually(t, "down to two streams", func() bool { return f.srv.streams.clients() == 2 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, events := openStream(t, ctx, ts.URL)
	defer res.Body.Close()
	next(t, events, "snapshot")
}

// stallWriter is an event stream whose client stops reading once stalled:
// a write then blocks until release, and fails.
type stallWriter struct {
	flushWriter
	mu      sync.Mutex
	stalled bool
	release chan struct{}
}

func (w *stallWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	stalled := w.stalled
	w.mu.Unlock()
	if stalled {
		<-w.release
		return 0, errors.New("stalled client")
	}
	return w.flushWriter.Write(b)
}

func (w *stallWriter) stall() {
	w.mu.Lock()
	w.stalled = true
	w.mu.Unlock()
}

// TestLaggingStreamDropped: a client that stops reading falls behind; at
// EventBuffer transitions behind it is dropped and counted, its queue
// freed and its slot given back, while the other streams carry on.
func TestLaggingStreamDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, Config{EventBuffer: 4})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		slow := &stallWriter{flushWriter: flushWriter{hdr: http.Header{}}, release: make(chan struct{})}
		fast := &flushWriter{hdr: http.Header{}}
		done := make(chan struct{})
		go func() {
			defer close(done)
			f.h.ServeHTTP(slow, newRequest(ctx, "GET", "/api/v1/events", ""))
		}()
		go f.h.ServeHTTP(fast, newRequest(ctx, "GET", "/api/v1/events", ""))
		synctest.Wait()
		if !strings.Contains(slow.String(), "event: snapshot") || f.srv.streams.clients() != 2 {
			t.Fatalf("streams not open: %d", f.srv.streams.clients())
		}
		slow.stall()
		// The first transitions block the slow stream's write; the next
		// fill its queue, and one more overflows it.
		for i := 0; i < 5 && metricValue(f.srv.metrics.sseLagged) == 0; i++ {
			toggle(f.b, "vent-a2")
			synctest.Wait()
		}
		if n := metricValue(f.srv.metrics.sseLagged); n != 1 {
			t.Fatalf("lagged streams: %v, want 1", n)
		}
		if n := f.srv.streams.clients(); n != 1 {
			t.Errorf("open streams after the drop: %d, want 1", n)
		}
		close(slow.release)
		<-done
		if n := metricValue(f.srv.metrics.sseClients); n != 1 {
			t.Errorf("icugate_http_event_streams = %v, want 1", n)
		}
		// The fast stream got every transition.
		if n := strings.Count(fast.String(), "event: transition"); n < 8 {
			t.Errorf("fast stream: %d transitions", n)
		}
		cancel()
		synctest.Wait()
		if f.b.subscribers() != 0 {
			t.Error("subscription left after the last stream")
		}
	})
}

// smallBuffers makes the kernel's buffers of accepted connections small,
// so that a client that stops reading blocks the server's writes soon.
type smallBuffers struct{ net.Listener }

func (l smallBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4 << 10)
	}
	return c, err
}

// TestLaggingStreamDroppedOverTCP is TestLaggingStreamDropped with a real
// client that stops reading its socket.
func TestLaggingStreamDroppedOverTCP(t *testing.T) {
	f := newFixture(t, Config{EventBuffer: 4, WriteTimeout: 200 * time.Millisecond})
	ts := httptest.NewUnstartedServer(f.h)
	ts.Listener = smallBuffers{ts.Listener}
	ts.Start()
	defer ts.Close()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	if _, err := io.WriteString(conn, "GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("events: %v %v", res, err)
	}
	body := bufio.NewReader(res.Body)
	for {
		line, err := body.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "event: snapshot") {
			break
		}
	}
	// Stop reading; transitions pile up in the socket, then the queue.
	for i := 0; metricValue(f.srv.metrics.sseLagged) == 0; i++ {
		if i == 100_000 {
			t.Fatal("a client that does not read was never dropped")
		}
		toggle(f.b, "vent-a2")
	}
	eventually(t, "stream closed", func() bool { return metricValue(f.srv.metrics.sseClients) == 0 })
	if f.srv.streams.clients() != 0 {
		t.Error("dropped stream still holds a slot")
	}
	// The client, reading again, finds the connection closed in the
	// middle of the stream.
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.Copy(io.Discard, body); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("stream did not end with the connection: %v", err)
	}
}
