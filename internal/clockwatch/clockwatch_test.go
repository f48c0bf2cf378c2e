package clockwatch

import (
	"net/http"
	"testing"
	"time"
)

func header(t time.Time) http.Header {
	h := http.Header{}
	h.Set("Date", t.UTC().Format(http.TimeFormat))
	return h
}

// TestOffsetFromDate: a server 90 s ahead is measured 90 s ahead within
// the stated uncertainty, whatever the sub-second phase and round trip.
func TestOffsetFromDate(t *testing.T) {
	base := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	for _, phase := range []time.Duration{0, 250 * time.Millisecond, 999 * time.Millisecond} {
		for _, rtt := range []time.Duration{time.Millisecond, 400 * time.Millisecond, 3 * time.Second} {
			now := base.Add(phase)
			w := New(func() time.Time { return now.Add(rtt) })
			server := now.Add(rtt / 3).Add(90 * time.Second) // answered a third into the round trip
			w.ObserveHTTP("influxdb", now, now.Add(rtt), header(server))
			s := w.Sources()
			if len(s) != 1 {
				t.Fatalf("phase %v rtt %v: %d sources", phase, rtt, len(s))
			}
			if err := abs(s[0].Offset - 90*time.Second); err > s[0].Uncertainty {
				t.Errorf("phase %v rtt %v: offset %v ± %v, want 90s", phase, rtt, s[0].Offset, s[0].Uncertainty)
			}
		}
	}
}

// TestBestSampleAndAge: the least uncertain recent sample wins; samples
// older than MaxAge and unusable answers are not used.
func TestBestSampleAndAge(t *testing.T) {
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	w := New(func() time.Time { return now })
	w.ObserveHTTP("report", now.Add(-2*time.Second), now, header(now.Add(40*time.Second)))       // slow, uncertain
	w.ObserveHTTP("report", now.Add(-10*time.Millisecond), now, header(now.Add(70*time.Second))) // fast
	w.ObserveHTTP("report", now.Add(-time.Minute), now, header(now))                             // round trip too long: ignored
	w.ObserveHTTP("report", now.Add(-time.Millisecond), now, http.Header{"Date": {"yesterday"}}) // malformed: ignored
	w.Observe(Sample{Source: "old", Offset: time.Hour, At: now.Add(-MaxAge - time.Second)})      // too old
	s := w.Sources()
	if len(s) != 1 || s[0].Source != "report" || abs(s[0].Offset-70*time.Second) > time.Second {
		t.Fatalf("sources: %+v", s)
	}
}

// TestSkewedNeedsAgreement: one server with a wrong clock among several
// does not make ours skewed; when most agree, it is.
func TestSkewedNeedsAgreement(t *testing.T) {
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	w := New(func() time.Time { return now })
	w.Observe(Sample{Source: "influxdb", Offset: 2 * time.Minute, Uncertainty: time.Second, At: now})
	w.Observe(Sample{Source: "report", Offset: 0, Uncertainty: time.Second, At: now})
	w.Observe(Sample{Source: "alertmanager", Offset: time.Second, Uncertainty: time.Second, At: now})
	if got := w.Skewed(30 * time.Second); got != nil {
		t.Errorf("one odd server made the clock skewed: %+v", got)
	}
	w.Observe(Sample{Source: "report", Offset: 2 * time.Minute, Uncertainty: time.Second, At: now})
	if got := w.Skewed(30 * time.Second); len(got) != 2 {
		t.Errorf("two of three agree, got %+v", got)
	}
	if got := New(nil).Skewed(time.Second); got != nil {
		t.Errorf("no samples: %+v", got)
	}
	var nilWatch *Watch
	nilWatch.ObserveHTTP("x", now, now, header(now))
	if nilWatch.Sources() != nil {
		t.Error("nil watch has sources")
	}
}
