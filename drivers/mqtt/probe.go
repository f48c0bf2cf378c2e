package mqtt

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/icugate/icugate/config"
)

// Errors of Probe.Receive, for callers that tell them apart; the returned
// error wraps one of them and says what to check.
var (
	// ErrBrokerUnreachable: no network connection to the broker (refused,
	// timed out, TLS handshake failed).
	ErrBrokerUnreachable = errors.New("MQTT broker unreachable")
	// ErrLoginRefused: the broker refused the username and password (or
	// refused this client otherwise: CONNACK "not authorised").
	ErrLoginRefused = errors.New("MQTT broker refused the login")
	// ErrSubscriptionRefused: the broker refused the subscription to the
	// device's topic (its ACL does not let this user read it).
	ErrSubscriptionRefused = errors.New("MQTT broker refused the subscription")
	// ErrNoMessage: no live message on the device's topic within the bound.
	ErrNoMessage = errors.New("no live message")
	// ErrConnectionLost: the broker closed the connection while waiting.
	ErrConnectionLost = errors.New("MQTT connection lost")
)

// MinProbeWait is the shortest default bound of a probe's wait: a device
// that publishes every second may still be a few seconds from its next
// message, and a connection through a busy broker takes some too.
const MinProbeWait = 10 * time.Second

// ProbeWait is the default bound of a probe's wait for the device's next
// message: three of its heartbeat intervals (mqtt.interval), at least
// MinProbeWait. A device that stays silent that long is offline to the
// gateway as well (its freshness window is three intervals).
func ProbeWait(dev *config.Device) time.Duration {
	iv := dev.Interval()
	if iv <= 0 {
		iv = config.DefaultMQTTInterval
	}
	return max(3*iv, MinProbeWait)
}

// ProbeOptions tune a Probe; the zero value of each field takes its
// default.
type ProbeOptions struct {
	// Wait bounds the wait for a live message, counted from the moment the
	// subscription is in place. Default ProbeWait of the device.
	Wait time.Duration
	// ClientID defaults to "icugate-probe-" and 8 random hex digits: never
	// the gateway's own client id, which would take over (and end) the
	// running gateway's session on the broker.
	ClientID string
	// Username and Password, when set, override the site's credential
	// files (tests).
	Username string
	Password string
	// Now is the clock that stamps arrivals (tests).
	Now func() time.Time
	// MaxFutureSkew is the gateway's limit on device clocks running ahead
	// (Options.MaxFutureSkew). Default DefaultMaxFutureSkew.
	MaxFutureSkew time.Duration
	// OnRetained is called, on Receive's goroutine, with a retained message
	// the broker replays on subscribe, before Receive goes on waiting for a
	// live one.
	OnRetained func(ProbeMessage)
}

// Probe is a one-off look at one MQTT device, for commissioning: it
// connects to the site's broker with the gateway's settings (URL, TLS,
// credentials) but its own client id and a clean session, so a running
// gateway keeps its connection and its persistent session; it subscribes
// to the device's topic only, waits for the next message and decodes it
// exactly as the gateway would. It publishes nothing: no presence, no will.
type Probe struct {
	site     *config.Site
	dev      *config.Device
	prof     *config.Profile
	topic    string
	opts     ProbeOptions
	user     string
	pass     string
	tls      *tls.Config
	verdict  *Driver // the gateway's own checks (observe), never connected
	inspects *decoder
}

// NewProbe prepares a probe of the MQTT device deviceID of site. It reads
// the credential files and TLS material now: an error here is the site's
// configuration, not the broker. It does not connect; Receive does.
func NewProbe(site *config.Site, deviceID string, opts ProbeOptions) (*Probe, error) {
	if site == nil || site.MQTT == nil || site.MQTT.Broker == "" {
		return nil, errors.New("the site has no mqtt.broker; set mqtt: {broker: tcp://host:1883} in the site config")
	}
	if err := checkScheme(site.MQTT.Broker); err != nil {
		return nil, err
	}
	dev, prof, topic, err := probeDevice(site, deviceID)
	if err != nil {
		return nil, err
	}
	if opts.Wait <= 0 {
		opts.Wait = ProbeWait(dev)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxFutureSkew <= 0 {
		opts.MaxFutureSkew = DefaultMaxFutureSkew
	}
	if opts.ClientID == "" {
		var b [4]byte
		_, _ = rand.Read(b[:]) // never fails (crypto/rand)
		opts.ClientID = "icugate-probe-" + hex.EncodeToString(b[:])
	}
	dec := newDecoder(prof, site.Clinical)
	maxBytes := site.MQTT.MaxMessageBytes
	if maxBytes <= 0 {
		maxBytes = 65536
	}
	p := &Probe{
		site: site, dev: dev, prof: prof, topic: topic, opts: opts, inspects: dec,
		// The gateway's own checks of a message (observe: size limit,
		// decoder, timestamp rules) on a driver that never connects, so
		// the probe's verdict cannot drift from the gateway's.
		verdict: &Driver{
			site:     site,
			opts:     withDefaults(Options{Now: opts.Now, MaxFutureSkew: opts.MaxFutureSkew}),
			routes:   &routing{byTopic: map[string]*route{topic: {device: dev.ID, decoder: dec, fresh: dev.FreshnessWindow()}}},
			maxBytes: maxBytes,
		},
	}
	if p.user, p.pass, err = credentials(site.MQTT, Options{Username: opts.Username, Password: opts.Password}); err != nil {
		return nil, err
	}
	if site.MQTT.TLS != nil {
		if p.tls, err = site.MQTT.TLS.ClientConfig("mqtt"); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// probeDevice finds an MQTT device of site, its profile and its topic.
func probeDevice(site *config.Site, id string) (*config.Device, *config.Profile, string, error) {
	var dev *config.Device
	for i := range site.Devices {
		if site.Devices[i].ID == id {
			dev = &site.Devices[i]
		}
	}
	switch {
	case dev == nil:
		return nil, nil, "", fmt.Errorf("device %s is not in the site config", id)
	case dev.MQTT == nil:
		return nil, nil, "", fmt.Errorf("device %s is not an MQTT device (%s)", id, dev.Transport())
	}
	prof := site.Profiles[dev.Profile]
	if prof == nil {
		return nil, nil, "", fmt.Errorf("device %s: profile %q is not loaded", dev.ID, dev.Profile)
	}
	topic := deviceTopic(dev, prof)
	if topic == "" {
		return nil, nil, "", fmt.Errorf("device %s: no mqtt topic: set mqtt.topic or the profile's topic pattern", dev.ID)
	}
	return dev, prof, topic, nil
}

// Topic is the topic the device publishes on (and the probe subscribes to).
func (p *Probe) Topic() string { return p.topic }

// Broker is the broker URL with any password in it redacted.
func (p *Probe) Broker() string { return p.verdict.brokerForLog() }

// ClientID is the probe's client id.
func (p *Probe) ClientID() string { return p.opts.ClientID }

// Wait is the bound of the wait for a live message.
func (p *Probe) Wait() time.Duration { return p.opts.Wait }

// Device is the probed device's configuration.
func (p *Probe) Device() *config.Device { return p.dev }

// Profile is the probed device's profile.
func (p *Probe) Profile() *config.Profile { return p.prof }

// clientOptions is the gateway's connection (broker, credentials, TLS,
// protocol 3.1.1) without what makes it the gateway: a clean session, its
// own client id, no will, no late acks, no reconnects.
func (p *Probe) clientOptions() *paho.ClientOptions {
	o := paho.NewClientOptions()
	o.AddBroker(p.site.MQTT.Broker)
	o.SetClientID(p.opts.ClientID)
	o.SetProtocolVersion(4)
	o.SetCleanSession(true)
	o.SetAutoReconnect(false)
	o.SetConnectRetry(false)
	o.SetConnectTimeout(waitTimeout)
	o.SetWriteTimeout(waitTimeout)
	o.SetKeepAlive(DefaultKeepAlive)
	// The same dialer as the gateway (schemes, TLS), without its buffering.
	o.SetCustomOpenConnectionFn(func(uri *url.URL, o paho.ClientOptions) (net.Conn, error) { return dial(uri, o) })
	if p.user != "" {
		o.SetUsername(p.user)
	}
	if p.pass != "" {
		o.SetPassword(p.pass)
	}
	if p.tls != nil {
		o.SetTLSConfig(p.tls)
	}
	return o
}

// arrival is a message and when it arrived.
type arrival struct {
	msg paho.Message
	at  time.Time
}

// Receive connects, subscribes to the device's topic and returns the next
// live message, decoded (a message that does not decode is returned too,
// with its Rejection: it is the answer, not an error). A retained message
// the broker replays on subscribe goes to OnRetained, and the wait goes on:
// it shows what the device last published, at some unknown time, not that
// it is publishing now. The wait is bounded by Wait, counted once the
// subscription is in place; connecting is bounded by 10 s. Errors wrap
// ErrBrokerUnreachable, ErrLoginRefused, ErrSubscriptionRefused,
// ErrNoMessage or ErrConnectionLost, or are ctx's.
func (p *Probe) Receive(ctx context.Context) (ProbeMessage, error) {
	// Room for a retained message and a few live ones; the probe reads
	// until the first live one, so a full buffer only drops messages after
	// the one it returns.
	arrivals := make(chan arrival, 16)
	lost := make(chan error, 1)
	o := p.clientOptions()
	o.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
		select {
		case arrivals <- arrival{m, p.opts.Now()}:
		default:
		}
	})
	o.SetConnectionLostHandler(func(_ paho.Client, err error) {
		select {
		case lost <- err:
		default:
		}
	})
	c := paho.NewClient(o)
	tok := c.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return ProbeMessage{}, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return ProbeMessage{}, p.connectError(err)
	}
	defer c.Disconnect(100)

	sub := c.Subscribe(p.topic, 1, nil)
	select {
	case <-sub.Done():
	case <-ctx.Done():
		return ProbeMessage{}, ctx.Err()
	}
	if err := sub.Error(); err != nil {
		return ProbeMessage{}, fmt.Errorf("%w: subscribe to %s on %s: %v", ErrConnectionLost, p.topic, p.Broker(), err)
	}
	if st, ok := sub.(*paho.SubscribeToken); ok && st.Result()[p.topic] == 0x80 {
		return ProbeMessage{}, fmt.Errorf("%w to %s on %s: check that the broker's acl_file lets user %q read it",
			ErrSubscriptionRefused, p.topic, p.Broker(), p.user)
	}

	timer := time.NewTimer(p.opts.Wait)
	defer timer.Stop()
	sawRetained := false
	for {
		select {
		case a := <-arrivals:
			m := p.inspect(a.msg, a.at)
			if !m.Retained {
				return m, nil
			}
			sawRetained = true
			if p.opts.OnRetained != nil {
				p.opts.OnRetained(m)
			}
		case <-timer.C:
			return ProbeMessage{}, p.noMessage(sawRetained)
		case err := <-lost:
			return ProbeMessage{}, fmt.Errorf("%w to %s while waiting on %s: %v", ErrConnectionLost, p.Broker(), p.topic, err)
		case <-ctx.Done():
			return ProbeMessage{}, ctx.Err()
		}
	}
}

// connectError says why the connection failed and what to check.
func (p *Probe) connectError(err error) error {
	cfg := p.site.MQTT
	switch {
	case errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword), errors.Is(err, packets.ErrorRefusedNotAuthorised):
		who := "no username (anonymous)"
		if p.user != "" {
			who = fmt.Sprintf("username %q", p.user)
		}
		return fmt.Errorf("%w at %s (%v) for %s: check mqtt.username_file and mqtt.password_file (or ICUGATE_MQTT_USERNAME/ICUGATE_MQTT_PASSWORD) against the broker's password_file",
			ErrLoginRefused, p.Broker(), err, who)
	case errors.Is(err, packets.ErrorRefusedIDRejected), errors.Is(err, packets.ErrorRefusedServerUnavailable), errors.Is(err, packets.ErrorRefusedBadProtocolVersion):
		return fmt.Errorf("%w: %s refused the connection: %v", ErrBrokerUnreachable, p.Broker(), err)
	}
	hint := "check mqtt.broker in the site config, that the broker runs, and the network and firewall between here and it"
	if cfg.TLS != nil {
		hint += "; for TLS, that mqtt.tls.ca_file signs the broker's certificate and its name matches the URL (or tls.server_name)"
	}
	return fmt.Errorf("%w: %s: %v; %s", ErrBrokerUnreachable, p.Broker(), unwrapNetwork(err), hint)
}

// unwrapNetwork drops paho's "network Error : " prefix from a dial error.
func unwrapNetwork(err error) error {
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		if errs := u.Unwrap(); len(errs) == 2 && errors.Is(errs[0], packets.ErrorNetworkError) {
			return errs[1]
		}
	}
	return err
}

// noMessage is the timeout error: the topic, the bound, and how to look
// at what the device really publishes.
func (p *Probe) noMessage(sawRetained bool) error {
	what := "is the device on, configured with this broker, and publishing on this topic?"
	if p.user != "" {
		what = fmt.Sprintf("is the device on, configured with this broker, and publishing on this topic, and does the broker's acl_file let user %q read it?", p.user)
	}
	if sawRetained {
		what = "the broker holds a retained message on this topic (shown above), so something published here once, but nothing is publishing now; is the device on and connected?"
	}
	return fmt.Errorf("%w on %s within %s (-wait to change the bound); %s See what the device publishes with: %s",
		ErrNoMessage, p.topic, p.opts.Wait, what, p.subCommand())
}

// subCommand is a mosquitto_sub command line that shows every topic under
// the device topic's first level, with the site's broker and TLS settings.
func (p *Probe) subCommand() string {
	u, err := url.Parse(p.site.MQTT.Broker)
	if err != nil {
		return "mosquitto_sub -v -t '#'"
	}
	args := []string{"mosquitto_sub", "-h", u.Hostname()}
	port := u.Port()
	tlsOn := u.Scheme != "tcp" && u.Scheme != "mqtt"
	if port == "" {
		port = "1883"
		if tlsOn {
			port = "8883"
		}
	}
	args = append(args, "-p", port)
	if tlsOn {
		ca := "CA.crt"
		if t := p.site.MQTT.TLS; t != nil && t.CAFile != "" {
			ca = t.CAFile
		}
		args = append(args, "--cafile", ca)
	}
	if p.user != "" {
		args = append(args, "-u", p.user, "-P", "PASSWORD")
	}
	first, _, _ := strings.Cut(p.topic, "/")
	filter := "#"
	if first != p.topic {
		filter = first + "/#"
	}
	return strings.Join(append(args, "-v", "-t", "'"+filter+"'"), " ")
}
