package api

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// memInUse is the heap and goroutine stacks in use after a full GC, and
// the number of goroutines.
func memInUse() (heap, stack uint64, goroutines int) {
	var ms runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse, ms.StackInuse, runtime.NumGoroutine()
}

// openIdleStream opens an event stream on a raw connection (no client
// goroutines or buffers to count) and reads until the snapshot.
func openIdleStream(t testing.TB, addr string) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	rd := bufio.NewReader(c)
	snap := false
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("read stream: %v", err)
		}
		if strings.HasPrefix(line, "HTTP/1.1 ") && !strings.HasPrefix(line, "HTTP/1.1 200") {
			t.Fatalf("events: %s", line)
		}
		if strings.HasPrefix(line, "event: snapshot") {
			snap = true
		}
		if snap && strings.HasPrefix(line, "data: ") {
			return c
		}
	}
}

// TestIdleEventClientCost measures what idle event-stream clients cost the
// server: heap and goroutine stacks per client, after a GC, on the test
// site and on a 2,000-device site whose backend buffers 1,024 transitions
// per subscription, as the gateway does. It checks a generous bound on
// the heap (idle streams must not hold snapshots or per-client transition
// buffers); the figures quoted in the docs come from
// ICUGATE_SSE_CLIENTS=2000 go test -run TestIdleEventClientCost -v ./api/
func TestIdleEventClientCost(t *testing.T) {
	n := 20
	if s := os.Getenv("ICUGATE_SSE_CLIENTS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			t.Fatalf("ICUGATE_SSE_CLIENTS=%q: want a number of clients", s)
		}
	}
	cases := []struct {
		name    string
		backend func(testing.TB) *testBackend
	}{
		{"small site, 64-event subscriptions", newTestBackend},
		{"2000 devices, 1024-event subscriptions", func(tb testing.TB) *testBackend {
			b := bigBackend(tb)
			b.subBuffer = 1024
			return b
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := c.backend(t)
			srv, err := New(Config{Heartbeat: time.Hour, MaxEventClients: n + 1}, b,
				Deps{Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			ts := httptest.NewServer(srv.Handler())
			defer ts.Close()
			addr := ts.Listener.Addr().String()
			// Warm up: one client, and its release.
			openIdleStream(t, addr).Close()
			eventually(t, "warm-up stream closed", func() bool { return srv.streams.clients() == 0 })
			h0, s0, _ := memInUse()
			conns := []net.Conn{openIdleStream(t, addr)}
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			// The first stream brings the backend subscription: a cost
			// paid once. The others cost what a stream costs.
			h1, s1, g1 := memInUse()
			for range n {
				conns = append(conns, openIdleStream(t, addr))
			}
			h2, s2, g2 := memInUse()
			kib := func(a, b uint64) float64 { return float64(int64(b-a)) / 1024 }
			heap, stack := kib(h1, h2)/float64(n), kib(s1, s2)/float64(n)
			t.Logf("first stream (with the subscription): %.1f KiB heap, %.1f KiB stack", kib(h0, h1), kib(s0, s1))
			t.Logf("%d more idle streams: heap %+.1f MiB, stacks %+.1f MiB, goroutines %+d; each %.1f KiB heap, %.1f KiB stack, %.1f goroutines",
				n, kib(h1, h2)/1024, kib(s1, s2)/1024, g2-g1, heap, stack, float64(g2-g1)/float64(n))
			if b.subscribers() != 1 {
				t.Errorf("%d backend subscriptions for %d streams", b.subscribers(), n)
			}
			// Far above the measured ~25 KiB, far below a retained
			// snapshot or a subscription's buffer (180 KiB each).
			if heap > 96 {
				t.Errorf("an idle event stream costs %.1f KiB of heap, want at most 96", heap)
			}
		})
	}
}
