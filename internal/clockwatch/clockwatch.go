// Package clockwatch estimates how far this machine's clock is from the
// servers it talks to, from the Date header of their HTTP answers. The
// gateway's counts and reports carry its own timestamps: a region rejects a
// report stamped more than a minute in its future, and InfluxDB files
// points under the wrong minute. NTP (chrony, systemd-timesyncd) is the
// cure; this package makes a wrong clock visible in health, metrics and
// alerts instead of in rejected reports.
//
// A Date header has a resolution of one second and is written somewhere
// between sending the request and receiving the answer, so each sample's
// offset is known within half a second plus half the round trip. Each
// source keeps its recent samples and trusts the one with the shortest
// round trip (the least uncertain), as NTP clients do.
package clockwatch

import (
	"net/http"
	"sort"
	"sync"
	"time"
)

// Sample is one estimate of the offset of a source's clock from ours:
// Offset > 0 means the source is ahead (our clock is behind).
type Sample struct {
	Source string
	// Offset is the source's clock minus ours; within ±Uncertainty.
	Offset      time.Duration
	Uncertainty time.Duration
	// At is when the sample was taken, on our clock.
	At time.Time
}

// Limits of what is kept.
const (
	// keep is how many samples a source keeps.
	keep = 8
	// MaxAge is how long a sample counts: a source not heard from for
	// longer says nothing about the clock now.
	MaxAge = 10 * time.Minute
	// maxRTT: an answer slower than this says too little to use.
	maxRTT = 10 * time.Second
)

// Watch collects samples by source. The zero value is not usable; use New.
type Watch struct {
	now     func() time.Time
	mu      sync.Mutex
	sources map[string][]Sample
}

// New returns a Watch reading our clock with now (nil: time.Now).
func New(now func() time.Time) *Watch {
	if now == nil {
		now = time.Now
	}
	return &Watch{now: now, sources: map[string][]Sample{}}
}

// ObserveHTTP records an HTTP answer of source: sent and received on our
// clock, and the answer's headers. Answers without a usable Date (missing,
// malformed, or a round trip over 10 s) are ignored.
func (w *Watch) ObserveHTTP(source string, sent, received time.Time, h http.Header) {
	if w == nil || h == nil {
		return
	}
	raw := h.Get("Date")
	if raw == "" {
		return
	}
	date, err := http.ParseTime(raw)
	if err != nil {
		return
	}
	rtt := received.Sub(sent)
	if rtt < 0 || rtt > maxRTT {
		return
	}
	// The server wrote Date at some instant in [sent, received] on our
	// clock, truncated to its second: its clock then read [date, date+1s).
	mid := sent.Add(rtt / 2)
	offset := date.Add(500 * time.Millisecond).Sub(mid)
	w.Observe(Sample{Source: source, Offset: offset, Uncertainty: 500*time.Millisecond + rtt/2, At: received})
}

// Observe records a sample.
func (w *Watch) Observe(s Sample) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	list := append(w.sources[s.Source], s)
	if len(list) > keep {
		list = list[len(list)-keep:]
	}
	w.sources[s.Source] = list
}

// Sources returns each source's best recent sample (the least uncertain
// of those under MaxAge), sorted by source.
func (w *Watch) Sources() []Sample {
	if w == nil {
		return nil
	}
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []Sample
	for _, list := range w.sources {
		var best *Sample
		for i := range list {
			s := &list[i]
			if now.Sub(s.At) > MaxAge {
				continue
			}
			if best == nil || s.Uncertainty < best.Uncertainty || (s.Uncertainty == best.Uncertainty && !s.At.Before(best.At)) {
				best = s
			}
		}
		if best != nil {
			out = append(out, *best)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out
}

// Skewed returns the recent samples showing our clock off by more than
// limit beyond their uncertainty, when most sources heard from agree (so
// that one server with a wrong clock does not accuse ours); nil otherwise.
func (w *Watch) Skewed(limit time.Duration) []Sample {
	all := w.Sources()
	var off []Sample
	for _, s := range all {
		if abs(s.Offset)-s.Uncertainty > limit {
			off = append(off, s)
		}
	}
	if len(off) == 0 || 2*len(off) < len(all) {
		return nil
	}
	return off
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
