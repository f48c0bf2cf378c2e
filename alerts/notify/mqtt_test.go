package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/internal/mosquittotest"
)

// pahoClient connects a client to the broker and disconnects it at
// cleanup.
func pahoClient(t *testing.T, b *mosquittotest.Broker, id string) paho.Client {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID(id).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v\n%s", id, tok.Error(), b.Logs())
	}
	t.Cleanup(func() { c.Disconnect(250) })
	return c
}

// pahoPublisher is a Publisher over a paho client, as the gateway's
// broker connection is one: it returns once the broker acknowledged.
func pahoPublisher(c paho.Client) Publisher {
	return func(ctx context.Context, topic string, qos byte, retained bool, payload []byte) error {
		tok := c.Publish(topic, qos, retained, payload)
		select {
		case <-tok.Done():
			return tok.Error()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// retainedOn subscribes a new client to topic and returns the retained
// message the broker hands it.
func retainedOn(t *testing.T, b *mosquittotest.Broker, id, topic string) paho.Message {
	t.Helper()
	got := make(chan paho.Message, 1)
	c := pahoClient(t, b, id)
	tok := c.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) {
		select {
		case got <- m:
		default:
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", topic, tok.Error())
	}
	select {
	case m := <-got:
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("no retained message on %s", topic)
		return nil
	}
}

// TestMQTTRetainedState against a real Mosquitto: the alert's topic holds
// its notification, retained, and after the resolve notice a subscriber
// that comes later gets the resolved state.
func TestMQTTRetainedState(t *testing.T) {
	t.Parallel()
	b := mosquittotest.Start(t, mosquittotest.Config{})
	r, err := New(config.AlertReceiver{Name: "bus", Type: config.ReceiverMQTT, Topic: "icugate/h1/alerts", Timeout: 10 * time.Second},
		Deps{Publish: pahoPublisher(pahoClient(t, b, "gateway"))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.Check(ctx); err != nil {
		t.Errorf("Check: %v", err)
	}
	fire := firingAt(time.Now().Add(-time.Minute), "vent-offline/device/vent-a2")
	res := resolvedAt(fire, time.Now())
	topic := "icugate/h1/alerts/vent-offline/device/vent-a2"
	for i, n := range []Notification{fire, res} {
		if err := r.Send(ctx, n); err != nil {
			t.Fatalf("Send %s: %v", n.Status, err)
		}
		m := retainedOn(t, b, "dashboard-"+n.Status, topic)
		want, _ := json.Marshal(n)
		if m.Topic() != topic || !m.Retained() || m.Qos() != 1 || !bytes.Equal(m.Payload(), want) {
			t.Errorf("after notification %d (%s): topic %s retained %v qos %d payload %s; want %s retained at QoS 1 with %s",
				i, n.Status, m.Topic(), m.Retained(), m.Qos(), m.Payload(), topic, want)
		}
	}
}

// TestMQTTPublishFailure: a publish the broker did not acknowledge is an
// error naming the receiver and the topic; an alert id that cannot be a
// topic is refused before publishing.
func TestMQTTPublishFailure(t *testing.T) {
	t.Parallel()
	calls := 0
	r, err := New(config.AlertReceiver{Name: "bus", Type: config.ReceiverMQTT, Topic: "icugate/h1/alerts"},
		Deps{Publish: func(context.Context, string, byte, bool, []byte) error {
			calls++
			return errors.New("not connected")
		}})
	if err != nil {
		t.Fatal(err)
	}
	err = r.Send(context.Background(), firingAt(time.Now(), "a/b"))
	if err == nil || err.Error() != "receiver bus: publishing on MQTT topic icugate/h1/alerts/a/b: not connected" {
		t.Errorf("failed publish: %v", err)
	}
	err = r.Send(context.Background(), firingAt(time.Now(), "a/#"))
	if err == nil || !strings.Contains(err.Error(), `alert id "a/#"`) || calls != 1 {
		t.Errorf("wildcard alert id: %v after %d publishes", err, calls)
	}
}
