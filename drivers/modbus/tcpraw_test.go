package modbus

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// rawServer answers each read-holding request with reply(req), written
// in the pieces it returns, pausing between pieces. It stops with the test.
func rawServer(t *testing.T, reply func(req []byte) [][]byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		go func() { <-t.Context().Done(); c.Close() }()
		req := make([]byte, 12)
		for {
			if _, err := io.ReadFull(c, req); err != nil {
				return
			}
			for _, p := range reply(req) {
				time.Sleep(5 * time.Millisecond)
				if _, err := c.Write(p); err != nil {
					return
				}
			}
		}
	}()
	return ln.Addr().String()
}

// answerTo builds the answer to a read-holding request: registers 0..qty-1
// holding their own address plus 100.
func answerTo(req []byte) []byte {
	qty := int(binary.BigEndian.Uint16(req[10:]))
	a := append([]byte(nil), req[:4]...)
	a = binary.BigEndian.AppendUint16(a, uint16(3+2*qty))
	a = append(a, req[6], req[7], byte(2*qty))
	for i := range qty {
		a = binary.BigEndian.AppendUint16(a, uint16(100+i))
	}
	return a
}

func TestRawTCPAnswerInPieces(t *testing.T) {
	addr := rawServer(t, func(req []byte) [][]byte {
		a := answerTo(req)
		return [][]byte{a[:3], a[3:9], a[9:]}
	})
	c, err := dialTCP(context.Background(), addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	for range 3 {
		data, err := c.read(1, Request{Function: fcReadHolding, Address: 0, Quantity: 4}, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			if got := binary.BigEndian.Uint16(data[2*i:]); got != uint16(100+i) {
				t.Fatalf("register %d = %d, want %d", i, got, 100+i)
			}
		}
	}
}

func TestRawTCPExtraBytesIsFrameError(t *testing.T) {
	addr := rawServer(t, func(req []byte) [][]byte {
		return [][]byte{append(answerTo(req), 0, 0)}
	})
	c, err := dialTCP(context.Background(), addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	_, err = c.read(1, Request{Function: fcReadHolding, Address: 0, Quantity: 2}, time.Second)
	if Reason(err) != ReasonFrame {
		t.Fatalf("reason %q (%v), want %q", Reason(err), err, ReasonFrame)
	}
}

func TestRawTCPNoAnswerTimesOut(t *testing.T) {
	addr := rawServer(t, func([]byte) [][]byte { return nil })
	c, err := dialTCP(context.Background(), addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	_, err = c.read(1, Request{Function: fcReadHolding, Address: 0, Quantity: 2}, 50*time.Millisecond)
	if Reason(err) != ReasonTimeout {
		t.Fatalf("reason %q (%v), want %q", Reason(err), err, ReasonTimeout)
	}
}

func TestRawTCPShortAnswerTimesOut(t *testing.T) {
	addr := rawServer(t, func([]byte) [][]byte { return [][]byte{{0, 1}} })
	c, err := dialTCP(context.Background(), addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	_, err = c.read(1, Request{Function: fcReadHolding, Address: 0, Quantity: 2}, 100*time.Millisecond)
	if Reason(err) != ReasonTimeout {
		t.Fatalf("reason %q (%v), want %q", Reason(err), err, ReasonTimeout)
	}
}

func TestRawTCPServerCloseIsReset(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		s, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = io.ReadFull(s, make([]byte, 12))
		s.Close()
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	tr := &tcpTransporter{ln: netLine{nc}, timeout: time.Second}
	tr.useRaw()
	defer nc.Close()
	if tr.rc == nil {
		t.Fatal("a TCP socket should take the raw path")
	}
	_, err = tr.Send([]byte{0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2})
	if Reason(err) != ReasonReset {
		t.Fatalf("reason %q (%v), want %q", Reason(err), err, ReasonReset)
	}
}
