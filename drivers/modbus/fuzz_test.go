package modbus

import (
	"bytes"
	"net"
	"testing"
	"time"
)

// fakeLine answers every write with fixed bytes: it feeds fuzzed answers
// to the frame readers.
type fakeLine struct {
	answer *bytes.Reader
	// quietFirst makes the first read time out, so that the drain of a
	// fresh RTU line ends before the answer is served.
	quietFirst bool
}

func (f *fakeLine) Read(b []byte) (int, error) {
	if f.quietFirst || f.answer.Len() == 0 {
		f.quietFirst = false
		return 0, &net.OpError{Op: "read", Err: timeoutErr{}}
	}
	return f.answer.Read(b)
}
func (f *fakeLine) Write(b []byte) (int, error)      { return len(b), nil }
func (f *fakeLine) Close() error                     { return nil }
func (f *fakeLine) SetReadDeadline(time.Time) error  { return nil }
func (f *fakeLine) SetWriteDeadline(time.Time) error { return nil }
func (f *fakeLine) SetDeadline(time.Time) error      { return nil }

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// FuzzRTUAnswer feeds arbitrary bytes as the answer to an RTU read: the
// reader must never panic, and what it accepts must have exactly the
// requested size.
func FuzzRTUAnswer(f *testing.F) {
	f.Add([]byte{1, 3, 4, 0, 1, 0, 2, 0x2a, 0x32}, uint16(2))
	f.Add([]byte{1, 0x83, 2, 0xc0, 0xf1}, uint16(2))
	f.Add([]byte{1, 3, 255}, uint16(125))
	f.Fuzz(func(t *testing.T, answer []byte, qty uint16) {
		c := newRTUConn(&fakeLine{answer: bytes.NewReader(answer), quietFirst: true}, time.Millisecond, 0, time.Millisecond)
		checkAnswer(t, c, Request{Function: fcReadHolding, Address: 0, Quantity: qty%130 + 1})
	})
}

// FuzzTCPAnswer does the same for Modbus TCP (MBAP) answers.
func FuzzTCPAnswer(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0, 0, 7, 1, 3, 4, 0, 1, 0, 2}, uint16(2))
	f.Add([]byte{0, 1, 0, 0, 0, 3, 1, 0x83, 2}, uint16(2))
	f.Add([]byte{0, 1, 0, 0, 0xff, 0xff, 1}, uint16(2))
	f.Fuzz(func(t *testing.T, answer []byte, qty uint16) {
		c := newTCPConn(&fakeLine{answer: bytes.NewReader(answer)}, "fuzz", time.Millisecond)
		checkAnswer(t, c, Request{Function: fcReadInput, Address: 0, Quantity: qty%130 + 1})
	})
}

func checkAnswer(t *testing.T, c *clientConn, r Request) {
	data, err := c.read(1, r, time.Millisecond)
	if err != nil {
		if Reason(err) == "" {
			t.Fatalf("error without reason: %v", err)
		}
		return
	}
	if len(data) != 2*int(r.Quantity) {
		t.Fatalf("accepted %d bytes for %d registers", len(data), r.Quantity)
	}
}
