package mqtt

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/icugate/icugate/internal/mosquittotest"
	"github.com/icugate/icugate/pipeline"
)

// The benchmark's publisher runs in a child process (this test binary,
// re-executed with helperEnv set), so the CPU and memory measured in the
// benchmark process are the gateway side's alone.
const helperEnv = "ICUGATE_MQTT_BENCH_PUBLISHER"

// countingIntake takes every observation at once, as a fast pipeline does,
// and counts it.
type countingIntake struct{ n atomic.Int64 }

func (c *countingIntake) Offer(_ context.Context, o pipeline.Observation) error {
	c.n.Add(1)
	if o.Ack != nil {
		o.Ack()
	}
	return nil
}

// BenchmarkThroughput publishes 200,000 QoS 1 status messages for 1,000
// devices as fast as Mosquitto takes them, and measures the gateway side:
// every message must be decoded and handed over (counted), CPU time per
// 1,000 messages (target <= 8 ms) and peak RSS (target <= 64 MB).
// Run: go test -run '^$' -bench Throughput -benchtime 1x ./drivers/mqtt/
func BenchmarkThroughput(b *testing.B) {
	const messages, devices = 200_000, 1_000
	broker := mosquittotest.Start(b, mosquittotest.Config{})
	site := testSite(b, broker.URL(), devices, 0)
	window := 10 * time.Minute // the publisher outruns the 5 s default window
	for i := range site.Devices {
		site.Devices[i].Freshness = &window
	}
	for b.Loop() {
		site.MQTT.ClientID = fmt.Sprintf("icugate-bench-%d", time.Now().UnixNano())
		in := &countingIntake{}
		var logs syncBuffer
		d, err := New(site, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx, in) }()
		// "mqtt connected" is logged once the subscriptions are acknowledged.
		waitFor(b, 5*time.Second, "driver connected and subscribed", func() bool { return strings.Contains(logs.String(), "mqtt connected") })

		runtime.GC()
		before := cpuTime()
		start := time.Now()
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"=1", "BROKER="+broker.URL(),
			"MESSAGES="+strconv.Itoa(messages), "DEVICES="+strconv.Itoa(devices))
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		waitFor(b, 5*time.Minute, "every message received", func() bool { return in.n.Load() >= messages })
		elapsed := time.Since(start)
		cpu := cpuTime() - before
		if err := cmd.Wait(); err != nil {
			b.Fatalf("publisher: %v", err)
		}
		cancel()
		<-done
		if got := in.n.Load(); got != messages {
			b.Fatalf("received %d messages, want %d", got, messages)
		}
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		b.ReportMetric(float64(cpu.Microseconds())/1000/(messages/1000), "cpu-ms/1k-msgs")
		b.ReportMetric(float64(ru.Maxrss)/1024, "maxrss-MB")
		b.ReportMetric(messages/elapsed.Seconds(), "msgs/s")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// publisherMain is the benchmark's publisher process: it publishes
// MESSAGES QoS 1 messages round-robin over DEVICES ventilators as fast as
// the broker takes them, keeping up to a window of unacknowledged
// publishes in flight. It speaks MQTT directly over the socket (packets
// encoded by paho's packets package, writes batched, PUBACKs read by a
// second goroutine): a paho client publishing one message at a time spent
// more CPU than the broker and set the pace itself, so the gateway saw a
// trickle rather than what Mosquitto can deliver.
func publisherMain() int {
	n, _ := strconv.Atoi(os.Getenv("MESSAGES"))
	devs, _ := strconv.Atoi(os.Getenv("DEVICES"))
	u, err := url.Parse(os.Getenv("BROKER"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "publisher:", err)
		return 1
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		fmt.Fprintln(os.Stderr, "publisher:", err)
		return 1
	}
	defer c.Close()
	w := bufio.NewWriterSize(c, 64<<10)
	r := bufio.NewReaderSize(c, 64<<10)
	connect := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	connect.ProtocolName, connect.ProtocolVersion = "MQTT", 4
	connect.CleanSession, connect.Keepalive = true, 60
	connect.ClientIdentifier = fmt.Sprintf("bench-pub-%d", os.Getpid())
	if err := connect.Write(w); err != nil || w.Flush() != nil {
		fmt.Fprintln(os.Stderr, "publisher: connect:", err)
		return 1
	}
	if cp, err := packets.ReadPacket(r); err != nil {
		fmt.Fprintln(os.Stderr, "publisher: connack:", err)
		return 1
	} else if ca, ok := cp.(*packets.ConnackPacket); !ok || ca.ReturnCode != 0 {
		fmt.Fprintln(os.Stderr, "publisher: connection refused:", cp)
		return 1
	}
	const window = 1000
	credit := make(chan struct{}, window)
	for range window {
		credit <- struct{}{}
	}
	acked := make(chan error, 1)
	go func() {
		for got := 0; got < n; {
			cp, err := packets.ReadPacket(r)
			if err != nil {
				acked <- err
				return
			}
			if _, ok := cp.(*packets.PubackPacket); ok {
				got++
				credit <- struct{}{}
			}
		}
		acked <- nil
	}()
	for i := range n {
		select {
		case <-credit:
		default:
			if err := w.Flush(); err != nil { // let the broker see what waits
				fmt.Fprintln(os.Stderr, "publisher:", err)
				return 1
			}
			<-credit
		}
		id := fmt.Sprintf("vent-%d", i%devs+1)
		p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
		p.TopicName, p.Qos, p.MessageID = "devices/"+id+"/status", 1, uint16(i%65535+1)
		p.Payload = ventPayload("SN-"+id, i%3 == 0, i%100000)
		if err := p.Write(w); err != nil {
			fmt.Fprintln(os.Stderr, "publisher:", err)
			return 1
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "publisher:", err)
		return 1
	}
	select {
	case err := <-acked:
		if err != nil {
			fmt.Fprintln(os.Stderr, "publisher:", err)
			return 1
		}
	case <-time.After(2 * time.Minute):
		fmt.Fprintln(os.Stderr, "publisher: not every publish was acknowledged")
		return 1
	}
	_ = packets.NewControlPacket(packets.Disconnect).Write(c)
	return 0
}

// BenchmarkDecode is the driver's own share of a message: decoding one
// ventilator status by its profile.
func BenchmarkDecode(b *testing.B) {
	p := loadProfiles(b)[ventProfile]
	d := newDecoder(p, false)
	sc := &scratch{} // as the driver's handler decodes
	payload := ventPayload("SN-vent-1", true, 1234)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if _, bad := d.decodeWith(payload, sc); bad != nil {
			b.Fatal(bad)
		}
	}
}
