package mqtt

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"
)

// TestBufferedConnKeepsOrderAndFlushesOnClose checks that batching never
// reorders or loses bytes, including those written just before Close
// (paho's DISCONNECT).
func TestBufferedConnKeepsOrderAndFlushesOnClose(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- nil
			return
		}
		b, _ := io.ReadAll(c)
		c.Close()
		got <- b
	}()
	raw, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := newBufferedConn(raw)
	var want bytes.Buffer
	for i := range 2000 {
		p := fmt.Appendf(nil, "packet %d;", i)
		want.Write(p)
		if n, err := c.Write(p); err != nil || n != len(p) {
			t.Fatalf("write %d: %d, %v", i, n, err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("late")); err == nil {
		t.Fatal("write after Close accepted")
	}
	if b := <-got; !bytes.Equal(b, want.Bytes()) {
		t.Fatalf("peer got %d bytes, want %d in order", len(b), want.Len())
	}
}

// TestBufferedConnReadsEveryByteInOrder checks the lingering reader: bytes
// arriving in small pieces and in bursts are all read, in order.
func TestBufferedConnReadsEveryByteInOrder(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var want bytes.Buffer
	for i := range 5000 {
		fmt.Fprintf(&want, "packet %d;", i)
	}
	sent := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			sent <- err
			return
		}
		defer c.Close()
		b := want.Bytes()
		for i := 0; len(b) > 0; i++ {
			n := min(len(b), 1+i%700) // from one byte to bursts
			if _, err := c.Write(b[:n]); err != nil {
				sent <- err
				return
			}
			b = b[n:]
		}
		sent <- nil
	}()
	raw, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := newBufferedConn(raw)
	defer c.Close()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("read %d bytes, want %d in order", len(got), want.Len())
	}
}

// TestBufferedConnAcksNeverWait checks that writeNoWait (the acker's
// PUBACKs) queues beyond maxPendingWrite instead of waiting, and fails once
// the connection is closed.
func TestBufferedConnAcksNeverWait(t *testing.T) {
	a, b := net.Pipe() // nobody reads b: the flusher's write blocks
	defer b.Close()
	c := newBufferedConn(a)
	ack := []byte{pubackType, 2, 0, 1}
	for range maxPendingWrite/len(ack) + 1000 {
		if err := c.writeNoWait(ack); err != nil {
			t.Fatalf("writeNoWait: %v", err)
		}
	}
	b.Close() // the flusher's write fails, Close returns
	c.Close()
	if err := c.writeNoWait(ack); err == nil {
		t.Fatal("writeNoWait after Close accepted")
	}
}
