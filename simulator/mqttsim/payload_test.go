package mqttsim

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
)

func TestPayloadEveryStateOfTheShippedProfiles(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"generic-monitor-mqtt", "generic-ventilator-mqtt"} {
		p := profile(t, name)
		for state := range p.Simulate {
			b, err := Payload(p, &config.Device{ID: "d", Serial: "S-1"}, state, time.Unix(0, 0))
			if err != nil {
				t.Errorf("%s %s: %v", name, state, err)
				continue
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Errorf("%s %s: payload %s is not a JSON object: %v", name, state, b, err)
			}
			if !strings.Contains(string(b), `"S-1"`) {
				t.Errorf("%s %s: payload %s lacks the site's serial", name, state, b)
			}
		}
	}
}

// TestPayloadValues: unlisted values are zero of their type, strings and
// bools are encoded as such, numbers unscaled, and the serial is left to
// the state when the site gives none.
func TestPayloadValues(t *testing.T) {
	t.Parallel()
	half := 0.5
	p := &config.Profile{Name: "v", Serial: "sn", Values: []config.Value{
		{Name: "sn", Path: "sn", Type: config.TypeString},
		{Name: "mode", Path: "m", Type: config.TypeString},
		{Name: "on", Path: "on", Type: config.TypeBool},
		{Name: "n", Path: "n", Type: config.TypeUint16},
		{Name: "f", Path: "f", Type: config.TypeFloat32, Scale: &half},
		{Name: "fromtext", Path: "x", Type: config.TypeUint16},
		{Name: "null", Path: "z", Type: config.TypeUint16},
	}, Simulate: map[string]map[string]any{
		"standby": {},
		"in_use":  {"sn": "FROM-STATE", "mode": 7, "on": "1", "n": 2.6, "f": 1.5, "fromtext": "12", "null": nil},
	}}
	for _, c := range []struct {
		state, serial, want string
	}{
		{"standby", "", `{"f":0,"m":"","n":0,"on":false,"sn":"","x":0,"z":0}`},
		{"in_use", "", `{"f":3,"m":"7","n":3,"on":true,"sn":"FROM-STATE","x":12,"z":0}`},
		{"in_use", "SITE", `{"f":3,"m":"7","n":3,"on":true,"sn":"SITE","x":12,"z":0}`},
	} {
		b, err := Payload(p, &config.Device{ID: "d", Serial: c.serial}, c.state, time.Now())
		if err != nil || string(b) != c.want {
			t.Errorf("%s serial %q: %s, %v; want %s", c.state, c.serial, b, err, c.want)
		}
	}
}

func TestPayloadErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		values []config.Value
		sim    map[string]any
		want   string
	}{
		{"not a number", []config.Value{{Name: "n", Path: "n", Type: config.TypeUint16}}, map[string]any{"n": []int{1}}, "not a number"},
		{"text that is no number", []config.Value{{Name: "n", Path: "n", Type: config.TypeUint16}}, map[string]any{"n": "many"}, "value n"},
		{"value and object at one path", []config.Value{
			{Name: "a", Path: "s", Type: config.TypeUint16},
			{Name: "b", Path: "s.x", Type: config.TypeUint16},
		}, nil, "both a value and an object"},
	} {
		p := &config.Profile{Name: "bad", Values: c.values, Simulate: map[string]map[string]any{"in_use": c.sim}}
		if _, err := Payload(p, &config.Device{ID: "d"}, "in_use", time.Now()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want an error saying %q", c.name, err, c.want)
		}
	}
	p := &config.Profile{Name: "t", TimePath: "t.x", Values: []config.Value{{Name: "a", Path: "t", Type: config.TypeUint16}}}
	if _, err := Payload(p, &config.Device{ID: "d"}, "standby", time.Now()); err == nil || !strings.Contains(err.Error(), "time_path") {
		t.Errorf("time path under a value: %v", err)
	}
}

// TestArraysOnlyForDenseIndexes: objects become arrays only when their
// keys are exactly 0..n-1.
func TestArraysOnlyForDenseIndexes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   map[string]any
		want string
	}{
		{map[string]any{"0": "a", "1": "b"}, `["a","b"]`},
		{map[string]any{"1": "b"}, `{"1":"b"}`},
		{map[string]any{"0": "a", "01": "b"}, `{"0":"a","01":"b"}`},
		{map[string]any{"0": map[string]any{"0": 1}}, `[[1]]`},
		{map[string]any{}, `{}`},
	} {
		b, _ := json.Marshal(arrays(c.in))
		if string(b) != c.want {
			t.Errorf("arrays(%v) = %s, want %s", c.in, b, c.want)
		}
	}
}

func TestNewRefusesDevicesItCannotSimulate(t *testing.T) {
	t.Parallel()
	noTopic := &config.Profile{Name: "nt", Values: []config.Value{{Name: "a", Path: "a", Type: config.TypeUint16}}}
	badSim := &config.Profile{Name: "bs", Topic: "x/{id}", Values: []config.Value{{Name: "a", Path: "a", Type: config.TypeUint16}},
		Simulate: map[string]map[string]any{"standby": {"a": "lots"}}}
	for _, c := range []struct {
		name string
		dev  config.Device
		want string
	}{
		{"profile not loaded", config.Device{ID: "d", Profile: "missing", MQTT: &config.MQTTDevice{}}, "not loaded"},
		{"no topic", config.Device{ID: "d", Profile: "nt", MQTT: &config.MQTTDevice{}}, "no topic"},
		{"standby does not encode", config.Device{ID: "d", Profile: "bs", MQTT: &config.MQTTDevice{}}, "device d"},
	} {
		site := &config.Site{Profiles: map[string]*config.Profile{"nt": noTopic, "bs": badSim}, Devices: []config.Device{c.dev}}
		if _, err := New(site, "tcp://127.0.0.1:1", Options{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want an error saying %q", c.name, err, c.want)
		}
	}
}

// TestDefaultsAndStatesWithoutSimulateValues: the client id and interval
// defaults, and a state the profile cannot simulate is refused while
// standby and offline always work.
func TestDefaultsAndStatesWithoutSimulateValues(t *testing.T) {
	t.Parallel()
	p := &config.Profile{Name: "few", Topic: "t/{id}", Values: []config.Value{{Name: "a", Path: "a", Type: config.TypeUint16}},
		Simulate: map[string]map[string]any{"in_use": {"a": 1}}}
	site := &config.Site{Hospital: config.Hospital{ID: "h9"}, Profiles: map[string]*config.Profile{"few": p},
		Devices: []config.Device{{ID: "d", Kind: "monitor", Profile: "few", MQTT: &config.MQTTDevice{}}}}
	s, err := New(site, "tcp://127.0.0.1:1", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.opts.ClientID != "icusim-h9" {
		t.Errorf("client id %q, want icusim-h9", s.opts.ClientID)
	}
	if d := s.Devices()[0]; d.Topic != "t/d" || d.Interval != config.DefaultMQTTInterval || d.Profile != "few" {
		t.Errorf("device %+v", d)
	}
	for state, ok := range map[string]bool{StateInUse: true, StateStandby: true, StateOffline: true, StateFault: false, StateMaintenance: false} {
		if err := s.SetState("d", state); (err == nil) != ok {
			t.Errorf("SetState(%s): %v, want accepted %v", state, err, ok)
		}
	}
}
