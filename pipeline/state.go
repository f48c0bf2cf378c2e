package pipeline

import "fmt"

// DeviceState is what a device is at a moment (PRODUCT §4): exactly one of
// offline, fault, maintenance, in_use, standby. It marshals as its name.
type DeviceState uint8

// Device states. The zero value is offline: a device never seen is offline.
const (
	Offline DeviceState = iota
	Fault
	Maintenance
	InUse
	Standby
	numDeviceStates
)

var deviceStateNames = [numDeviceStates]string{"offline", "fault", "maintenance", "in_use", "standby"}

// String returns the state's name as used in the API and InfluxDB.
func (s DeviceState) String() string {
	if s < numDeviceStates {
		return deviceStateNames[s]
	}
	return fmt.Sprintf("DeviceState(%d)", uint8(s))
}

// MarshalText encodes the state as its name.
func (s DeviceState) MarshalText() ([]byte, error) {
	if s >= numDeviceStates {
		return nil, fmt.Errorf("invalid device state %d", uint8(s))
	}
	return []byte(deviceStateNames[s]), nil
}

// UnmarshalText decodes a state name.
func (s *DeviceState) UnmarshalText(b []byte) error {
	for i, n := range deviceStateNames {
		if n == string(b) {
			*s = DeviceState(i)
			return nil
		}
	}
	return fmt.Errorf("unknown device state %q", b)
}

// healthy reports whether a device in this state can serve a bed: online,
// not faulted, not out of service.
func (s DeviceState) healthy() bool { return s == InUse || s == Standby }

// BedState is the held state of a bed (PRODUCT §5). A bed is equipped when
// it is occupied or available; degraded otherwise.
type BedState uint8

// Bed states. The zero value is degraded: a bed whose devices have not been
// seen is not equipped.
const (
	Degraded BedState = iota
	Available
	Occupied
	numBedStates
)

var bedStateNames = [numBedStates]string{"degraded", "available", "occupied"}

// String returns the state's name.
func (s BedState) String() string {
	if s < numBedStates {
		return bedStateNames[s]
	}
	return fmt.Sprintf("BedState(%d)", uint8(s))
}

// Equipped reports whether every required device of the bed is ready.
func (s BedState) Equipped() bool { return s == Available || s == Occupied }

// MarshalText encodes the state as its name.
func (s BedState) MarshalText() ([]byte, error) {
	if s >= numBedStates {
		return nil, fmt.Errorf("invalid bed state %d", uint8(s))
	}
	return []byte(bedStateNames[s]), nil
}

// UnmarshalText decodes a state name.
func (s *BedState) UnmarshalText(b []byte) error {
	for i, n := range bedStateNames {
		if n == string(b) {
			*s = BedState(i)
			return nil
		}
	}
	return fmt.Errorf("unknown bed state %q", b)
}

// DeviceStateNames returns every device state's name, in order.
func DeviceStateNames() []string { return append([]string(nil), deviceStateNames[:]...) }

// BedStateNames returns every bed state's name, in order.
func BedStateNames() []string { return append([]string(nil), bedStateNames[:]...) }
