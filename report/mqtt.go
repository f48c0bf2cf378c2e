package report

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
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
	user, err := secret(cfg.UsernameFile, "ICUGATE_MQTT_USERNAME")
	if err != nil {
		return nil, err
	}
	pass, err := secret(cfg.PasswordFile, "ICUGATE_MQTT_PASSWORD")
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

func secret(file, env string) (string, error) {
	if file == "" {
		return os.Getenv(env), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("mqtt credentials: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// TLSConfig builds a client TLS config: the CA of the server's certificate
// and, for mutual TLS, the client's certificate and key.
func TLSConfig(t *config.TLS) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate found", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cert_file %s / key_file %s: %w", t.CertFile, t.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}
