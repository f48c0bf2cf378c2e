package mqtt

import (
	"log/slog"
	"time"

	"github.com/icugate/icugate/internal/logthrottle"
)

// dropLog logs refused messages at most once per interval per reason, with
// the number suppressed since: a misbehaving device publishing garbage at
// 100 Hz must not flood the log (STYLE: rate-limit what a peer can make us
// log). The counter in metrics is exact; the log is a sample.
type dropLog struct {
	log      *slog.Logger
	throttle *logthrottle.Limiter // keyed by reason, a fixed set
}

func newDropLog(log *slog.Logger, now func() time.Time, interval time.Duration) *dropLog {
	return &dropLog{log: log, throttle: logthrottle.New(1, interval, now)}
}

// drop logs one refused message unless its reason was logged recently.
func (l *dropLog) drop(reason, device, topic string, err error) {
	ok, suppressed := l.throttle.Allow(reason)
	if !ok {
		return
	}
	l.log.Warn("mqtt message dropped", "reason", reason, "device", device, "topic", truncate(topic, 128), "err", err, "suppressed", suppressed)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
