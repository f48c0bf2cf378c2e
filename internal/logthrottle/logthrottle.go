// Package logthrottle bounds the log lines that a peer can make us write
// (STYLE: rate-limit what a misbehaving peer can make us log). Metrics stay
// exact; the log becomes a sample, and each line that gets through says
// how many were held back before it.
package logthrottle

import (
	"sync"
	"time"
)

// Limiter lets at most a fixed number of lines per key through in each
// interval. A key's interval starts at the first line allowed after the
// previous one ended, so with one line per interval a key logs at most once
// every interval. Lines refused are counted per key and the count is handed
// to the next line allowed for that key.
//
// A Limiter is safe for concurrent use. It keeps one entry per key it has
// seen, so keys must come from a bounded set (reasons, outcomes, "" for a
// single stream), never from what a peer sends.
type Limiter struct {
	lines    int
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	keys map[string]*window
}

// window is one key's current interval.
type window struct {
	start      time.Time
	used       int // lines allowed since start
	suppressed int // lines refused since the last one allowed
}

// New returns a Limiter that allows lines (at least 1) per key per
// interval, reading the time from now (time.Now when nil).
func New(lines int, interval time.Duration, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{lines: max(lines, 1), interval: interval, now: now, keys: make(map[string]*window)}
}

// Allow reports whether a line for key may be written now, and, when it
// may, how many lines for key were refused since the last one allowed (to
// be logged with it). A refused line is counted and Allow returns false, 0.
//
// If the clock goes back before the key's interval started (a wall clock
// stepped back), a new interval starts, so a clock step never silences a
// key for longer than one interval.
func (l *Limiter) Allow(key string) (ok bool, suppressed int) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.keys[key]
	if w == nil {
		w = &window{start: now}
		l.keys[key] = w
	} else if now.Sub(w.start) >= l.interval || now.Before(w.start) {
		w.start, w.used = now, 0
	}
	if w.used >= l.lines {
		w.suppressed++
		return false, 0
	}
	w.used++
	suppressed, w.suppressed = w.suppressed, 0
	return true, suppressed
}
