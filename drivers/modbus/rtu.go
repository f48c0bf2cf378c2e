package modbus

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	gb "github.com/goburrow/modbus"
	"github.com/goburrow/serial"

	"github.com/icugate/icugate/config"
)

// RTU has no transaction id: an answer is matched to its request only by
// timing. So after any trouble (and on every fresh connection) the line is
// drained: bytes are read and thrown away until it has been silent for the
// quiet period, so that a late answer to an earlier request is never taken
// as the answer to the next one.
const (
	// rtuOverTCPQuiet is the silence that ends a drain on a TCP tunnel,
	// generous for network jitter.
	rtuOverTCPQuiet = 20 * time.Millisecond
	// serialPollStep is the granularity at which serial reads wait.
	serialPollStep = 5 * time.Millisecond
)

// line is a byte stream to RTU devices: a TCP socket to a serial
// converter, or a serial port.
type line interface {
	io.ReadWriteCloser
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
	SetDeadline(t time.Time) error
}

// netLine is a TCP tunnel to a "raw TCP server" serial converter.
type netLine struct{ net.Conn }

// rtuTransporter implements goburrow's Transporter for RTU frames over any
// line. goburrow v0.1.0 has no RTU-over-TCP transporter, and its serial
// one mis-frames exception answers (it tests fc&0x80 instead of fc|0x80,
// so a 5-byte exception may be cut to 4 bytes and its last byte left on
// the line), never drains after a timeout, and is not locked against its
// own idle timer. Framing and checksums stay goburrow's (its RTU packager).
type rtuTransporter struct {
	ln      line
	quiet   time.Duration // silence that ends a drain
	gap     time.Duration // inter-frame gap (3.5 characters)
	timeout time.Duration
	dirty   bool // drain before the next request
	lastIO  time.Time
	buf     [256]byte
}

// drain discards input until the line has been quiet for t.quiet, for at
// most one timeout.
func (t *rtuTransporter) drain() error {
	end := time.Now().Add(t.timeout)
	var scratch [256]byte
	for time.Now().Before(end) {
		_ = t.ln.SetReadDeadline(time.Now().Add(t.quiet))
		n, err := t.ln.Read(scratch[:])
		if n > 0 {
			continue
		}
		if err == nil || isTimeout(err) {
			t.dirty = false
			return nil
		}
		return err
	}
	return fmt.Errorf("rtu line never fell silent within %v: %w", t.timeout, os.ErrDeadlineExceeded)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// Send writes one request frame and reads exactly one answer frame, sized
// from its function code and byte count.
func (t *rtuTransporter) Send(req []byte) ([]byte, error) {
	if t.dirty {
		if err := t.drain(); err != nil {
			return nil, err
		}
	}
	if wait := time.Until(t.lastIO.Add(t.gap)); wait > 0 {
		time.Sleep(wait)
	}
	resp, err := t.exchange(req)
	t.lastIO = time.Now()
	if err != nil {
		t.dirty = true
	}
	return resp, err
}

func (t *rtuTransporter) exchange(req []byte) ([]byte, error) {
	if len(req) < 2 {
		return nil, &FrameError{Detail: "request frame too short"}
	}
	deadline := time.Now().Add(t.timeout)
	_ = t.ln.SetWriteDeadline(deadline)
	if _, err := t.ln.Write(req); err != nil {
		return nil, err
	}
	_ = t.ln.SetReadDeadline(deadline)
	b := t.buf[:]
	if _, err := io.ReadFull(t.ln, b[:3]); err != nil {
		return nil, err
	}
	var n int
	switch fc := b[1]; {
	case fc == req[1]|0x80:
		n = 5 // unit, function, exception code, CRC
	case fc == req[1] && fc >= fcReadCoils && fc <= fcReadInput:
		n = 3 + int(b[2]) + 2
		if n > len(b) {
			return nil, &FrameError{Detail: fmt.Sprintf("rtu byte count %d too large", b[2])}
		}
	default:
		return nil, &FrameError{Detail: fmt.Sprintf("rtu answer has function code %d to a request with %d", fc, req[1])}
	}
	if _, err := io.ReadFull(t.ln, b[3:n]); err != nil {
		return nil, err
	}
	return b[:n], nil
}

// newRTUConn wraps a line in goburrow's RTU packager and our transporter.
func newRTUConn(ln line, quiet, gap, timeout time.Duration) *clientConn {
	pk := gb.NewRTUClientHandler("")
	t := &rtuTransporter{ln: ln, quiet: quiet, gap: gap, timeout: timeout, dirty: true}
	return &clientConn{
		client:     gb.NewClient2(checkedPackager{Packager: pk, rtu: true}, t),
		setUnit:    func(u byte) { pk.SlaveId = u },
		setTimeout: func(d time.Duration) { t.timeout = d },
		closer:     func() { _ = ln.Close() },
	}
}

// serialLine adapts a goburrow/serial port (which waits a fixed time per
// Read) to deadlines.
type serialLine struct {
	port     serial.Port
	deadline time.Time
}

// Read waits for input until the deadline.
func (s *serialLine) Read(b []byte) (int, error) {
	for {
		n, err := s.port.Read(b)
		if errors.Is(err, serial.ErrTimeout) {
			if !s.deadline.IsZero() && time.Now().After(s.deadline) {
				return 0, os.ErrDeadlineExceeded
			}
			continue
		}
		return n, err
	}
}

func (s *serialLine) Write(b []byte) (int, error)        { return s.port.Write(b) }
func (s *serialLine) Close() error                       { return s.port.Close() }
func (s *serialLine) SetReadDeadline(t time.Time) error  { s.deadline = t; return nil }
func (s *serialLine) SetWriteDeadline(t time.Time) error { return nil }
func (s *serialLine) SetDeadline(t time.Time) error      { s.deadline = t; return nil }

// openSerial opens an RTU serial line with goburrow/serial.
func openSerial(r *config.RTU, timeout time.Duration) (conn, error) {
	cfg := serial.Config{
		Address:  r.Device,
		BaudRate: orDefault(r.Baud, 19200),
		DataBits: orDefault(r.DataBits, 8),
		StopBits: orDefault(r.StopBits, 1),
		Parity:   r.Parity,
		Timeout:  serialPollStep,
	}
	if cfg.Parity == "" {
		cfg.Parity = "E"
	}
	port, err := serial.Open(&cfg)
	if err != nil {
		return nil, fmt.Errorf("open serial port %s: %w", r.Device, err)
	}
	gap := max(charTime(cfg.BaudRate)*7/2, 1750*time.Microsecond)
	return newRTUConn(&serialLine{port: port}, serialQuiet(cfg.BaudRate), gap, timeout), nil
}

// charTime is the time of one 11-bit RTU character at a baud rate.
func charTime(baud int) time.Duration {
	return time.Duration(11 * int64(time.Second) / int64(baud))
}

// serialQuiet is the silence that ends a drain on a serial line: 3.5
// characters, but at least the granularity of our reads.
func serialQuiet(baud int) time.Duration {
	q := charTime(baud) * 7 / 2
	if baud > 19200 {
		q = 1750 * time.Microsecond
	}
	return max(q, 4*serialPollStep)
}

func orDefault(v, d int) int {
	if v > 0 {
		return v
	}
	return d
}
