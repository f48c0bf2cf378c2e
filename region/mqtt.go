package region

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/icugate/icugate/report"
)

// Sweep timing: a sweep ends when no retained message arrived for
// sweepQuiet after the subscription, or after sweepMax.
const (
	sweepQuiet = 300 * time.Millisecond
	sweepMax   = 15 * time.Second
	mqttWait   = 10 * time.Second
	// subscribeAttempts bounds subscribeAll: 1+2+4+8 s of pauses.
	subscribeAttempts = 5
)

// subscribe connects the subscribing client: through the shared
// subscription by default, plainly with mqtt.shared false (every instance
// then receives every report; the HA deployment of docs/reporting.md §6).
//
// The session is clean (CleanSession true) on purpose: Mosquitto keeps
// handing a disconnected persistent session its share of a shared
// subscription's messages, which would strand a dead instance's share in
// its queue (mosquitto #1747). With a clean session the survivors get
// everything from the moment the dead instance's connection closes. What
// the clean session loses — messages published while this instance was
// disconnected — the sweep at every (re)connect recovers from the
// retained latest reports.
//
// Messages are acknowledged late, after the worker decided and stored
// them (STYLE: acknowledge late). Every message goes to the default
// handler, set before connecting, so nothing arrives unrouted.
func (r *Region) subscribe(ctx context.Context) (paho.Client, error) {
	opts, err := r.mqttOptions(r.cfg.MQTT.ClientID)
	if err != nil {
		return nil, fmt.Errorf("region: %w", err)
	}
	opts.SetCleanSession(true)
	opts.SetOrderMatters(true)
	// tried is the broker of the last connection attempt: after a
	// connect, the one of a cluster the instance is on.
	var tried atomic.Value
	tried.Store(r.cfg.MQTT.Broker)
	opts.SetConnectionAttemptHandler(func(broker *url.URL, tc *tls.Config) *tls.Config {
		tried.Store(broker.String())
		return tc
	})
	opts.SetAutoAckDisabled(true)
	opts.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
		if strings.HasSuffix(m.Topic(), "/"+kindPresence) {
			r.takePresence(m.Topic(), m.Payload())
			m.Ack()
			return
		}
		// Mosquitto 2.0 sends the retained reports to a new shared
		// subscriber, and every broker to a new plain one (flagged
		// retained); they are the broker's state, not a live delivery.
		src := Live
		if m.Retained() {
			src = Retained
		}
		r.enqueue(ctx, item{topic: m.Topic(), payload: m.Payload(), src: src, done: m.Ack})
	})
	// The reports through the shared subscription (each to one
	// instance) or, unshared, plainly (each to every instance); the
	// gateways' presence through a plain one (every instance needs
	// it, and the broker sends the retained presence at every subscribe).
	filters := map[string]byte{}
	for _, f := range append(r.cfg.Filters(), r.cfg.PresenceTopics()...) {
		filters[f] = 1
	}
	opts.SetOnConnectHandler(func(c paho.Client) {
		r.m.connected.Set(1)
		r.subscribeAll(ctx, c, filters)
		r.log.Info("mqtt connected", "broker", tried.Load(), "subscriptions", r.cfg.Filters())
		select {
		case r.sweepReq <- struct{}{}:
		default:
		}
	})
	opts.SetConnectionLostHandler(func(_ paho.Client, err error) {
		r.m.connected.Set(0)
		r.log.Warn("mqtt connection lost; reconnecting", "broker", r.cfg.MQTT.Broker, "err", err)
	})
	c := paho.NewClient(opts)
	c.Connect() // with ConnectRetry, keeps trying in the background
	return c, nil
}

// subscribeAll subscribes to filters, and subscribes again to those the
// broker did not confirm, up to subscribeAttempts times with a doubling
// pause: a NATS node that just took over a failed node's clients refuses
// (0x80) or delays a subscription while JetStream elects new leaders for
// the MQTT streams, which takes seconds. Mosquitto refuses only by ACL, and
// then every attempt fails the same way and the last says so.
func (r *Region) subscribeAll(ctx context.Context, c paho.Client, filters map[string]byte) {
	pause := time.Second
	for attempt := 1; ; attempt++ {
		failed := map[string]byte{}
		var why error
		tok := c.SubscribeMultiple(filters, nil)
		switch {
		case !tok.WaitTimeout(mqttWait):
			failed, why = filters, errors.New("timed out")
		case tok.Error() != nil:
			failed, why = filters, tok.Error()
		default:
			if st, ok := tok.(*paho.SubscribeToken); ok {
				for f, code := range st.Result() {
					if code == 0x80 {
						failed[f] = filters[f]
					}
				}
			}
			why = errors.New("refused by the broker (its ACL, or a cluster node not ready yet)")
		}
		if len(failed) == 0 {
			return
		}
		topics := slices.Sorted(maps.Keys(failed))
		if attempt == subscribeAttempts || !c.IsConnectionOpen() {
			r.log.Error("mqtt subscribe failed; check the broker's ACL and health, the next reconnect tries again", "topics", topics, "attempts", attempt, "err", why)
			return
		}
		r.log.Warn("mqtt subscribe failed; retrying", "topics", topics, "attempt", attempt, "err", why)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		pause *= 2
		filters = failed
	}
}

// takePresence records one presence message and counts it.
func (r *Region) takePresence(topic string, payload []byte) {
	outcome, err := r.presence.record(r.cfg, r.keys.Load(), topic, payload, r.now())
	r.m.presence.WithLabelValues(outcome).Inc()
	if err != nil {
		if ok, n := r.limiter.Allow("presence " + outcome); ok {
			r.log.Warn("presence ignored", "reason", outcome, "topic", topic, "suppressed", n, "err", err)
		}
		return
	}
	r.log.Debug("gateway presence", "topic", topic, "state", outcome)
}

// sweeper runs a sweep after every connect and every sweep_interval.
func (r *Region) sweeper(ctx context.Context) {
	var tick <-chan time.Time
	if iv := r.cfg.MQTT.SweepInterval; iv > 0 {
		t := time.NewTicker(iv)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.sweepReq:
		case <-tick:
		}
		if err := r.Sweep(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("retained sweep failed; the next one retries", "err", err)
		}
	}
}

// Sweep reads every hospital's retained latest report through a short-lived
// plain (non-shared) subscription and feeds them to the ledger as
// Retained. MQTT 5 forbids sending retained messages to a shared
// subscription (§4.8.2); Mosquitto 2.0 does send them to 3.1.1 clients
// when they subscribe, but no broker sends them later. So the sweep is how
// a new instance learns every hospital on any broker, and how each
// instance catches up on the reports its siblings received: it bounds how
// far an instance's view and replay state lag behind the region. Sweep
// returns once every swept message has been decided.
func (r *Region) Sweep(ctx context.Context) error {
	r.sweepMu.Lock()
	defer r.sweepMu.Unlock()
	opts, err := r.mqttOptions(r.cfg.MQTT.ClientID + "-sweep")
	if err != nil {
		return err
	}
	opts.SetCleanSession(true)
	opts.SetAutoReconnect(false)
	opts.SetConnectRetry(false)
	// pending counts swept messages not yet decided; zero is signalled
	// when it drops to 0.
	var pending atomic.Int64
	zero := make(chan struct{}, 1)
	decided := func() {
		if pending.Add(-1) == 0 {
			select {
			case zero <- struct{}{}:
			default:
			}
		}
	}
	arrived := make(chan struct{}, 1)
	opts.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
		// Only the retained copies sent at subscription time; live
		// messages reach the shared subscription anyway.
		if !m.Retained() {
			return
		}
		pending.Add(1)
		if !r.enqueue(ctx, item{topic: m.Topic(), payload: m.Payload(), src: Retained, done: decided}) {
			decided()
		}
		select {
		case arrived <- struct{}{}:
		default:
		}
	})
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(mqttWait) || tok.Error() != nil {
		return fmt.Errorf("sweep connect %s: %w", r.cfg.MQTT.Broker, tokenErr(tok))
	}
	topics := map[string]byte{}
	for _, t := range r.cfg.Topics() {
		topics[t] = 1
	}
	if tok := c.SubscribeMultiple(topics, nil); !tok.WaitTimeout(mqttWait) || tok.Error() != nil {
		c.Disconnect(0)
		return fmt.Errorf("sweep subscribe %s: %w", r.cfg.Topics(), tokenErr(tok))
	}
	quiet := time.NewTimer(sweepQuiet)
	defer quiet.Stop()
	deadline := time.NewTimer(sweepMax)
	defer deadline.Stop()
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-deadline.C:
			break wait
		case <-quiet.C:
			break wait
		case <-arrived:
			quiet.Reset(sweepQuiet)
		}
	}
	// Disconnect returns after paho stopped calling the handler, so
	// pending only falls from here on.
	c.Disconnect(0)
	for pending.Load() > 0 {
		select {
		case <-zero:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.m.sweeps.Inc()
	r.sweeps.Add(1)
	return ctx.Err()
}

// mqttOptions are the gateway's MQTT client options plus the failover
// brokers, which paho tries in order after the broker at every (re)connect.
func (r *Region) mqttOptions(clientID string) (*paho.ClientOptions, error) {
	opts, err := report.MQTTOptions(&r.cfg.MQTT.MQTT, clientID)
	if err != nil {
		return nil, err
	}
	for _, b := range r.cfg.MQTT.Failover {
		opts.AddBroker(b)
	}
	return opts, nil
}

func tokenErr(t paho.Token) error {
	if err := t.Error(); err != nil {
		return err
	}
	return errors.New("timed out")
}
