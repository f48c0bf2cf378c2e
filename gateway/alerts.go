package gateway

import (
	"context"
	"errors"

	"github.com/icugate/icugate/alerts"
	"github.com/icugate/icugate/alerts/notify"
	"github.com/icugate/icugate/config"
)

// newAlerts builds the alert manager over the state store: it restores the
// alerts that were firing at the last stop.
func (g *Gateway) newAlerts() (*alerts.Manager, error) {
	// Nothing fires or resolves while the gateway learns the devices'
	// states after a start (alerts.start_grace; 0 means no grace).
	grace := g.Site().Alerts.Grace()
	if grace == 0 {
		grace = -1
	}
	m, err := alerts.New(alerts.Options{
		Store:    g.store,
		Input:    g.alertInput,
		Receiver: g.newReceiver,
		Logger:   g.log.With("component", "alerts"),
		Registry: g.reg,
		Grace:    grace,
	})
	if err != nil {
		return nil, err
	}
	m.Configure(g.Site())
	return m, nil
}

// alertInput is what the alert rules look at: the served snapshot and the
// gateway's health by source.
func (g *Gateway) alertInput() alerts.Input {
	return alerts.Input{Now: g.now(), Snapshot: g.snap.Load(), Degraded: g.degradedBySource()}
}

// newReceiver builds a receiver with the gateway's hospital and its MQTT
// connection.
func (g *Gateway) newReceiver(c config.AlertReceiver) (notify.Receiver, error) {
	return notify.New(c, notify.Deps{Hospital: g.Site().Hospital.ID, Publish: g.publishMQTT, Now: g.now})
}

// publishMQTT publishes on the gateway's broker connection, the one the
// MQTT driver holds (reports and the mqtt alert receiver use it).
func (g *Gateway) publishMQTT(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error {
	if g.drivers != nil {
		if d := g.drivers.mqttDriver(); d != nil {
			return d.Publish(ctx, topic, qos, retained, payload)
		}
	}
	return errors.New("no MQTT connection: set mqtt.broker in the site config")
}

// Alerts is the alert manager; nil before Run opened the store.
func (g *Gateway) Alerts() *alerts.Manager { return g.alerts.Load() }
