package modbus

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/icugate/icugate/config"
	// Named apart from this package's backoff function.
	expbackoff "github.com/icugate/icugate/internal/backoff"
)

// Reconnect backoff after failed dials to an endpoint: exponential from
// dialBackoffMin, capped at dialBackoffMax, jittered (see backoff) so that
// many gateways (or many endpoints behind one switch) do not dial in
// lockstep.
const (
	dialBackoffMin = 250 * time.Millisecond
	dialBackoffMax = 30 * time.Second
)

// endpoint is one address (TCP, RTU-over-TCP converter or serial port)
// shared by every device on it. It has at most MaxConns connections, each
// owned by one worker that polls the endpoint's due devices in turn
// (schedule.go), so a connection is only ever used by one poll at a time.
type endpoint struct {
	key         string
	cfg         *config.ModbusDevice // the first device's block; dial settings
	conns       []*connSlot
	devices     []*device
	minInterval time.Duration
	// dial opens a connection (the package's dial; a fake in tests).
	dial func(ctx context.Context, m *config.ModbusDevice, timeout time.Duration) (conn, error)

	mu       sync.Mutex
	due      schedule // devices not being polled, by next tick
	seq      uint64
	failures int // consecutive failed dials
	nextDial time.Time
	lastErr  error
}

// connSlot is one connection of an endpoint; c is nil when it is closed.
type connSlot struct{ c conn }

func newEndpoint(key string, cfg *config.ModbusDevice) *endpoint {
	n := max(cfg.MaxConns, 1)
	e := &endpoint{key: key, cfg: cfg, conns: make([]*connSlot, n), dial: dial}
	for i := range e.conns {
		e.conns[i] = &connSlot{}
	}
	return e
}

// add makes dv one of the endpoint's devices.
func (e *endpoint) add(dv *device) {
	e.devices = append(e.devices, dv)
	if e.minInterval == 0 || dv.interval < e.minInterval {
		e.minInterval = dv.interval
	}
}

// connect makes sure the slot holds an open connection, dialling if
// needed unless the endpoint is in reconnect backoff.
func (e *endpoint) connect(ctx context.Context, s *connSlot, timeout time.Duration) error {
	if s.c != nil {
		return nil
	}
	if err := e.dialBackoff(); err != nil {
		return err
	}
	c, err := e.dial(ctx, e.cfg, timeout)
	e.dialed(err)
	if err != nil {
		return err
	}
	s.c = c
	return nil
}

// connectFailed names the endpoint in a failed (or backed-off) dial's
// error.
func (e *endpoint) connectFailed(err error) error {
	return fmt.Errorf("connect %s: %w", e.key, err)
}

// dialBackoff refuses a dial while the endpoint is in reconnect backoff.
func (e *endpoint) dialBackoff() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if wait := time.Until(e.nextDial); wait > 0 && e.lastErr != nil {
		return &backoffError{what: "connection to " + e.key, err: e.lastErr}
	}
	return nil
}

// dialed records a dial's outcome: failures back the endpoint off.
func (e *endpoint) dialed(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		e.failures++
		e.lastErr = err
		e.nextDial = time.Now().Add(backoff(dialBackoffMin, dialBackoffMax, e.failures))
		return
	}
	e.failures, e.lastErr = 0, nil
}

// closeAll closes every connection; called once no worker runs.
func (e *endpoint) closeAll() {
	for _, s := range e.conns {
		if s.c != nil {
			s.c.close()
			s.c = nil
		}
	}
}

// backoff is the wait after the nth consecutive failure (n ≥ 1) of a dial
// or of a unit: base·2^(n-1) capped at limit, with the equal jitter of
// internal/backoff (uniform in the upper half), so it never exceeds limit.
func backoff(base, limit time.Duration, n int) time.Duration {
	return expbackoff.Exponential{Min: base, Max: limit}.Delay(n - 1)
}
