package mqtt

import (
	"slices"
	"strings"
	"testing"

	"github.com/icugate/icugate/config"
)

func routingSite(t *testing.T, devices ...config.Device) *config.Site {
	t.Helper()
	p := testProfile(t)
	other := testProfile(t)
	other.Name, other.Topic = "other", "ward/{id}"
	return &config.Site{
		Hospital: config.Hospital{ID: "h1", Region: "r1"},
		Devices:  devices,
		Profiles: map[string]*config.Profile{p.Name: p, other.Name: other},
		MQTT:     &config.MQTT{Broker: "tcp://127.0.0.1:1"},
	}
}

func mqttDev(id, profile, topic string) config.Device {
	return config.Device{ID: id, Kind: "ventilator", Profile: profile, MQTT: &config.MQTTDevice{Topic: topic}}
}

func TestRoutingPlansWildcardsForSharedPatterns(t *testing.T) {
	site := routingSite(t,
		mqttDev("v1", "test-mqtt", ""),
		mqttDev("v2", "test-mqtt", "devices/v2/status"), // explicit, same as the pattern
		mqttDev("v3", "test-mqtt", "legacy/v3"),         // own topic
		mqttDev("w1", "other", ""),                      // alone on its pattern
		config.Device{ID: "m1", Profile: "test-mqtt", Modbus: &config.ModbusDevice{Address: "x:502"}},
	)
	r, err := buildRouting(site)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"devices/+/status", "legacy/v3", "ward/w1"}
	if !slices.Equal(r.filters, want) {
		t.Fatalf("filters %v, want %v", r.filters, want)
	}
	for topic, dev := range map[string]string{"devices/v1/status": "v1", "devices/v2/status": "v2", "legacy/v3": "v3", "ward/w1": "w1"} {
		if rt := r.lookup(topic); rt == nil || rt.device != dev {
			t.Errorf("lookup %s = %+v, want %s", topic, rt, dev)
		}
	}
	if rt := r.lookup("devices/ghost/status"); rt != nil {
		t.Errorf("unknown id on the wildcard routed to %s", rt.device)
	}
}

func TestRoutingErrors(t *testing.T) {
	cases := map[string]*config.Site{
		"already used": routingSite(t, mqttDev("v1", "test-mqtt", "a/b"), mqttDev("v2", "test-mqtt", "a/b")),
		"not loaded":   routingSite(t, mqttDev("v1", "nope", "")),
		"wildcards":    routingSite(t, mqttDev("v1", "test-mqtt", "a/+/b")),
	}
	for want, site := range cases {
		_, err := buildRouting(site)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "v") {
			t.Errorf("%s: err %v", want, err)
		}
	}
}

func TestWildcardOf(t *testing.T) {
	for in, want := range map[string]string{
		"devices/{id}/status": "devices/+/status",
		"{id}":                "+",
		"devices/x{id}/s":     "",
		"devices/{id}/{id}":   "",
		"devices/status":      "",
	} {
		if got := wildcardOf(in); got != want {
			t.Errorf("wildcardOf(%q) = %q, want %q", in, got, want)
		}
	}
}
