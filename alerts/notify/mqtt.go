package notify

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/icugate/icugate/config"
)

// mqttReceiver publishes each alert's current state, retained, on
// {topic}/{alert id}: a dashboard or nurse-call bridge that subscribes
// later still gets every alert's last notification, resolved ones too.
type mqttReceiver struct {
	name    string
	topic   string
	publish Publisher
	timeout time.Duration
}

func newMQTT(cfg config.AlertReceiver, deps Deps) (*mqttReceiver, error) {
	if deps.Publish == nil {
		return nil, errorf(cfg.Name, "type mqtt publishes on the gateway's broker connection, and there is none: add an mqtt: block with the broker")
	}
	if cfg.Topic == "" || strings.ContainsAny(cfg.Topic, "+#\x00") || strings.HasSuffix(cfg.Topic, "/") {
		return nil, errorf(cfg.Name, "topic %q: want a topic prefix without wildcards or a trailing /", cfg.Topic)
	}
	return &mqttReceiver{name: cfg.Name, topic: cfg.Topic, publish: deps.Publish, timeout: cfg.Timeout}, nil
}

func (m *mqttReceiver) Name() string { return m.name }

// Send publishes n at QoS 1, retained, and returns once the broker
// acknowledged (PUBACK).
func (m *mqttReceiver) Send(ctx context.Context, n Notification) error {
	if n.AlertID == "" || strings.ContainsAny(n.AlertID, "+#\x00") {
		return errorf(m.name, "alert id %q cannot be an MQTT topic level", n.AlertID)
	}
	payload, err := json.Marshal(n)
	if err != nil {
		return errorf(m.name, "encoding notification %s: %w", n.ID, err)
	}
	topic := m.topic + "/" + n.AlertID
	ctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	if err := m.publish(ctx, topic, 1, true, payload); err != nil {
		if why := gaveUp(ctx, err, m.timeout); why != "" {
			return errorf(m.name, "publishing on MQTT topic %s: %s: %w", topic, why, err)
		}
		return errorf(m.name, "publishing on MQTT topic %s: %w", topic, err)
	}
	return nil
}

// Check is nil: the receiver has no connection of its own, and health
// reports the gateway's broker connection as its own source.
func (m *mqttReceiver) Check(context.Context) error { return nil }
