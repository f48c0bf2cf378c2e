package modbus

import (
	"io"
	"net"
	"os"
	"syscall"
)

// Raw socket path of the TCP transporter. A plain Read right after the
// request's Write nearly always finds nothing yet (the device has not
// answered), fails with EAGAIN and only then waits for readiness: two
// read system calls per request where one carries data. Inside one
// RawConn.Read the runtime clears the socket's read readiness before the
// first call of the callback, so the callback can write the request
// there and ask to wait: any answer arriving after that point marks the
// socket ready, however soon it comes, and the one read that follows
// finds it. Requests stay strictly one at a time.

// rawSend is the state of one request on the raw path.
type rawSend struct {
	req      []byte
	sent     bool // the write was attempted
	wrote    int  // bytes of req written, when not all could be
	n, want  int
	err      error
	partial  bool // the socket took only part of req: finish the plain way
	complete bool // a whole answer (or more) has arrived
}

// useRaw switches the transporter to the raw path when ln is a socket
// that offers one.
func (t *tcpTransporter) useRaw() {
	nl, ok := t.ln.(netLine)
	if !ok {
		return
	}
	sc, ok := nl.Conn.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	t.rc = rc
	t.onFD = t.step
}

// sendRaw writes req and reads its answer inside one RawConn.Read.
func (t *tcpTransporter) sendRaw(req []byte) ([]byte, error) {
	t.st = rawSend{req: req, want: mbapHeader}
	if err := t.rc.Read(t.onFD); err != nil {
		return nil, err
	}
	st := &t.st
	switch {
	case st.err != nil:
		return nil, st.err
	case st.partial:
		if _, err := t.ln.Write(req[st.wrote:]); err != nil {
			return nil, err
		}
		return t.readAnswer(0, mbapHeader)
	case st.complete:
		return t.answer(st.n, st.want)
	}
	return t.readAnswer(st.n, st.want)
}

// step is the RawConn.Read callback: its first call writes the request
// and waits; later calls read what has arrived. It returns true when the
// request is done (answered or failed).
func (t *tcpTransporter) step(fd uintptr) bool {
	st := &t.st
	if !st.sent {
		st.sent = true
		k, err := ignoringEINTR(func() (int, error) { return syscall.Write(int(fd), st.req) })
		switch {
		case err == syscall.EAGAIN || (err == nil && k < len(st.req)):
			st.wrote, st.partial = max(k, 0), true
			return true
		case err != nil:
			st.err = t.opError("write", err)
			return true
		}
		return false
	}
	k, err := ignoringEINTR(func() (int, error) { return syscall.Read(int(fd), t.buf[st.n:]) })
	switch {
	case err == syscall.EAGAIN:
		return false
	case err != nil:
		st.err = t.opError("read", err)
		return true
	case k == 0:
		st.err = io.EOF
		return true
	}
	st.n += k
	var ferr error
	st.want, st.complete, ferr = t.framed(st.n, st.want)
	if ferr != nil {
		st.err = ferr
		return true
	}
	return st.complete
}

// opError wraps a system call error as the net package does.
func (t *tcpTransporter) opError(op string, err error) error {
	nl := t.ln.(netLine)
	return &net.OpError{Op: op, Net: "tcp", Source: nl.LocalAddr(), Addr: nl.RemoteAddr(),
		Err: os.NewSyscallError(op, err)}
}

func ignoringEINTR(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if err != syscall.EINTR {
			return n, err
		}
	}
}
