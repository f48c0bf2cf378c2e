package modbus

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/icugate/icugate/config"
)

// Reconnect backoff after failed dials to an endpoint: exponential from
// dialBackoffMin, capped at dialBackoffMax, with ±50% jitter so that many
// gateways (or many endpoints behind one switch) do not dial in lockstep.
const (
	dialBackoffMin = 250 * time.Millisecond
	dialBackoffMax = 30 * time.Second
)

// endpoint is one address (TCP, RTU-over-TCP converter or serial port)
// shared by every device on it. Its connections are a pool of at most
// MaxConns; devices take a connection for one whole poll and give it back,
// so devices on one endpoint are polled in turn (Go channels hand the
// connection to waiters in FIFO order).
type endpoint struct {
	key   string
	cfg   *config.ModbusDevice // the first device's block; dial settings
	slots chan *connSlot

	mu       sync.Mutex
	failures int // consecutive failed dials
	nextDial time.Time
	lastErr  error
}

// connSlot is one pooled connection; c is nil when it is closed.
type connSlot struct{ c conn }

func newEndpoint(key string, cfg *config.ModbusDevice) *endpoint {
	n := cfg.MaxConns
	if n <= 0 {
		n = 1
	}
	e := &endpoint{key: key, cfg: cfg, slots: make(chan *connSlot, n)}
	for i := 0; i < n; i++ {
		e.slots <- &connSlot{}
	}
	return e
}

// acquire takes a connection slot, waiting for one to be free.
func (e *endpoint) acquire(ctx context.Context) (*connSlot, error) {
	select {
	case s := <-e.slots:
		return s, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (e *endpoint) release(s *connSlot) { e.slots <- s }

// connect makes sure the slot holds an open connection, dialling if
// needed unless the endpoint is in reconnect backoff.
func (e *endpoint) connect(ctx context.Context, s *connSlot, timeout time.Duration) error {
	if s.c != nil {
		return nil
	}
	e.mu.Lock()
	if wait := time.Until(e.nextDial); wait > 0 && e.lastErr != nil {
		err := e.lastErr
		e.mu.Unlock()
		return &backoffError{what: "connection to " + e.key, err: err}
	}
	e.mu.Unlock()
	c, err := dial(ctx, e.cfg, timeout)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		e.failures++
		e.lastErr = err
		e.nextDial = time.Now().Add(backoff(dialBackoffMin, dialBackoffMax, e.failures))
		return err
	}
	e.failures, e.lastErr = 0, nil
	s.c = c
	return nil
}

// closeAll closes every pooled connection; called once no poll runs.
func (e *endpoint) closeAll() {
	for i := 0; i < cap(e.slots); i++ {
		s := <-e.slots
		if s.c != nil {
			s.c.close()
			s.c = nil
		}
		e.slots <- s
	}
}

// backoff is base·2^(n-1), capped, with ±50% jitter.
func backoff(base, limit time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	return d/2 + rand.N(d)
}
