package mqtt

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/icugate/icugate/config"
)

// route is where the messages of one topic go: the device that publishes
// there and the decoder of its profile.
type route struct {
	device  string
	decoder *decoder
	// fresh is the device's freshness window; a device timestamp older
	// than it is refused (it could only make a stale device look fresh).
	fresh time.Duration
}

// routing is the subscription plan of a site: the topic filters to
// subscribe and, for every device topic, its route.
//
// Devices that share a profile whose topic pattern has {id} as a whole
// segment (devices/{id}/status) are covered by one wildcard subscription
// (devices/+/status) instead of one per device: a hospital has hundreds of
// such devices, and one filter keeps the broker's subscription tree and the
// resubscribe after a reconnect small. Messages are still routed by exact
// topic, which is the same as routing by the id segment: a message on the
// wildcard for an id that is not configured is an unknown device.
type routing struct {
	filters []string
	byTopic map[string]*route
}

// buildRouting plans subscriptions and routes for every MQTT device.
func buildRouting(site *config.Site) (*routing, error) {
	r := &routing{byTopic: make(map[string]*route)}
	decoders := make(map[string]*decoder)
	// profile name -> number of its devices on the pattern's own topic
	onPattern := make(map[string]int)
	for i := range site.Devices {
		dev := &site.Devices[i]
		if dev.MQTT == nil {
			continue
		}
		p := site.Profiles[dev.Profile]
		if p == nil {
			return nil, fmt.Errorf("device %s: profile %q is not loaded", dev.ID, dev.Profile)
		}
		topic := deviceTopic(dev, p)
		if topic == "" {
			return nil, fmt.Errorf("device %s: no mqtt topic: set mqtt.topic or the profile's topic pattern", dev.ID)
		}
		if strings.ContainsAny(topic, "+#") {
			return nil, fmt.Errorf("device %s: topic %q must not contain MQTT wildcards", dev.ID, topic)
		}
		if other, dup := r.byTopic[topic]; dup {
			return nil, fmt.Errorf("device %s: topic %q is already used by device %s", dev.ID, topic, other.device)
		}
		dec := decoders[p.Name]
		if dec == nil {
			dec = newDecoder(p, site.Clinical)
			decoders[p.Name] = dec
		}
		r.byTopic[topic] = &route{device: dev.ID, decoder: dec, fresh: dev.FreshnessWindow()}
		if wildcardOf(p.Topic) != "" && topic == strings.ReplaceAll(p.Topic, "{id}", dev.ID) {
			onPattern[p.Name]++
		}
	}
	for name, n := range onPattern {
		if n >= 2 {
			r.filters = append(r.filters, wildcardOf(site.Profiles[name].Topic))
		}
	}
	slices.Sort(r.filters)
	r.filters = slices.Compact(r.filters)
	for topic := range r.byTopic {
		if !r.covered(topic) {
			r.filters = append(r.filters, topic)
		}
	}
	slices.Sort(r.filters)
	return r, nil
}

// deviceTopic is the device's configured topic, else the profile pattern
// with its id.
func deviceTopic(dev *config.Device, p *config.Profile) string {
	if dev.MQTT.Topic != "" {
		return dev.MQTT.Topic
	}
	if p.Topic == "" {
		return ""
	}
	return strings.ReplaceAll(p.Topic, "{id}", dev.ID)
}

// wildcardOf turns a pattern whose only placeholder is one whole {id}
// segment into its single-level wildcard filter; "" when it has none.
func wildcardOf(pattern string) string {
	segs := strings.Split(pattern, "/")
	n := 0
	for i, s := range segs {
		if s == "{id}" {
			segs[i] = "+"
			n++
		} else if strings.Contains(s, "{") {
			return ""
		}
	}
	if n != 1 {
		return ""
	}
	return strings.Join(segs, "/")
}

func (r *routing) covered(topic string) bool {
	for _, f := range r.filters {
		if strings.Contains(f, "+") && filterMatches(f, topic) {
			return true
		}
	}
	return false
}

// filterMatches reports whether a topic matches a filter with single-level
// wildcards (the only kind the plan uses).
func filterMatches(filter, topic string) bool {
	fs, ts := strings.Split(filter, "/"), strings.Split(topic, "/")
	if len(fs) != len(ts) {
		return false
	}
	for i := range fs {
		if fs[i] != "+" && fs[i] != ts[i] {
			return false
		}
	}
	return true
}

// lookup finds the route of a received topic.
func (r *routing) lookup(topic string) *route { return r.byTopic[topic] }

// Subscriptions returns the topic filters the driver subscribes to.
func (d *Driver) Subscriptions() []string { return slices.Clone(d.routes.filters) }
