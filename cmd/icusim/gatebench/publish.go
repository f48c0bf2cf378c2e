//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/simulator/mqttsim"
)

// publisher publishes the status messages of a site's MQTT devices at
// QoS 1 over one connection, speaking MQTT directly (packets encoded by
// paho's packets package, writes batched, PUBACKs read by a second
// goroutine), as drivers/mqtt's throughput benchmark does: a paho client
// costs more CPU than the broker, and the publisher shares the machine
// with the gateway being measured.
type publisher struct {
	conn  net.Conn
	w     *bufio.Writer
	mu    sync.Mutex // w
	devs  []pubDevice
	id    uint16
	sent  atomic.Int64
	acked atomic.Int64
	// credit bounds the publishes not yet acknowledged.
	credit chan struct{}
	failed chan error
}

type pubDevice struct {
	cfg   *config.Device
	prof  *config.Profile
	topic string
}

const pubWindow = 1000

func newPublisher(sitePath string) (*publisher, error) {
	site, err := config.Load(sitePath)
	if err != nil {
		return nil, err
	}
	if site.MQTT == nil {
		return nil, errors.New("the site has no mqtt block")
	}
	p := &publisher{credit: make(chan struct{}, pubWindow), failed: make(chan error, 1)}
	for i := range site.Devices {
		d := &site.Devices[i]
		if d.MQTT == nil {
			continue
		}
		prof := site.Profiles[d.Profile]
		topic := d.MQTT.Topic
		if topic == "" {
			topic = strings.ReplaceAll(prof.Topic, "{id}", d.ID)
		}
		p.devs = append(p.devs, pubDevice{cfg: d, prof: prof, topic: topic})
	}
	if len(p.devs) == 0 {
		return nil, errors.New("the site has no MQTT devices")
	}
	u, err := url.Parse(site.MQTT.Broker)
	if err != nil {
		return nil, err
	}
	if p.conn, err = net.Dial("tcp", u.Host); err != nil {
		return nil, err
	}
	p.w = bufio.NewWriterSize(p.conn, 64<<10)
	r := bufio.NewReaderSize(p.conn, 64<<10)
	c := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	c.ProtocolName, c.ProtocolVersion = "MQTT", 4
	c.CleanSession, c.Keepalive = true, 0
	c.ClientIdentifier = fmt.Sprintf("gatebench-pub-%d", os.Getpid())
	if err := c.Write(p.w); err != nil || p.w.Flush() != nil {
		p.conn.Close()
		return nil, fmt.Errorf("connect: %v", err)
	}
	if cp, err := packets.ReadPacket(r); err != nil {
		p.conn.Close()
		return nil, fmt.Errorf("connack: %w", err)
	} else if ca, ok := cp.(*packets.ConnackPacket); !ok || ca.ReturnCode != 0 {
		p.conn.Close()
		return nil, fmt.Errorf("connection refused: %v", cp)
	}
	for range pubWindow {
		p.credit <- struct{}{}
	}
	go p.readAcks(r)
	return p, nil
}

func (p *publisher) readAcks(r *bufio.Reader) {
	for {
		cp, err := packets.ReadPacket(r)
		if err != nil {
			p.failed <- err
			return
		}
		if _, ok := cp.(*packets.PubackPacket); ok {
			p.acked.Add(1)
			p.credit <- struct{}{}
		}
	}
}

// publish queues one status message of device i (flush sends it).
func (p *publisher) publish(i int) error {
	select {
	case <-p.credit:
	default:
		if err := p.flush(); err != nil { // let the broker see what waits
			return err
		}
		select {
		case <-p.credit:
		case err := <-p.failed:
			return err
		case <-time.After(30 * time.Second):
			return errors.New("no PUBACK for 30s")
		}
	}
	d := &p.devs[i]
	payload, err := mqttsim.Payload(d.prof, d.cfg, mqttsim.StateStandby, time.Now())
	if err != nil {
		return err
	}
	pk := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	p.id = p.id%65535 + 1
	pk.TopicName, pk.Qos, pk.MessageID, pk.Payload = d.topic, 1, p.id, payload
	p.mu.Lock()
	err = pk.Write(p.w)
	p.mu.Unlock()
	p.sent.Add(1)
	return err
}

func (p *publisher) flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.w.Flush()
}

// pace publishes every device once per interval, device i in slot i of
// the interval's pubSlots, until stop closes.
func (p *publisher) pace(interval time.Duration, stop <-chan struct{}) error {
	const pubSlots = 100
	slot := interval / pubSlots
	start := time.Now()
	for k := 0; ; k++ {
		if w := time.Until(start.Add(time.Duration(k) * slot)); w > 0 {
			select {
			case <-time.After(w):
			case <-stop:
				return nil
			case err := <-p.failed:
				return err
			}
		}
		for i := k % pubSlots; i < len(p.devs); i += pubSlots {
			if err := p.publish(i); err != nil {
				return err
			}
		}
		if err := p.flush(); err != nil {
			return err
		}
	}
}

// pubReport is what the publisher child reports.
type pubReport struct {
	Sent  int64 `json:"sent"`
	Acked int64 `json:"acked"`
}

// runPublisher is the publisher child. With bulk > 0 it publishes bulk
// messages round-robin over the devices as fast as the broker takes them,
// waits for every PUBACK and exits; otherwise each device publishes once
// per its MQTT interval until standard input closes, and "stats" prints a
// pubReport.
func runPublisher(sitePath string, bulk int) int {
	p, err := newPublisher(sitePath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gatebench publisher:", err)
		return 1
	}
	defer p.conn.Close()
	if bulk > 0 {
		for i := range bulk {
			if err := p.publish(i % len(p.devs)); err != nil {
				fmt.Fprintln(os.Stderr, "gatebench publisher:", err)
				return 1
			}
		}
		if err := p.flush(); err != nil {
			fmt.Fprintln(os.Stderr, "gatebench publisher:", err)
			return 1
		}
		deadline := time.Now().Add(2 * time.Minute)
		for p.acked.Load() < int64(bulk) {
			if time.Now().After(deadline) {
				fmt.Fprintf(os.Stderr, "gatebench publisher: %d of %d publishes acknowledged\n", p.acked.Load(), bulk)
				return 1
			}
			time.Sleep(10 * time.Millisecond)
		}
		_ = packets.NewControlPacket(packets.Disconnect).Write(p.conn)
		fmt.Printf("published %d\n", bulk)
		return 0
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- p.pace(p.devs[0].cfg.MQTT.Interval, stop) }()
	fmt.Println("ready")
	lines := make(chan string)
	go func() {
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			lines <- in.Text()
		}
		close(lines)
	}()
	enc := json.NewEncoder(os.Stdout)
	for {
		select {
		case err := <-done:
			fmt.Fprintln(os.Stderr, "gatebench publisher:", err)
			return 1
		case line, ok := <-lines:
			if !ok {
				close(stop)
				<-done
				_ = packets.NewControlPacket(packets.Disconnect).Write(p.conn)
				return 0
			}
			if line == "stats" {
				_ = enc.Encode(pubReport{Sent: p.sent.Load(), Acked: p.acked.Load()})
			} else {
				fmt.Println("unknown command")
			}
		}
	}
}
