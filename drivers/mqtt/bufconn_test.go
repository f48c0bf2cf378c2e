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
