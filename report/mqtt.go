package report

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/icugate/icugate/config"
)

// MQTTTransport publishes each message QoS 1, retained, so that a new
// subscriber (a fresh aggregator instance) learns every hospital's latest
// report from the broker. The caller owns the client's connection.
type MQTTTransport struct {
	Client paho.Client
}

// Send implements Transport: it returns once the broker acknowledged the
// message (PUBACK) or ctx ended.
func (t *MQTTTransport) Send(ctx context.Context, m Message) error {
	if t.Client == nil {
		return errors.New("report mqtt: no client")
	}
	tok := t.Client.Publish(m.Topic, 1, true, m.Payload)
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return fmt.Errorf("report mqtt %s: %w", m.Topic, ctx.Err())
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("report mqtt %s: %w", m.Topic, err)
	}
	return nil
}

// MQTTOptions makes paho options for a broker connection from cfg:
// broker, credentials (files, else ICUGATE_MQTT_USERNAME /
// ICUGATE_MQTT_PASSWORD), TLS, MQTT 3.1.1, automatic reconnect. Secrets
// are never logged.
func MQTTOptions(cfg *config.MQTT, clientID string) (*paho.ClientOptions, error) {
	if cfg == nil || cfg.Broker == "" {
		return nil, errors.New("mqtt: no broker configured")
	}
	o := paho.NewClientOptions()
	o.AddBroker(cfg.Broker)
	o.SetClientID(clientID)
	o.SetProtocolVersion(4)
	o.SetAutoReconnect(true)
	o.SetConnectRetry(true)
	o.SetConnectRetryInterval(time.Second)
	o.SetMaxReconnectInterval(30 * time.Second)
	o.SetConnectTimeout(10 * time.Second)
	o.SetWriteTimeout(10 * time.Second)
	user, err := config.ReadSecret(cfg.UsernameFile, "ICUGATE_MQTT_USERNAME")
	if err != nil {
		return nil, err
	}
	pass, err := config.ReadSecret(cfg.PasswordFile, "ICUGATE_MQTT_PASSWORD")
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
		tc, err := TLSConfig(cfg.TLS)
		if err != nil {
			return nil, fmt.Errorf("mqtt tls: %w", err)
		}
		o.SetTLSConfig(tc)
	}
	return o, nil
}

// TLSConfig builds a client TLS config: the CA of the server's certificate
// and, for mutual TLS, the client's certificate and key.
func TLSConfig(t *config.TLS) (*tls.Config, error) {
	return t.ClientConfig("tls")
}
