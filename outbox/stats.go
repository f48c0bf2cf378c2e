package outbox

import "time"

// quarantiner counts what the outbox had to give up, by cause.
type quarantiner struct {
	dropped     uint64 // telemetry dropped for the disk budget
	quarantined uint64 // entries lost to damaged records or segments
	torn        uint64 // torn writes skipped at open
}

func (q *quarantiner) tornTail(Class, int64)         { q.torn++ }
func (q *quarantiner) tornEntries(_ Class, n uint64) { q.torn += n }

// Stats is a snapshot of the outbox for the gateway measurement, metrics and
// logs.
type Stats struct {
	// Points waiting for delivery (including a batch in flight), by class.
	StatePoints, TelemetryPoints uint64
	// Bytes is the disk used by the logs; MaxSize the budget.
	Bytes, MaxSize int64
	// Oldest is when the oldest waiting point was appended; Lag is its age.
	Oldest time.Time
	Lag    time.Duration
	// Dropped counts telemetry points dropped to stay within the budget.
	Dropped uint64
	// Quarantined counts entries set aside because they were damaged.
	Quarantined uint64
	// Torn counts torn writes (partial last records) skipped at open.
	Torn uint64
	// OverBudget is set when state points alone exceed the budget: they are
	// kept, and the disk use exceeds MaxSize.
	OverBudget bool
}

// Points is the total number of waiting points.
func (s Stats) Points() uint64 { return s.StatePoints + s.TelemetryPoints }

// Stats returns current figures.
func (o *Outbox) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := Stats{
		StatePoints:     o.logs[State].pending(),
		TelemetryPoints: o.logs[Telemetry].pending(),
		Bytes:           o.logs[State].disk + o.logs[Telemetry].disk,
		MaxSize:         o.opts.MaxSize,
		Dropped:         o.q.dropped,
		Quarantined:     o.q.quarantined,
		Torn:            o.q.torn,
	}
	s.OverBudget = s.Bytes > s.MaxSize
	for _, l := range o.logs {
		if t, ok := l.oldest(); ok && (s.Oldest.IsZero() || t.Before(s.Oldest)) {
			s.Oldest = t
		}
	}
	if !s.Oldest.IsZero() {
		s.Lag = o.now().Sub(s.Oldest)
	}
	return s
}

// Pending is the number of points waiting (cheaper than Stats).
func (o *Outbox) Pending() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.pendingLocked()
}
