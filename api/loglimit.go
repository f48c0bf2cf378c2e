package api

import (
	"sync"
	"time"
)

// logLimiter bounds the log lines that clients can cause (rejected calls):
// at most n per window, then a count of what was suppressed rides on the
// next line. Every call is still audited and counted in metrics.
type logLimiter struct {
	mu         sync.Mutex
	n          int
	window     time.Duration
	start      time.Time
	used       int
	suppressed int
}

func newLogLimiter(n int, window time.Duration) *logLimiter {
	return &logLimiter{n: n, window: window}
}

// allow reports whether a line may be logged at now, and how many lines
// were suppressed since the last one allowed.
func (l *logLimiter) allow(now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) >= l.window || now.Before(l.start) {
		l.start, l.used = now, 0
	}
	if l.used >= l.n {
		l.suppressed++
		return false, 0
	}
	l.used++
	s := l.suppressed
	l.suppressed = 0
	return true, s
}
