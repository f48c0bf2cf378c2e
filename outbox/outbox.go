// Package outbox is the durable on-disk queue between the gateway's outputs
// and their peers (InfluxDB first). A point is acknowledged to its producer
// only once it is on disk, delivered in append order, and removed only after
// the consumer confirms the peer accepted it; it survives kill -9 at any
// moment.
//
// Storage is two append-only segmented logs (segment.go), one per class:
// state (never dropped) and telemetry (dropped oldest first when the disk
// budget is exceeded or the disk is full). Each entry carries a global
// sequence number so delivery merges both logs back into append order.
// Concurrent appends are committed together: one write and one fsync per
// log for many points. A failed write is undone on disk and reported to
// every caller, so what Append confirmed is durable and nothing else is;
// a damaged record costs only itself. The directory's layout has a format
// number (format.go): an outbox of a newer format is refused untouched.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Class says whether a record may be dropped under disk pressure.
type Class uint8

const (
	// Telemetry records may be dropped, oldest first, to stay within the
	// disk budget; each drop is counted.
	Telemetry Class = iota
	// State records (state changes, counts, gateway health) are never
	// dropped.
	State
)

// String names the class.
func (c Class) String() string {
	if c == State {
		return "state"
	}
	return "telemetry"
}

// Record is one item to queue: its class and opaque bytes (for InfluxDB, one
// line of line protocol).
type Record struct {
	Class Class
	Data  []byte
}

// Options configure an outbox.
type Options struct {
	// Dir holds the logs (state/, telemetry/) and quarantine/.
	Dir string
	// MaxSize is the disk budget in bytes; 0 means 256 MB.
	MaxSize int64
	// Logger receives decisions (drops, quarantines); nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultMaxSize is the disk budget when none is configured.
const DefaultMaxSize = 256 << 20

// ErrClosed is returned by calls on a closed outbox.
var ErrClosed = errors.New("outbox closed")

// Outbox is a durable, bounded, two-class FIFO. Append may be called from
// any goroutine; Next/Ack/Rewind form a single consumer.
type Outbox struct {
	opts   Options
	logger *slog.Logger
	now    func() time.Time
	qdir   string

	reqs   chan *appendReq
	quit   chan struct{}
	done   chan struct{}
	notify chan struct{}

	mu      sync.Mutex
	logs    [2]*classLog // indexed by Class
	nextSeq uint64
	closed  bool
	q       quarantiner
	heads   [2]*Entry // look-ahead of the consumer, by class
	lock    *os.File  // holds the directory's lock while open
}

type appendReq struct {
	recs [][]byte // encoded, unsealed records
	cls  []Class
	done chan error
}

// Open opens or creates the outbox in opts.Dir, repairing a torn last record
// and reporting what it had to skip, and starts its committer.
func Open(opts Options) (*Outbox, error) {
	if opts.Dir == "" {
		return nil, errors.New("outbox: no directory configured")
	}
	if opts.MaxSize <= 0 {
		opts.MaxSize = DefaultMaxSize
	}
	o := &Outbox{
		opts:   opts,
		logger: opts.Logger,
		now:    opts.Now,
		qdir:   filepath.Join(opts.Dir, "quarantine"),
		reqs:   make(chan *appendReq, 1024),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		notify: make(chan struct{}, 1),
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.now == nil {
		o.now = time.Now
	}
	// Read before anything is created or locked: a newer layout is
	// refused with the directory as it was (format.go).
	stamped, err := readFormat(opts.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("outbox: create %s: %w", opts.Dir, err)
	}
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	o.lock = lock
	for _, c := range []Class{State, Telemetry} {
		l, maxSeq, err := openClassLog(c, filepath.Join(opts.Dir, c.String()), o.qdir, segSizeFor(opts.MaxSize), &o.q, o.logger)
		if err != nil {
			o.closeLogs()
			o.lock.Close()
			return nil, err
		}
		o.logs[c] = l
		o.nextSeq = max(o.nextSeq, maxSeq+1)
	}
	if stamped < Format {
		// Not fatal: on a full disk the outbox must still open; the
		// next Open stamps it.
		if err := stampFormat(opts.Dir); err != nil {
			o.logger.Warn("outbox: could not record the format", "dir", opts.Dir, "err", err)
		}
	}
	go o.commitLoop()
	if o.pendingLocked() > 0 {
		o.signal()
	}
	return o, nil
}

// Append queues records and returns once they are durable on disk (or the
// context ends, in which case they may or may not have been queued).
// Telemetry records may be dropped instead when the disk budget is exhausted
// by state records alone; that is counted, not returned as an error.
func (o *Outbox) Append(ctx context.Context, recs ...Record) error {
	if len(recs) == 0 {
		return nil
	}
	r := &appendReq{recs: make([][]byte, len(recs)), cls: make([]Class, len(recs)), done: make(chan error, 1)}
	for i, rec := range recs {
		r.recs[i] = encodeRecord(rec.Data)
		r.cls[i] = rec.Class
	}
	select {
	case o.reqs <- r:
	case <-o.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-o.done:
		// Closed while queued; the records may or may not be on disk.
		select {
		case err := <-r.done:
			return err
		default:
			return ErrClosed
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Notify returns a channel that receives after new records are committed
// (coalesced: one signal may stand for many commits).
func (o *Outbox) Notify() <-chan struct{} { return o.notify }

func (o *Outbox) signal() {
	select {
	case o.notify <- struct{}{}:
	default:
	}
}

// Close stops the committer and closes the logs. Appends still waiting get
// ErrClosed; undelivered records stay on disk for the next Open.
func (o *Outbox) Close() error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return ErrClosed
	}
	o.closed = true
	o.mu.Unlock()
	close(o.quit)
	<-o.done
	o.mu.Lock()
	defer o.mu.Unlock()
	// Remove what was delivered, so a clean restart redelivers nothing;
	// after a crash up to one segment of delivered points comes again,
	// which InfluxDB absorbs (same series and time overwrite themselves).
	var errs []error
	for _, l := range o.logs {
		if l.ack > l.first && l.ack <= l.last+1 {
			errs = append(errs, l.truncate(l.ack))
		}
	}
	errs = append(errs, o.closeLogs(), o.lock.Close())
	return errors.Join(errs...)
}

func (o *Outbox) closeLogs() error {
	var errs []error
	for _, l := range o.logs {
		if l != nil {
			if err := l.log.Close(); err != nil {
				errs = append(errs, fmt.Errorf("outbox %s: close: %w", l.class, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (o *Outbox) pendingLocked() uint64 {
	return o.logs[State].pending() + o.logs[Telemetry].pending()
}
