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
// the connection in a bufferedConn that hands the broker's PUBLISH packets
// to the driver (see inbound.go), and binds the acker to it. paho calls it
// inside Connect, before it reads anything from the connection. Messages
// read on a connection are acknowledged on that connection only: once a
// newer one exists, whatever an old one still delivers is left to the
// broker to redeliver (acker.addIn).
func (d *Driver) openConnection(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
	c, err := dial(uri, o)
	if err != nil {
		return nil, err
	}
	bc := newBufferedConn(c)
	epoch := d.acks.newEpoch(bc)
	sc := &scratch{} // decoding buffers, used by this connection's reader only
	bc.receive(d.maxBytes, func(m *message) { d.handle(sc, epoch, m) }, d.wakeForward)
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
// packet costs a read, a wake-up of the reading goroutine and one of the
// forwarding goroutine; on this 2-core VM a thread going to sleep and
// waking costs more than decoding a message. Lingering lets a burst gather
// in the socket and be handled in one go. It delays a message by at most
// this much, nothing for 1 Hz status data. With writeLinger it bounds the
// rate at about the broker's in-flight window per 3 ms: 30,000 messages a
// second with max_inflight_messages 100, fifteen times a 2,000-device site
// at 1 Hz. Measured with the driver's own PUBLISH reader (inbound.go) at 0,
// 1 and 2 ms: 10.9-11.9, 8.3-8.6 and 6.7-8.7 cpu-ms per 1,000 messages.
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

	// Receiving (see inbound.go); used only by the goroutine that reads.
	sink       publishSink // nil: pass every byte through
	idle       func()      // called when all that was read is handled
	maxPayload int
	linger     time.Duration // readLinger; 0 in tests reading a fixed stream
	pass       []byte        // the rest of a non-PUBLISH packet for Read to return
	passBuf    []byte
	topic      []byte
	body       []byte
	msg        message

	mu      sync.Mutex
	room    *sync.Cond // signalled when pending shrinks or the conn fails
	pending []byte
	err     error
	closed  bool
	kick    chan struct{}
	stopped chan struct{}
}

func newBufferedConn(c net.Conn) *bufferedConn {
	b := &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, 32<<10), linger: readLinger, kick: make(chan struct{}, 1), stopped: make(chan struct{})}
	b.room = sync.NewCond(&b.mu)
	go b.flusher()
	return b
}

// receive makes Read hand every PUBLISH packet to sink instead of
// returning it; payloads above maxPayload bytes are skipped unread. idle
// (may be nil) is called each time everything read so far has been handed
// over, before Read waits for more: the end of a burst. Call before the
// first Read.
func (b *bufferedConn) receive(maxPayload int, sink publishSink, idle func()) {
	b.maxPayload, b.sink, b.idle = maxPayload, sink, idle
}

// Read reads through the buffer. When the buffer is empty it waits
// readLinger before refilling it, so that the packets of a burst are read
// with one system call and handed on together (see readLinger). With a
// sink, it returns only the packets that are not PUBLISH: it reads and
// hands over PUBLISH packets until another packet arrives, and so stays
// inside Read for as long as only messages come.
func (b *bufferedConn) Read(p []byte) (int, error) {
	if b.sink == nil {
		if b.r.Buffered() == 0 && b.linger > 0 {
			time.Sleep(b.linger)
		}
		return b.r.Read(p)
	}
	for len(b.pass) == 0 {
		if b.r.Buffered() == 0 {
			if b.idle != nil {
				b.idle()
			}
			if b.linger > 0 {
				time.Sleep(b.linger)
			}
		}
		if err := b.readPacket(); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.pass)
	b.pass = b.pass[n:]
	return n, nil
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
