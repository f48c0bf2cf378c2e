//go:build linux

package main

import (
	"bufio"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// fakeBroker is the broker side of one publisher connection: it answers
// CONNECT with connack, then records every PUBLISH and acknowledges it
// when ack is set, or closes the connection at once when hangUp is set.
type fakeBroker struct {
	ln      net.Listener
	connack byte
	ack     bool
	hangUp  bool

	mu     sync.Mutex
	topics []string
	ids    []uint16
}

func startFakeBroker(t *testing.T, b *fakeBroker) *fakeBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.ln = ln
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		if _, err := packets.ReadPacket(r); err != nil {
			return
		}
		ca := packets.NewControlPacket(packets.Connack).(*packets.ConnackPacket)
		ca.ReturnCode = b.connack
		if ca.Write(c) != nil || b.connack != 0 || b.hangUp {
			return
		}
		w := bufio.NewWriter(c)
		for {
			cp, err := packets.ReadPacket(r)
			if err != nil {
				return
			}
			pp, ok := cp.(*packets.PublishPacket)
			if !ok {
				continue
			}
			b.mu.Lock()
			b.topics = append(b.topics, pp.TopicName)
			b.ids = append(b.ids, pp.MessageID)
			b.mu.Unlock()
			if b.ack {
				pa := packets.NewControlPacket(packets.Puback).(*packets.PubackPacket)
				pa.MessageID = pp.MessageID
				if pa.Write(w) != nil {
					return
				}
				if r.Buffered() == 0 && w.Flush() != nil {
					return
				}
			}
		}
	}()
	return b
}

func (b *fakeBroker) url() string { return "tcp://" + b.ln.Addr().String() }

func (b *fakeBroker) received() ([]string, []uint16) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.topics), slices.Clone(b.ids)
}

// mqttSite writes an MQTT site of n devices publishing every interval to
// broker and returns its path.
func mqttSite(t *testing.T, n int, interval time.Duration, broker string) string {
	t.Helper()
	path, err := writeSite(t.TempDir(), siteSpec{Devices: n, Interval: interval, MQTT: broker, HTTPListen: "127.0.0.1:1"}, repo)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// waitFor polls cond every 5 ms until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("after 10s: %s", what)
		case <-tick.C:
		}
	}
}

// TestPaceOrdersDevicesBySlot: device i publishes in slot i%100 of the
// interval, so the first round goes 0, 100, 1, 101, ... 49, 149, 50 ...
// 99, and every device publishes once per interval.
func TestPaceOrdersDevicesBySlot(t *testing.T) {
	t.Parallel()
	b := startFakeBroker(t, &fakeBroker{ack: true})
	p, err := newPublisher(mqttSite(t, 150, 200*time.Millisecond, b.url()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.conn.Close()
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- p.pace(200*time.Millisecond, stop) }()
	waitFor(t, "two rounds of 150 devices published", func() bool { tp, _ := b.received(); return len(tp) >= 300 })
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("pace: %v", err)
	}
	topics, _ := b.received()
	var want []string
	for i := range 100 {
		want = append(want, "devices/"+deviceID(true, i)+"/status")
		if i < 50 {
			want = append(want, "devices/"+deviceID(true, 100+i)+"/status")
		}
	}
	if !slices.Equal(topics[:150], want) {
		t.Errorf("first round in order\n%v\nwant\n%v", topics[:150], want)
	}
	if !slices.Equal(topics[150:300], want) {
		t.Errorf("second round differs from the first:\n%v", topics[150:300])
	}
	waitFor(t, "every publish acknowledged", func() bool { return p.acked.Load() == p.sent.Load() })
	if int(p.sent.Load()) < len(topics) {
		t.Errorf("sent %d, broker received %d", p.sent.Load(), len(topics))
	}
}

// TestPublishBeyondTheWindowWaitsForAcks: more publishes than pubWindow
// go through as the broker acknowledges them, and message ids wrap from
// 65535 to 1, never 0 (an invalid id in MQTT).
func TestPublishBeyondTheWindowWaitsForAcks(t *testing.T) {
	t.Parallel()
	b := startFakeBroker(t, &fakeBroker{ack: true})
	p, err := newPublisher(mqttSite(t, 3, time.Second, b.url()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.conn.Close()
	p.id = 65535 - pubWindow
	n := pubWindow + 200
	for i := range n {
		if err := p.publish(i % 3); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	if err := p.flush(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every publish acknowledged", func() bool { return p.acked.Load() == int64(n) })
	_, ids := b.received()
	if len(ids) != n || p.sent.Load() != int64(n) {
		t.Fatalf("broker received %d, publisher sent %d; want %d", len(ids), p.sent.Load(), n)
	}
	if ids[0] != 65535-pubWindow+1 || ids[pubWindow-1] != 65535 || ids[pubWindow] != 1 || slices.Contains(ids, 0) {
		t.Errorf("ids around the wrap: first %d, %d then %d; want 65535 followed by 1", ids[0], ids[pubWindow-1], ids[pubWindow])
	}
}

// TestPublisherFailsWhenTheBrokerGoes: a broker that hangs up ends pace
// with an error, and a publish waiting for credit returns it.
func TestPublisherFailsWhenTheBrokerGoes(t *testing.T) {
	t.Parallel()
	b := startFakeBroker(t, &fakeBroker{hangUp: true})
	p, err := newPublisher(mqttSite(t, 2, time.Second, b.url()))
	if err != nil {
		t.Fatal(err)
	}
	defer p.conn.Close()
	if err := p.pace(time.Hour, make(chan struct{})); err == nil {
		t.Error("pace went on after the broker hung up")
	}
	// readAcks has reported its error to pace; report another for publish.
	p.failed <- net.ErrClosed
	for len(p.credit) > 0 {
		<-p.credit
	}
	if err := p.publish(0); err == nil {
		t.Error("publish without credit and with the broker gone returned no error")
	}
}

// TestNewPublisherConnectFailures: a refused CONNECT and a broker that
// is not there are errors that say so.
func TestNewPublisherConnectFailures(t *testing.T) {
	t.Parallel()
	b := startFakeBroker(t, &fakeBroker{connack: packets.ErrRefusedNotAuthorised})
	if _, err := newPublisher(mqttSite(t, 1, time.Second, b.url())); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("refused CONNECT: %v", err)
	}
	free, err := reservePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newPublisher(mqttSite(t, 1, time.Second, "tcp://"+free[0])); err == nil {
		t.Error("no broker: no error")
	}
}
