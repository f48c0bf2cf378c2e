package mqtt

import (
	"log/slog"
	"sync"
	"time"
)

// dropLog logs refused messages at most once per interval per reason, with
// the number suppressed since: a misbehaving device publishing garbage at
// 100 Hz must not flood the log (STYLE: rate-limit what a peer can make us
// log). The counter in metrics is exact; the log is a sample.
type dropLog struct {
	log      *slog.Logger
	now      func() time.Time
	interval time.Duration

	mu   sync.Mutex
	last map[string]time.Time
	held map[string]int
}

func newDropLog(log *slog.Logger, now func() time.Time, interval time.Duration) *dropLog {
	return &dropLog{log: log, now: now, interval: interval, last: make(map[string]time.Time), held: make(map[string]int)}
}

// drop logs one refused message unless its reason was logged recently.
func (l *dropLog) drop(reason, device, topic string, err error) {
	now := l.now()
	l.mu.Lock()
	if t, ok := l.last[reason]; ok && now.Sub(t) < l.interval {
		l.held[reason]++
		l.mu.Unlock()
		return
	}
	suppressed := l.held[reason]
	l.last[reason] = now
	l.held[reason] = 0
	l.mu.Unlock()
	l.log.Warn("mqtt message dropped", "reason", reason, "device", device, "topic", truncate(topic, 128), "err", err, "suppressed", suppressed)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
