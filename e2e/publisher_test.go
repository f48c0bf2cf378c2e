package e2e

import (
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/simulator/mqttsim"
)

// change is one state change of a device as a test published it.
type change struct {
	dev, state string
	at         time.Time
}

// publisher sends MQTT device messages as the site's devices would, one
// per device and millisecond (InfluxDB keeps one point per series and
// timestamp), and records every change of state it published.
type publisher struct {
	t         *testing.T
	site      *config.Site
	client    paho.Client
	last      map[string]string
	lastAt    map[string]time.Time
	published []change
	// record says which devices' changes go into published (nil: all).
	record func(i int) bool
}

func newPublisher(t *testing.T, site *config.Site, broker, clientID string) *publisher {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(broker).SetClientID(clientID))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return &publisher{t: t, site: site, client: c, last: map[string]string{}, lastAt: map[string]time.Time{}}
}

// publish sends device i's message in state.
func (p *publisher) publish(i int, state string) {
	p.t.Helper()
	dev := &p.site.Devices[i]
	now := time.Now().Truncate(time.Millisecond)
	for !now.After(p.lastAt[dev.ID]) {
		time.Sleep(time.Millisecond) // until the millisecond timestamp moves on
		now = time.Now().Truncate(time.Millisecond)
	}
	p.lastAt[dev.ID] = now
	payload, err := mqttsim.Payload(p.site.Profiles[dev.Profile], dev, state, now)
	if err != nil {
		p.t.Fatal(err)
	}
	if tok := p.client.Publish(dev.MQTT.Topic, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		p.t.Fatalf("publish: %v", tok.Error())
	}
	if p.last[dev.ID] != state && (p.record == nil || p.record(i)) {
		p.published = append(p.published, change{dev.ID, state, now})
	}
	p.last[dev.ID] = state
}

// flip publishes device i in the other of in_use and standby.
func (p *publisher) flip(i int) {
	if p.last[p.site.Devices[i].ID] == "in_use" {
		p.publish(i, "standby")
	} else {
		p.publish(i, "in_use")
	}
}
