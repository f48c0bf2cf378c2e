package main

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeHealth struct {
	mu       sync.Mutex
	ready    bool
	degraded []string
}

func (f *fakeHealth) Ready() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.ready {
		return errors.New("starting")
	}
	return nil
}

func (f *fakeHealth) Degraded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.degraded
}

// TestNotifySystemd: systemd hears READY=1 once the gateway is ready, with
// a status line that carries the /readyz reasons, and STOPPING=1 at the
// end.
func TestNotifySystemd(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	gw := &fakeHealth{degraded: []string{"reports: regional reports are configured but off: key mode 0644"}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); notifySystemd(ctx, gw) }()

	read := func() string {
		t.Helper()
		buf := make([]byte, 4096)
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no message from notifySystemd: %v", err)
		}
		return string(buf[:n])
	}
	time.Sleep(1500 * time.Millisecond) // not ready: nothing is sent
	gw.mu.Lock()
	gw.ready = true
	gw.mu.Unlock()
	msg := read()
	if !strings.HasPrefix(msg, "READY=1\n") || !strings.Contains(msg, "STATUS=degraded: reports: regional reports are configured but off") {
		t.Errorf("first message %q", msg)
	}
	cancel()
	<-done
	if msg := read(); msg != "STOPPING=1" {
		t.Errorf("last message %q", msg)
	}
}
