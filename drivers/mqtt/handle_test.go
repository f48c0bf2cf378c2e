package mqtt

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"
)

func TestMessageTime(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	d := &Driver{opts: withDefaults(Options{Now: func() time.Time { return now }})}
	rt := &route{device: "v1", fresh: 30 * time.Second}
	cases := []struct {
		name     string
		dec      decoded
		retained bool
		want     time.Time
		reason   string
	}{
		{"no device time: receipt time", decoded{}, false, now, ""},
		{"retained without device time", decoded{}, true, time.Time{}, ReasonRetained},
		{"device time trusted", decoded{time: now.Add(-10 * time.Second), hasTime: true}, false, now.Add(-10 * time.Second), ""},
		{"retained with a fresh device time", decoded{time: now.Add(-time.Second), hasTime: true}, true, now.Add(-time.Second), ""},
		{"older than the freshness window", decoded{time: now.Add(-31 * time.Second), hasTime: true}, false, time.Time{}, ReasonStale},
		{"slightly ahead: clamped to now", decoded{time: now.Add(time.Minute), hasTime: true}, false, now, ""},
		{"too far ahead", decoded{time: now.Add(6 * time.Minute), hasTime: true}, false, time.Time{}, ReasonFutureTime},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, b := d.messageTime(rt, c.dec, c.retained, now)
			switch {
			case c.reason != "" && (b == nil || b.reason != c.reason):
				t.Fatalf("got %v, %v; want refusal %s", got, b, c.reason)
			case c.reason == "" && (b != nil || !got.Equal(c.want)):
				t.Fatalf("got %v, %v; want %v", got, b, c.want)
			}
		})
	}
}

// countingHandler counts log records and keeps the last one's attributes.
type countingHandler struct {
	n    int
	last map[string]string
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *countingHandler) WithGroup(string) slog.Handler            { return h }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.n++
	h.last = map[string]string{}
	r.Attrs(func(a slog.Attr) bool { h.last[a.Key] = a.Value.String(); return true })
	return nil
}

func TestDropLogRateLimits(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	h := &countingHandler{}
	l := newDropLog(slog.New(h), func() time.Time { return now }, 10*time.Second)
	for range 100 {
		l.drop(ReasonNotJSON, "v1", "devices/v1/status", errors.New("bad"))
	}
	l.drop(ReasonTooDeep, "v1", "devices/v1/status", errors.New("deep")) // another reason logs on its own
	if h.n != 2 {
		t.Fatalf("%d log lines for 101 drops in one interval, want 2", h.n)
	}
	now = now.Add(11 * time.Second)
	l.drop(ReasonNotJSON, "v1", "devices/v1/status", errors.New("bad"))
	if h.n != 3 || h.last["suppressed"] != "99" || h.last["device"] != "v1" {
		t.Fatalf("after the interval: %d lines, last %v; want a line reporting 99 suppressed", h.n, h.last)
	}
}
