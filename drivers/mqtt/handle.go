package mqtt

import (
	"fmt"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/icugate/icugate/pipeline"
)

// handle is paho's publish handler for every message. It runs on paho's
// delivery goroutine, in receipt order, so it must not block: it decodes
// and queues, and waits only while the queue to the pipeline is full.
func (d *Driver) handle(_ paho.Client, msg paho.Message) {
	select {
	case <-d.stopping:
		return // not acknowledged: the broker keeps it for the next run
	default:
	}
	now := d.opts.Now()
	d.metrics.received.Inc()
	epoch, seq := d.acks.add(msg.Qos(), msg.MessageID())
	o, b, device := d.observe(msg, now)
	if b != nil {
		d.metrics.dropped.WithLabelValues(b.reason).Inc()
		d.drops.drop(b.reason, device, msg.Topic(), b.err)
		d.acks.done(epoch, seq)
		return
	}
	o.Ack = func() { d.acks.done(epoch, seq) }
	select {
	case d.queue <- o:
	default:
		d.metrics.queueFull.Inc()
		select {
		case d.queue <- o:
		case <-d.stopping:
			return
		}
	}
	d.metrics.queueDepth.Set(float64(len(d.queue)))
}

// observe turns one message into an observation, or says why not.
func (d *Driver) observe(msg paho.Message, now time.Time) (pipeline.Observation, *badMessage, string) {
	rt := d.routes.lookup(msg.Topic())
	if rt == nil {
		return pipeline.Observation{}, bad(ReasonUnknownDevice, "no configured device publishes on this topic"), ""
	}
	payload := msg.Payload()
	if len(payload) > d.maxBytes {
		return pipeline.Observation{}, bad(ReasonTooLarge, "payload of %d bytes, limit %d (mqtt.max_message_bytes)", len(payload), d.maxBytes), rt.device
	}
	dec, b := rt.decoder.decodeWith(payload, d.scratch)
	if b != nil {
		return pipeline.Observation{}, b, rt.device
	}
	at, b := d.messageTime(rt, dec, msg.Retained(), now)
	if b != nil {
		return pipeline.Observation{}, b, rt.device
	}
	return pipeline.Observation{Device: rt.device, Time: at, Values: dec.values, Serial: dec.serial}, nil, rt.device
}

// messageTime decides the observation's time. A device timestamp is
// trusted when it is within the device's freshness window of now and not
// more than MaxFutureSkew ahead; a little ahead is clamped to now, because
// the engine's clock is the time its events carry and one fast device clock
// must not make every other device look stale. A message older than the
// freshness window is refused: replayed from the persistent session after
// an outage, it could only make a dead device look alive.
//
// Without a device timestamp the receipt time is used, except for retained
// messages: the broker replays those on every (re)subscribe, however old
// they are, so without a timestamp they prove nothing.
func (d *Driver) messageTime(rt *route, dec decoded, retained bool, now time.Time) (time.Time, *badMessage) {
	if !dec.hasTime {
		if retained {
			return time.Time{}, bad(ReasonRetained, "retained message without a device timestamp (set time_path in the profile)")
		}
		return now, nil
	}
	switch age := now.Sub(dec.time); {
	case age > rt.fresh:
		return time.Time{}, &badMessage{reason: ReasonStale, err: fmt.Errorf("device time %s is %s old, freshness window %s", dec.time.Format(time.RFC3339), age.Round(time.Millisecond), rt.fresh)}
	case -age > d.opts.MaxFutureSkew:
		return time.Time{}, &badMessage{reason: ReasonFutureTime, err: fmt.Errorf("device time %s is %s ahead, limit %s", dec.time.Format(time.RFC3339), (-age).Round(time.Millisecond), d.opts.MaxFutureSkew)}
	case age < 0:
		return now, nil
	}
	return dec.time, nil
}
