package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// skewedInflux answers every request as InfluxDB answers a stored write
// (204, no body), with a Date off from this machine's clock by skew.
func skewedInflux(t *testing.T, skew time.Duration) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", time.Now().Add(skew).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestClockSkewShowsInHealthAndMetrics runs the gateway against an
// InfluxDB whose Date says this machine's clock is two minutes behind:
// /readyz names the clock and the offset, and icugate_clock_offset_seconds
// carries it. Against a server in step, the clock is no reason.
func TestClockSkewShowsInHealthAndMetrics(t *testing.T) {
	for _, tt := range []struct {
		name   string
		skew   time.Duration
		reason bool
	}{{"two minutes behind", 2 * time.Minute, true}, {"in step", 0, false}} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			srv := skewedInflux(t, tt.skew)
			site, path := smallSite(t, dir, nil, fmt.Sprintf("influxdb:\n  url: %s\n  bucket: icugate/autogen\n  flush_interval: 100ms\n", srv.URL))
			g, err := New(site, Options{SitePath: path, DataDir: filepath.Join(dir, "data"), Logger: slog.New(slog.DiscardHandler), Listener: listen(t)})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- g.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
			}()
			eventually(t, 20*time.Second, "an InfluxDB answer measured", func() (bool, string) {
				return len(g.clock.Sources()) > 0, "no sample yet"
			})
			s := g.clock.Sources()[0]
			if d := s.Offset - tt.skew; d > s.Uncertainty || d < -s.Uncertainty {
				t.Errorf("offset %v ± %v, want %v", s.Offset, s.Uncertainty, tt.skew)
			}
			reasons := strings.Join(g.Degraded(), "\n")
			if got := strings.Contains(reasons, "clock: this machine's clock is 2m0s behind influxdb"); got != tt.reason {
				t.Errorf("health reasons (clock reason expected %v):\n%s", tt.reason, reasons)
			}
			mfs, err := g.reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			var offset *dto.Metric
			for _, mf := range mfs {
				if mf.GetName() == "icugate_clock_offset_seconds" && len(mf.Metric) == 1 {
					offset = mf.Metric[0]
				}
			}
			if offset == nil || offset.Label[0].GetValue() != "influxdb" {
				t.Fatalf("icugate_clock_offset_seconds{source=influxdb} missing")
			}
			if v := offset.Gauge.GetValue(); v < tt.skew.Seconds()-2 || v > tt.skew.Seconds()+2 {
				t.Errorf("icugate_clock_offset_seconds = %v, want about %v", v, tt.skew.Seconds())
			}
		})
	}
}
