package main

import (
	"fmt"

	"github.com/icugate/icugate/simulator"
	"github.com/icugate/icugate/simulator/mqttsim"
)

// mqttBackend puts the MQTT simulator behind the control API, next to the
// Modbus one: GET /devices lists both, PUT /devices/{id}/state reaches
// whichever simulates the device.
type mqttBackend struct{ sim *mqttsim.Sim }

func (b mqttBackend) Devices() []simulator.DeviceInfo {
	ds := b.sim.Devices()
	out := make([]simulator.DeviceInfo, 0, len(ds))
	for _, d := range ds {
		out = append(out, simulator.DeviceInfo{ID: d.ID, Kind: d.Kind, Transport: "mqtt", Address: d.Topic, State: d.State})
	}
	return out
}

func (b mqttBackend) SetState(id, state string) error {
	known := false
	for _, d := range b.sim.Devices() {
		if d.ID == id {
			known = true
			break
		}
	}
	if !known {
		return simulator.ErrUnknownDevice
	}
	if err := b.sim.SetState(id, state); err != nil {
		return fmt.Errorf("%w", err)
	}
	return nil
}
