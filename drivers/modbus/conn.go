package modbus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	gb "github.com/goburrow/modbus"

	"github.com/icugate/icugate/config"
)

// conn is one open connection to an endpoint, used by one poll at a time.
// Every answer it returns has been validated against its request.
type conn interface {
	// read sends one read request to a unit and returns the answer's data
	// bytes (registers big-endian, or packed bits), valid until the next
	// call.
	read(unit byte, r Request, timeout time.Duration) ([]byte, error)
	close()
}

// dial opens a connection for a device's transport, resolving host names
// with the default resolver.
func dial(ctx context.Context, m *config.ModbusDevice, timeout time.Duration) (conn, error) {
	return dialWith(ctx, nil, m, timeout)
}

// dialWith is dial with a resolver of its own (nil: the default). It runs
// on the goroutine of the connection it opens.
func dialWith(ctx context.Context, r *net.Resolver, m *config.ModbusDevice, timeout time.Duration) (conn, error) {
	switch {
	case m.RTU != nil:
		return openSerial(m.RTU, timeout)
	case m.RTUOverTCP != "":
		nc, err := dialNet(ctx, r, m.RTUOverTCP, timeout)
		if err != nil {
			return nil, err
		}
		return newRTUConn(netLine{nc}, rtuOverTCPQuiet, 0, timeout), nil
	default:
		nc, err := dialNet(ctx, r, m.Address, timeout)
		if err != nil {
			return nil, err
		}
		return newTCPConn(netLine{nc}, m.Address, timeout), nil
	}
}

func dialNet(ctx context.Context, r *net.Resolver, addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout, Resolver: r}
	return d.DialContext(ctx, "tcp", addr)
}

// checkedPackager wraps a goburrow packager so that every answer that does
// not fit its request becomes a typed FrameError (goburrow returns plain
// strings), which decides whether the connection is kept.
type checkedPackager struct {
	gb.Packager
	rtu bool
}

// Verify checks the answer against the request (goburrow: transaction,
// protocol and unit id; RTU: unit id and minimum length).
func (p checkedPackager) Verify(req, resp []byte) error {
	if err := p.Packager.Verify(req, resp); err != nil {
		return &FrameError{Detail: err.Error()}
	}
	return nil
}

// Decode extracts the PDU (goburrow: MBAP length check, RTU CRC check).
func (p checkedPackager) Decode(adu []byte) (*gb.ProtocolDataUnit, error) {
	pdu, err := p.Packager.Decode(adu)
	if err != nil {
		// goburrow's RTU Decode fails only on the CRC; TCP only on length.
		return nil, &FrameError{CRC: p.rtu, Detail: err.Error()}
	}
	return pdu, nil
}

// clientConn runs reads through a goburrow client and validates what
// goburrow does not: the function code of exception answers and the byte
// count against the requested quantity.
type clientConn struct {
	client gb.Client
	// setUnit and setTimeout address the handler for the next request;
	// the conn is used by one poll at a time, so this is race-free.
	setUnit    func(byte)
	setTimeout func(time.Duration)
	closer     func()
	buf        [256]byte
}

func (c *clientConn) read(unit byte, r Request, timeout time.Duration) ([]byte, error) {
	c.setUnit(unit)
	c.setTimeout(timeout)
	var data []byte
	var err error
	switch r.Function {
	case fcReadCoils:
		data, err = c.client.ReadCoils(r.Address, r.Quantity)
	case fcReadDiscreteInputs:
		data, err = c.client.ReadDiscreteInputs(r.Address, r.Quantity)
	case fcReadHolding:
		data, err = c.client.ReadHoldingRegisters(r.Address, r.Quantity)
	case fcReadInput:
		data, err = c.client.ReadInputRegisters(r.Address, r.Quantity)
	default:
		// Never reached: the planner builds only functions 1-4. Kept so
		// that no other function code can ever be sent.
		return nil, fmt.Errorf("refusing to send function code %d: the driver is read-only", r.Function)
	}
	if err != nil {
		return nil, classify(err, r)
	}
	if err := r.checkDataBytes(data); err != nil {
		return nil, err
	}
	return append(c.buf[:0], data...), nil
}

func (c *clientConn) close() { c.closer() }

// classify turns goburrow's errors into typed ones where goburrow's are
// strings, and rejects "exceptions" that are not exception answers.
func classify(err error, r Request) error {
	var me *gb.ModbusError
	if errors.As(err, &me) {
		if me.FunctionCode != r.Function|0x80 {
			return &FrameError{Detail: fmt.Sprintf("answer has function code %d to a request with %d", me.FunctionCode, r.Function)}
		}
		return err
	}
	var fe *FrameError
	if !errors.As(err, &fe) && strings.HasPrefix(err.Error(), "modbus:") {
		return &FrameError{Detail: err.Error()}
	}
	return err
}

// newTCPConn is a Modbus TCP connection: goburrow's TCP packager (MBAP
// header, transaction id, and its checks of transaction, protocol and
// unit id) over our transporter. goburrow's own TCP transporter is not
// used: it keeps the connection after errors, ignores the context when
// dialling, runs an idle timer goroutine, and reads every answer in two
// reads (a system call more per poll).
func newTCPConn(ln line, addr string, timeout time.Duration) *clientConn {
	h := gb.NewTCPClientHandler(addr)
	t := &tcpTransporter{ln: ln, timeout: timeout}
	c := &clientConn{
		setUnit:    func(u byte) { h.SlaveId = u },
		setTimeout: func(d time.Duration) { t.timeout = d },
		closer:     func() { _ = ln.Close() },
	}
	c.client = gb.NewClient2(checkedPackager{Packager: h}, t)
	return c
}

// MBAP framing limits.
const (
	mbapHeader = 7
	mbapMax    = 260
)

// tcpTransporter sends one MBAP frame and reads exactly one answer frame,
// usually in a single read.
type tcpTransporter struct {
	ln       line
	timeout  time.Duration
	deadline time.Time // armed on ln
	buf      [mbapMax]byte
}

// deadlineSlack is how much later than its timeout a request may time
// out, so that back-to-back requests share one armed deadline: 1/64 of
// the timeout (16 ms of 1 s).
func deadlineSlack(timeout time.Duration) time.Duration { return timeout / 64 }

// Send implements goburrow's Transporter.
func (t *tcpTransporter) Send(req []byte) ([]byte, error) {
	// One call for both directions: the runtime then arms one timer, not
	// two. The deadline is armed timeout+slack ahead and kept while it
	// lies between timeout and timeout+slack from now, so that the few
	// requests of a burst on this connection re-arm it once, not once
	// each; a request never gets less than its timeout, nor more than
	// its timeout plus slack.
	now := time.Now()
	if left := t.deadline.Sub(now); left < t.timeout || left > t.timeout+deadlineSlack(t.timeout) {
		t.deadline = now.Add(t.timeout + deadlineSlack(t.timeout))
		_ = t.ln.SetDeadline(t.deadline)
	}
	if _, err := t.ln.Write(req); err != nil {
		return nil, err
	}
	return t.readAnswer(0, mbapHeader)
}

// readAnswer reads the rest of an answer of which n bytes have arrived
// and want are known to be needed.
func (t *tcpTransporter) readAnswer(n, want int) ([]byte, error) {
	for n < want {
		k, err := t.ln.Read(t.buf[n:])
		n += k
		var done bool
		var ferr error
		if want, done, ferr = t.framed(n, want); ferr != nil {
			return nil, ferr
		} else if done {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return t.answer(n, want)
}

// framed updates how many bytes the answer needs once n have arrived,
// and reports whether they have.
func (t *tcpTransporter) framed(n, want int) (int, bool, error) {
	if n >= mbapHeader && want == mbapHeader {
		w, _, err := framedMBAP(t.buf[:n])
		if err != nil {
			return want, false, err
		}
		want = w
	}
	return want, n >= want, nil
}

// framedMBAP returns how many bytes the MBAP frame starting b needs (the
// header's 7 until the header is in), and whether b holds them.
func framedMBAP(b []byte) (int, bool, error) {
	if len(b) < mbapHeader {
		return mbapHeader, false, nil
	}
	// Length counts the unit id and the PDU.
	l := int(binary.BigEndian.Uint16(b[4:]))
	if l < 2 || 6+l > mbapMax {
		return 0, false, &FrameError{Detail: fmt.Sprintf("MBAP length %d outside 2..%d", l, mbapMax-6)}
	}
	return 6 + l, len(b) >= 6+l, nil
}

// answer returns the complete answer of n bytes, refusing more than want.
func (t *tcpTransporter) answer(n, want int) ([]byte, error) {
	if n > want {
		// More than one frame: something answered twice or late.
		return nil, &FrameError{Detail: fmt.Sprintf("%d bytes after the answer", n-want)}
	}
	return t.buf[:n], nil
}
