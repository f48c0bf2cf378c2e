package mqtt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Receiving PUBLISH packets.
//
// paho (v1.5.1) passes every received packet through four of its
// goroutines before a handler sees it: the reader, the incoming-comms
// loop (which also stores the message), the comms worker and the router,
// each hand-off an unbuffered channel send that wakes the next goroutine,
// often on the other core. At a few thousand messages a second those
// hand-offs and the scheduler wake-ups they caused were more than half of
// the driver's CPU (BenchmarkThroughput), and none of it could be tuned
// from outside paho.
//
// So the driver takes the PUBLISH packets out of the byte stream before
// paho parses it: bufferedConn.Read reads whole packets, hands each PUBLISH
// to the driver (decode, queue, acknowledge later, as before) on the
// goroutine that is reading, and passes every other packet (CONNACK,
// SUBACK, PUBACK of the gateway's own publishes, PINGRESP...) through to
// paho byte for byte. paho keeps everything else: connecting, the session,
// subscriptions, keepalive, the will, the gateway's own publishes. The
// broker's PUBLISH packets never reach paho's router, so no subscription
// needs a paho callback, and the replay race of a persistent session
// (messages arriving before the routes exist, paho #423) cannot occur.
//
// The PUBLISH wire format (MQTT 3.1.1 §3.3): fixed header (type 3, DUP,
// QoS, RETAIN), remaining length, topic (2-byte length + UTF-8), packet id
// (2 bytes, QoS 1 and 2 only), payload (the rest).

// message is one received PUBLISH. Its slices are the connection's reused
// buffers: valid only during the call that receives it.
type message struct {
	topic    []byte
	payload  []byte // nil when the payload was larger than the limit
	size     int    // payload length in bytes, read or not
	qos      byte
	id       uint16
	retained bool
}

// publishSink takes the PUBLISH packets read from a connection, one at a
// time, on the goroutine reading it. It may wait (backpressure: the
// connection is not read meanwhile).
type publishSink func(m *message)

// MQTT control packet types (the high nibble of the first byte).
const publishType = 3

// maxPassThrough bounds a packet other than PUBLISH: from a broker those
// are a few bytes (a SUBACK holds one byte per filter). A larger one is a
// broken or hostile stream.
const maxPassThrough = 1 << 20

// errMalformed is a packet that breaks the MQTT framing; the connection
// is dropped (paho reconnects), as paho itself would on such a packet.
var errMalformed = errors.New("mqtt: malformed packet from the broker")

// readPacket reads one whole packet from the buffer. A PUBLISH goes to the
// sink; any other packet is left in b.pass for Read to return to paho.
func (b *bufferedConn) readPacket() error {
	h0, err := b.r.ReadByte()
	if err != nil {
		return err
	}
	hdr := append(b.passBuf[:0], h0)
	n, shift := 0, 0
	for i := 0; ; i++ {
		c, err := b.r.ReadByte()
		if err != nil {
			return noEOF(err)
		}
		hdr = append(hdr, c)
		n |= int(c&0x7f) << shift
		if c&0x80 == 0 {
			break
		}
		if i == 3 {
			return fmt.Errorf("%w: remaining length longer than 4 bytes", errMalformed)
		}
		shift += 7
	}
	b.passBuf = hdr
	if h0>>4 == publishType {
		return b.readPublish(h0, n)
	}
	if n > maxPassThrough {
		return fmt.Errorf("%w: packet type %d of %d bytes", errMalformed, h0>>4, n)
	}
	start := len(hdr)
	hdr = slices.Grow(hdr, n)[:start+n]
	if _, err := io.ReadFull(b.r, hdr[start:]); err != nil {
		return noEOF(err)
	}
	b.passBuf, b.pass = hdr, hdr
	return nil
}

// readPublish reads the rest of a PUBLISH of n bytes after its fixed
// header and gives it to the sink. A payload above b.maxPayload is skipped
// unread (its size still reported), so an oversized message costs no
// memory here whatever the broker lets through.
func (b *bufferedConn) readPublish(h0 byte, n int) error {
	m := &b.msg
	*m = message{qos: (h0 >> 1) & 3, retained: h0&1 != 0}
	if m.qos == 3 {
		return fmt.Errorf("%w: PUBLISH with QoS 3", errMalformed)
	}
	var two [2]byte
	if n < 2 {
		return fmt.Errorf("%w: PUBLISH of %d bytes", errMalformed, n)
	}
	if _, err := io.ReadFull(b.r, two[:]); err != nil {
		return noEOF(err)
	}
	tl := int(binary.BigEndian.Uint16(two[:]))
	rest := n - 2 - tl
	if m.qos > 0 {
		rest -= 2
	}
	if rest < 0 {
		return fmt.Errorf("%w: PUBLISH of %d bytes with a %d-byte topic", errMalformed, n, tl)
	}
	b.topic = slices.Grow(b.topic[:0], tl)[:tl]
	if _, err := io.ReadFull(b.r, b.topic); err != nil {
		return noEOF(err)
	}
	m.topic = b.topic
	if m.qos > 0 {
		if _, err := io.ReadFull(b.r, two[:]); err != nil {
			return noEOF(err)
		}
		m.id = binary.BigEndian.Uint16(two[:])
	}
	m.size = rest
	if rest > b.maxPayload {
		if _, err := b.r.Discard(rest); err != nil {
			return noEOF(err)
		}
	} else {
		b.body = slices.Grow(b.body[:0], rest)[:rest]
		if _, err := io.ReadFull(b.r, b.body); err != nil {
			return noEOF(err)
		}
		m.payload = b.body
	}
	b.sink(m)
	return nil
}

// noEOF reports a stream that ended inside a packet as such.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
