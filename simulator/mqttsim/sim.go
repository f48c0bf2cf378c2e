// Package mqttsim simulates a site's MQTT devices on a real broker: each
// device publishes its status message, built from its profile's simulate
// values for its current state, at QoS 1 every interval and at once when
// its state changes. State "offline" stops a device publishing, which is
// how a dead device looks to the gateway.
package mqttsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/icugate/icugate/config"
)

// States a simulated device can be put in.
const (
	StateStandby     = "standby"
	StateInUse       = "in_use"
	StateFault       = "fault"
	StateMaintenance = "maintenance"
	StateOffline     = "offline"
)

// Options are the simulator's dependencies; zero fields take defaults.
type Options struct {
	Logger *slog.Logger
	// ClientID defaults to icusim-{hospital id}.
	ClientID string
	Username string
	Password string
	// Now stamps the time_path of messages (tests).
	Now func() time.Time
}

// DeviceInfo describes one simulated device.
type DeviceInfo struct {
	ID       string        `json:"id"`
	Kind     string        `json:"kind"`
	Profile  string        `json:"profile"`
	Topic    string        `json:"topic"`
	Interval time.Duration `json:"interval"`
	State    string        `json:"state"`
}

// Sim publishes the status of every MQTT device of a site.
type Sim struct {
	site    *config.Site
	opts    Options
	log     *slog.Logger
	client  paho.Client
	devices []*device
	byID    map[string]*device
}

type device struct {
	cfg      *config.Device
	profile  *config.Profile
	topic    string
	interval time.Duration

	mu      sync.Mutex
	state   string
	changed chan struct{} // capacity 1: a pending "publish now"
}

// New builds a simulator for the site's MQTT devices on broker
// (tcp://host:port). It does not connect; Run does.
func New(site *config.Site, broker string, opts Options) (*Sim, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ClientID == "" {
		opts.ClientID = "icusim-" + site.Hospital.ID
	}
	s := &Sim{site: site, opts: opts, log: opts.Logger.With("component", "mqttsim"), byID: map[string]*device{}}
	for i := range site.Devices {
		dc := &site.Devices[i]
		if dc.MQTT == nil {
			continue
		}
		p := site.Profiles[dc.Profile]
		if p == nil {
			return nil, fmt.Errorf("mqttsim: device %s: profile %q is not loaded", dc.ID, dc.Profile)
		}
		topic := dc.MQTT.Topic
		if topic == "" {
			topic = strings.ReplaceAll(p.Topic, "{id}", dc.ID)
		}
		if topic == "" {
			return nil, fmt.Errorf("mqttsim: device %s: no topic", dc.ID)
		}
		if _, err := Payload(p, dc, StateStandby, opts.Now()); err != nil {
			return nil, fmt.Errorf("mqttsim: device %s: %w", dc.ID, err)
		}
		iv := dc.Interval()
		if iv <= 0 {
			iv = config.DefaultMQTTInterval
		}
		d := &device{cfg: dc, profile: p, topic: topic, interval: iv, state: StateStandby, changed: make(chan struct{}, 1)}
		s.devices = append(s.devices, d)
		s.byID[dc.ID] = d
	}
	o := paho.NewClientOptions().AddBroker(broker).SetClientID(opts.ClientID).
		SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectRetryInterval(500 * time.Millisecond).SetMaxReconnectInterval(2 * time.Second).
		SetUsername(opts.Username).SetPassword(opts.Password)
	s.client = paho.NewClient(o)
	return s, nil
}

// Run connects and publishes until ctx ends. Devices publish from the start
// (paho queues nothing at QoS 1 while never connected, so messages of a
// device whose broker is down are simply missed, like a real device's).
func (s *Sim) Run(ctx context.Context) error {
	tok := s.client.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("mqttsim: connect: %w", err)
		}
	case <-ctx.Done():
		s.client.Disconnect(0)
		return nil
	}
	var wg sync.WaitGroup
	for _, d := range s.devices {
		wg.Go(func() { s.loop(ctx, d) })
	}
	wg.Wait()
	s.client.Disconnect(250)
	return nil
}

// loop publishes one device: at once, every interval, and on a change.
func (s *Sim) loop(ctx context.Context, d *device) {
	tick := time.NewTicker(d.interval)
	defer tick.Stop()
	for {
		s.publish(ctx, d)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-d.changed:
			tick.Reset(d.interval)
		}
	}
}

func (s *Sim) publish(ctx context.Context, d *device) {
	d.mu.Lock()
	state := d.state
	d.mu.Unlock()
	if state == StateOffline {
		return
	}
	payload, err := Payload(d.profile, d.cfg, state, s.opts.Now())
	if err != nil {
		s.log.Error("mqttsim payload", "device", d.cfg.ID, "err", err)
		return
	}
	tok := s.client.Publish(d.topic, 1, false, payload)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			s.log.Warn("mqttsim publish failed", "device", d.cfg.ID, "err", err)
		}
	case <-time.After(d.interval):
		s.log.Warn("mqttsim publish not acknowledged within the interval", "device", d.cfg.ID)
	case <-ctx.Done():
	}
}

// SetState changes a simulated device's state; it publishes at once.
func (s *Sim) SetState(id, state string) error {
	d := s.byID[id]
	if d == nil {
		return fmt.Errorf("mqttsim: no MQTT device %q", id)
	}
	switch state {
	case StateStandby, StateOffline:
	case StateInUse, StateFault, StateMaintenance:
		if _, ok := d.profile.Simulate[state]; !ok {
			return fmt.Errorf("mqttsim: device %s: profile %s has no simulate values for state %s", id, d.profile.Name, state)
		}
	default:
		return errors.New("mqttsim: state must be one of standby, in_use, fault, maintenance, offline")
	}
	d.mu.Lock()
	d.state = state
	d.mu.Unlock()
	select {
	case d.changed <- struct{}{}:
	default:
	}
	return nil
}

// Devices lists the simulated devices and their current states, by id.
func (s *Sim) Devices() []DeviceInfo {
	out := make([]DeviceInfo, 0, len(s.devices))
	for _, d := range s.devices {
		d.mu.Lock()
		out = append(out, DeviceInfo{ID: d.cfg.ID, Kind: d.cfg.Kind, Profile: d.profile.Name, Topic: d.topic, Interval: d.interval, State: d.state})
		d.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b DeviceInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}
