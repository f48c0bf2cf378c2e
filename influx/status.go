package influx

import (
	"time"

	"github.com/icugate/icugate/outbox"
)

// Status is the writer's health for the gateway's health endpoint and
// gateway measurement.
type Status struct {
	// State is "ok", "retrying" (server or network failing) or "held" (the
	// server refuses us: credentials, permissions, missing database; or
	// something that is not InfluxDB answers in its place).
	State string
	// Reason is the metric label of the last failure ("unauthorized", ...).
	Reason string
	// Message is the server's message for the last failure.
	Message string
	// Since is when State last changed.
	Since time.Time
	// LastWrite is when a batch was last accepted.
	LastWrite time.Time
	// Written and DeadLettered count points since start.
	Written, DeadLettered uint64
}

// Status returns the writer's current health.
func (w *Writer) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.status
}

func (w *Writer) wrote(n int) {
	w.m.written.Add(float64(n))
	w.m.up.Set(1)
	// A hold ends with the first accepted write; the gauge must say so, or
	// an alert on it would fire forever after the cause was fixed.
	w.m.held.Set(0)
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	if w.status.State != "ok" {
		w.logger.Info("influxdb: writes accepted again", "after", w.status.State, "reason", w.status.Reason)
		w.status = Status{State: "ok", Since: now, Written: w.status.Written, DeadLettered: w.status.DeadLettered}
	}
	w.status.Written += uint64(n)
	w.status.LastWrite = now
}

// failing records a failed attempt. A hold (we are refused) is logged at
// error level when it starts and every minute while it lasts; plain
// retries are logged when they start.
func (w *Writer) failing(oc outcome, status int, msg string) {
	w.m.up.Set(0)
	state := "retrying"
	if oc == hold {
		state = "held"
	}
	reason := oc.reason(status)
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	changed := w.status.State != state || w.status.Reason != reason
	if changed {
		w.status.State, w.status.Since = state, now
	}
	w.status.Reason, w.status.Message = reason, msg
	if oc == hold {
		w.m.held.Set(1)
		if changed || now.Sub(w.loud) >= time.Minute {
			w.loud = now
			w.logger.Error("influxdb: writes not accepted; holding every point until it is fixed",
				"status", status, "reason", reason, "err", msg)
		}
		return
	}
	w.m.held.Set(0)
	if changed {
		w.logger.Warn("influxdb: write failed, retrying with backoff", "status", status, "reason", reason, "err", msg)
	}
}

func (w *Writer) deadLetter(e outbox.Entry, status int, msg string) error {
	if err := w.dead.add(e, status, msg); err != nil {
		return err
	}
	w.m.deadLettered.Inc()
	w.mu.Lock()
	w.status.DeadLettered++
	w.mu.Unlock()
	w.logger.Error("influxdb: point refused by the server, set aside in the dead-letter file",
		"file", w.dead.path, "status", status, "err", msg)
	return nil
}
