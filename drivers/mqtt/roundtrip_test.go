package mqtt

import (
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/simulator/mqttsim"
)

// TestSimulatorPayloadsDecodeToTheirState checks that what icusim
// publishes for a state is what the gateway decodes back into that state,
// for every shipped MQTT profile and every simulated state.
func TestSimulatorPayloadsDecodeToTheirState(t *testing.T) {
	now := time.Now()
	for name, p := range loadProfiles(t) {
		dec := newDecoder(p, false)
		dev := &config.Device{ID: "d1", Serial: "SN-d1"}
		for _, state := range []string{mqttsim.StateStandby, mqttsim.StateInUse, mqttsim.StateFault, mqttsim.StateMaintenance} {
			payload, err := mqttsim.Payload(p, dev, state, now)
			if err != nil {
				t.Fatalf("%s %s: %v", name, state, err)
			}
			got, b := dec.decode(payload)
			if b != nil {
				t.Fatalf("%s %s: payload %s refused: %v", name, state, payload, b)
			}
			o := pipelineObservation(got)
			site := &config.Site{Profiles: map[string]*config.Profile{name: p}, Devices: []config.Device{{ID: "d1", Profile: name}}}
			if s := stateOf(t, site, o); s != state {
				t.Errorf("%s: simulated %s decodes as %s (payload %s)", name, state, s, payload)
			}
			if got.serial != "SN-d1" || !got.hasTime || got.time.Sub(now).Abs() > time.Millisecond {
				t.Errorf("%s %s: serial %q time %v", name, state, got.serial, got.time)
			}
		}
	}
}

func pipelineObservation(d decoded) pipeline.Observation {
	return pipeline.Observation{Device: "d1", Values: d.values, Serial: d.serial, Time: d.time}
}
