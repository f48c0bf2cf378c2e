package mqtt

import (
	"net/url"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/icugate/icugate/config"
)

// clientOptions sets up paho for at-least-once delivery with late acks.
//
// Known paho.mqtt.golang behaviours this works around (v1.5.1):
//   - Messages the broker replays from a persistent session can arrive
//     before OnConnect has resubscribed; paho neither handles nor
//     acknowledges a message without a matching route, and Mosquitto then
//     stalls once max_inflight_messages are unacknowledged (paho #423,
//     #637). All messages go to the default publish handler, set before
//     connecting; subscriptions carry no callback.
//   - CleanSession=true (paho's default) drops subscriptions on reconnect
//     (paho #22, #173, #238); we keep a persistent session and also
//     resubscribe in OnConnect in case the broker lost it.
//   - With OrderMatters(true) the handler runs on paho's delivery goroutine;
//     a handler that blocks stops paho reading the socket, PINGRESP is not
//     seen and the connection drops (paho #208, #453). Our handler only
//     decodes (microseconds) and queues; the queue is sized above the
//     broker's in-flight window, and it waits only when it is full, which
//     is counted. OrderMatters(false) would spawn a goroutine per message
//     and lose the receipt order that ordered PUBACKs need.
//   - paho's Message.Ack passes each PUBACK through two of its goroutines
//     (a third of the driver's CPU at high rates), can block, deadlocks
//     with a stopping connection when called from the delivery goroutine
//     (paho #509), and drops acks after a reconnect (paho #726, #729). The
//     driver never calls it: with AutoAckDisabled, the acker writes the
//     PUBACKs into the write buffer of the connection the messages came on
//     (bufferedConn.writeNoWait), in receipt order, and forgets pending
//     acks at each new connection; the broker redelivers those messages
//     on the persistent session.
//   - paho stores every received QoS 1 message until its ack and never
//     reads it back; sessionStore keeps only what the client sends.
//   - paho's reconnect backoff sleeps without watching for Disconnect, and
//     Disconnect returns before paho's goroutines end; Run reconnects
//     itself (connectLoop) so that stopping never leaves goroutines behind.
//   - A clean Disconnect discards the last will, so Run publishes the
//     retained "offline" itself before disconnecting.
func (d *Driver) clientOptions() (*paho.ClientOptions, error) {
	cfg := d.site.MQTT
	o := paho.NewClientOptions()
	o.AddBroker(cfg.Broker)
	o.SetClientID(d.clientID())
	o.SetProtocolVersion(4)
	o.SetCleanSession(false)
	o.SetOrderMatters(true)
	o.SetAutoAckDisabled(true)
	o.SetResumeSubs(false)
	// Reconnection is Run's own loop (see connectLoop), not paho's.
	o.SetAutoReconnect(false)
	o.SetConnectRetry(false)
	o.SetKeepAlive(d.opts.KeepAlive)
	o.SetPingTimeout(d.opts.PingTimeout)
	o.SetConnectTimeout(waitTimeout)
	o.SetWriteTimeout(waitTimeout)
	o.SetWill(d.presence, "offline", 1, true)
	o.SetDefaultPublishHandler(d.handle)
	o.SetConnectionLostHandler(d.onConnectionLost)
	o.SetCustomOpenConnectionFn(d.openConnection)
	o.SetStore(newSessionStore())

	user, pass, err := credentials(cfg, d.opts)
	if err != nil {
		return nil, err
	}
	if user != "" {
		o.SetUsername(user)
	}
	if pass != "" {
		o.SetPassword(pass)
	}
	if cfg.TLS != nil {
		tc, err := cfg.TLS.ClientConfig("mqtt")
		if err != nil {
			return nil, err
		}
		o.SetTLSConfig(tc)
	}
	return o, nil
}

func (d *Driver) clientID() string {
	if d.site.MQTT.ClientID != "" {
		return d.site.MQTT.ClientID
	}
	return "icugate-" + d.site.Hospital.ID
}

// credentials reads the username and password: Options override, then the
// configured files, then ICUGATE_MQTT_USERNAME / ICUGATE_MQTT_PASSWORD.
// They are never logged.
func credentials(cfg *config.MQTT, opts Options) (user, pass string, err error) {
	user, pass = opts.Username, opts.Password
	if user == "" {
		if user, err = config.ReadSecret(cfg.UsernameFile, "ICUGATE_MQTT_USERNAME"); err != nil {
			return "", "", err
		}
	}
	if pass == "" {
		if pass, err = config.ReadSecret(cfg.PasswordFile, "ICUGATE_MQTT_PASSWORD"); err != nil {
			return "", "", err
		}
	}
	return user, pass, nil
}

// onConnect runs on the connect loop after every successful connection,
// once paho's Connect token is done. Not as paho's OnConnect handler: paho
// starts that handler concurrently with its resume step, which sets the DUP
// flag on stored publishes while the writer may be writing them — a data
// race inside paho v1.5.1 that a presence publish there triggered.
// It resubscribes, then announces presence.
func (d *Driver) onConnect(c paho.Client) {
	d.metrics.connects.Inc()
	filters := make(map[string]byte, len(d.routes.filters))
	for _, f := range d.routes.filters {
		filters[f] = 1
	}
	if len(filters) > 0 {
		tok := c.SubscribeMultiple(filters, nil)
		switch {
		case !tok.WaitTimeout(waitTimeout):
			d.log.Error("mqtt subscribe timed out; devices stay stale until the next reconnect", "filters", len(filters))
		case tok.Error() != nil:
			d.log.Error("mqtt subscribe failed", "err", tok.Error())
		default:
			if st, ok := tok.(*paho.SubscribeToken); ok {
				for f, code := range st.Result() {
					if code == 0x80 {
						d.log.Error("mqtt subscription refused by the broker; check its acl_file", "topic", f)
					}
				}
			}
		}
	}
	c.Publish(d.presence, 1, true, "online")
	d.log.Info("mqtt connected", "broker", d.brokerForLog(), "subscriptions", len(filters))
}

// onConnectionLost runs (in its own goroutine, from paho) once the lost
// connection's workers have stopped; it wakes connectLoop.
func (d *Driver) onConnectionLost(_ paho.Client, err error) {
	d.up.Store(false)
	d.metrics.connected.Set(0)
	d.metrics.lost.Inc()
	d.log.Warn("mqtt connection lost; reconnecting", "broker", d.brokerForLog(), "err", err)
	select {
	case d.lost <- struct{}{}:
	default:
	}
}

// brokerForLog is the broker URL with any user:password in it redacted:
// secrets never reach the log.
func (d *Driver) brokerForLog() string {
	u, err := url.Parse(d.site.MQTT.Broker)
	if err != nil {
		return "(unparsable broker URL)"
	}
	return u.Redacted()
}
