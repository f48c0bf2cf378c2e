package mqtt

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// checkScheme refuses a broker URL the driver cannot dial, at New.
func checkScheme(broker string) error {
	u, err := url.Parse(broker)
	if err != nil {
		return fmt.Errorf("mqtt broker %q: %w", broker, err)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "tcps":
		return nil
	}
	return fmt.Errorf("mqtt broker %q: scheme %q not supported; use tcp://host:1883 or ssl://host:8883", broker, u.Scheme)
}

// openConnection dials the broker (paho's CustomOpenConnectionFn), wraps
// the connection in a bufferedConn and binds the acker to it. paho calls it
// inside Connect, before it reads anything from the connection, and
// connectLoop connects again only after the last connection's handlers have
// returned: every message handled from here on came on this connection.
func (d *Driver) openConnection(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
	c, err := dial(uri, o)
	if err != nil {
		return nil, err
	}
	bc := newBufferedConn(c)
	d.acks.newEpoch(bc)
	return bc, nil
}

func dial(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
	d := &net.Dialer{Timeout: o.ConnectTimeout}
	var c net.Conn
	var err error
	switch uri.Scheme {
	case "tcp", "mqtt":
		c, err = d.Dial("tcp", uri.Host)
	case "ssl", "tls", "mqtts", "tcps":
		tc := o.TLSConfig
		if tc == nil {
			tc = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		c, err = tls.DialWithDialer(d, "tcp", uri.Host, tc)
	default:
		return nil, fmt.Errorf("mqtt broker scheme %q not supported", uri.Scheme)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// maxPendingWrite bounds the bytes waiting for the flusher; a writer waits
// beyond it, so a stalled socket applies backpressure instead of growing
// memory.
const maxPendingWrite = 256 << 10

// readLinger is how long a read waits, once the buffer is empty, before it
// refills it: the receive-side twin of writeLinger. Without it, a stream of
// a few thousand messages a second arrives one packet per read(2), and each
// packet wakes paho's reader and then each of paho's four goroutines in
// turn, on alternating cores; the scheduler's wake-ups and the reads were
// half of the driver's CPU (BenchmarkThroughput). Lingering lets a burst
// gather in the socket, and the goroutines then pass it along while they
// are awake. It delays a message by at most this much, nothing for 1 Hz
// status data. With writeLinger it bounds the rate at about the broker's
// in-flight window per 3 ms: 30,000 messages a second with Mosquitto's
// default max_inflight_messages of 100, fifteen times a 2,000-device site
// at 1 Hz. Measured at 0.5, 1 and 2 ms (interleaved runs, load 4-7):
// 14.3, 11.1 and 10.0 cpu-ms per 1,000 messages.
const readLinger = 2 * time.Millisecond

// writeLinger is how long the flusher waits after the first pending write
// before writing, to gather the acks of a burst.
const writeLinger = time.Millisecond

// bufferedConn batches the small packets of an MQTT connection.
//
// paho reads a PUBLISH's fixed header a byte at a time and writes every
// packet with its own write(2): at high message rates those system calls
// were most of the driver's CPU (profiled with BenchmarkThroughput). Reads
// here go through a bufio.Reader that refills after a short linger; writes,
// and the acker's PUBACKs, are appended to a buffer that one flusher
// goroutine writes out, so the acks that pile up while one write is in the
// kernel leave together in the next. A write error is sticky: it is
// returned by the next Write and closes the socket, so paho's reader sees
// the loss at once and reconnects.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader

	mu      sync.Mutex
	room    *sync.Cond // signalled when pending shrinks or the conn fails
	pending []byte
	err     error
	closed  bool
	kick    chan struct{}
	stopped chan struct{}
}

func newBufferedConn(c net.Conn) *bufferedConn {
	b := &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, 32<<10), kick: make(chan struct{}, 1), stopped: make(chan struct{})}
	b.room = sync.NewCond(&b.mu)
	go b.flusher()
	return b
}

// Read reads through the buffer. When the buffer is empty it waits
// readLinger before refilling it, so that the packets of a burst are read
// with one system call and handed on together (see readLinger).
func (b *bufferedConn) Read(p []byte) (int, error) {
	if b.r.Buffered() == 0 {
		time.Sleep(readLinger)
	}
	return b.r.Read(p)
}

// Write queues p for the flusher; it returns once p is copied, and waits
// while more than maxPendingWrite bytes are pending.
func (b *bufferedConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	for b.err == nil && !b.closed && len(b.pending) > maxPendingWrite {
		b.room.Wait()
	}
	if err := b.queueLocked(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// writeNoWait queues p like Write but never waits for room: the acker
// writes acks with it, and their bytes are bounded by the messages the
// broker sent, not by what we choose to send.
func (b *bufferedConn) writeNoWait(p []byte) error {
	b.mu.Lock()
	return b.queueLocked(p)
}

// queueLocked appends p to pending and wakes the flusher. Called with mu
// held; it unlocks mu.
func (b *bufferedConn) queueLocked(p []byte) error {
	if b.err != nil {
		err := b.err
		b.mu.Unlock()
		return err
	}
	if b.closed {
		b.mu.Unlock()
		return net.ErrClosed
	}
	b.pending = append(b.pending, p...)
	select { // under mu: Close closes kick under mu too
	case b.kick <- struct{}{}:
	default:
	}
	b.mu.Unlock()
	return nil
}

func (b *bufferedConn) flusher() {
	defer close(b.stopped)
	var out []byte
	for range b.kick {
		// Linger briefly so that the acks of a burst share one write;
		// with the broker's in-flight window of 100 this still allows
		// 100,000 acks a second.
		time.Sleep(writeLinger)
		out = b.flush(out)
	}
	b.flush(out)
}

// flush writes what is pending, reusing out as the next pending buffer.
func (b *bufferedConn) flush(out []byte) []byte {
	b.mu.Lock()
	out, b.pending = b.pending, out[:0]
	b.room.Broadcast()
	failed := b.err != nil
	b.mu.Unlock()
	if len(out) == 0 || failed {
		return out
	}
	if _, err := b.Conn.Write(out); err != nil {
		b.mu.Lock()
		b.err = err
		b.room.Broadcast()
		b.mu.Unlock()
		_ = b.Conn.Close()
	}
	return out
}

// Close writes what is pending (paho writes DISCONNECT just before it
// closes), stops the flusher and closes the socket.
func (b *bufferedConn) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.kick) // the flusher writes what is pending, then exits
	b.room.Broadcast()
	b.mu.Unlock()
	<-b.stopped
	return b.Conn.Close()
}
