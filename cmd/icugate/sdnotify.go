package main

import (
	"context"
	"net"
	"os"
	"strings"
	"time"
)

// statusEvery is how often systemd is told the gateway's health.
const statusEvery = 10 * time.Second

// gatewayHealth is what notifySystemd needs of the gateway.
type gatewayHealth interface {
	Ready() error
	Degraded() []string
}

// notifySystemd tells systemd (Type=notify units; $NOTIFY_SOCKET set) when
// the gateway is ready, and keeps the unit's status line to the truth:
// "ready" or "degraded: …" with the same reasons /readyz gives, so that
// `systemctl status icugate` shows a gateway that runs but does not work.
// Without $NOTIFY_SOCKET it does nothing. It returns when ctx ends.
func notifySystemd(ctx context.Context, gw gatewayHealth) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return
	}
	if strings.HasPrefix(addr, "@") { // abstract socket
		addr = "\x00" + addr[1:]
	}
	send := func(msg string) {
		c, err := net.Dial("unixgram", addr)
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte(msg))
	}
	ready, last := false, ""
	tick := time.NewTicker(time.Second) // fast until ready, then statusEvery
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			send("STOPPING=1")
			return
		case <-tick.C:
		}
		if gw.Ready() != nil {
			continue
		}
		status := "ready"
		if r := gw.Degraded(); len(r) > 0 {
			status = "degraded: " + strings.Join(r, "; ")
		}
		msg := "STATUS=" + strings.ReplaceAll(status, "\n", " ")
		if !ready {
			ready = true
			msg = "READY=1\n" + msg
			tick.Reset(statusEvery)
		}
		if msg != last {
			send(msg)
			last = msg
		}
	}
}
