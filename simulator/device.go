package simulator

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/icugate/icugate/config"
)

// Device states a simulated device can be put in (PRODUCT §4). Offline
// means it stops answering.
const (
	StateInUse       = "in_use"
	StateStandby     = "standby"
	StateFault       = "fault"
	StateMaintenance = "maintenance"
	StateOffline     = "offline"
)

// ValidState reports whether s is a state the control API accepts.
func ValidState(s string) bool {
	switch s {
	case StateInUse, StateStandby, StateFault, StateMaintenance, StateOffline:
		return true
	}
	return false
}

// Faults are misbehaviours switched on per device, to test the gateway.
type Faults struct {
	// Late answers after the client's timeout (every request, or every
	// LateEvery-th when LateEvery > 0).
	Late      bool `json:"late"`
	LateEvery int  `json:"late_every"`
	// Exception answers every request with exception 4 (server device
	// failure).
	Exception bool `json:"exception"`
	// Close drops the connection instead of answering.
	Close bool `json:"close"`
}

// DeviceInfo is what GET /devices lists for one simulated device.
type DeviceInfo struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Transport string `json:"transport"`
	Address   string `json:"address,omitempty"`
	Unit      int    `json:"unit,omitempty"`
	State     string `json:"state"`
	Faults    Faults `json:"faults"`
}

// verdict is what a device does with one request.
type verdict int

const (
	answer    verdict = iota
	silent            // do not answer (offline)
	exception         // answer with an exception
	drop              // close the connection
)

// device is one simulated Modbus device.
type device struct {
	cfg  *config.Device
	prof *config.Profile

	mu        sync.Mutex
	state     string
	faults    Faults
	overrides map[string]any
	tables    *Tables
	requests  int
	changed   chan struct{} // closed and replaced on every state change
	lateBy    time.Duration
}

func newDevice(cfg *config.Device, prof *config.Profile, lateBy time.Duration) (*device, error) {
	d := &device{cfg: cfg, prof: prof, state: StateStandby, changed: make(chan struct{}), lateBy: lateBy}
	if err := d.encode(); err != nil {
		return nil, err
	}
	return d, nil
}

// encode rebuilds the device's tables from its profile's simulate map for
// the current state, its overrides and its configured serial. Caller holds
// mu (or owns d).
func (d *device) encode() error {
	st := d.state
	if st == StateOffline {
		return nil // keeps the last tables; nothing is served
	}
	values := map[string]any{}
	for k, v := range d.prof.Simulate[st] {
		values[k] = v
	}
	if d.prof.Serial != "" && d.cfg.Serial != "" {
		values[d.prof.Serial] = serialValue(d.prof, d.cfg.Serial)
	}
	for k, v := range d.overrides {
		values[k] = v
	}
	t, err := EncodeProfile(d.prof, values)
	if err != nil {
		return fmt.Errorf("device %s: state %s: %w", d.cfg.ID, st, err)
	}
	d.tables = t
	return nil
}

// serialValue is the configured serial as the profile's serial value holds
// it: a string, or a number for numeric serials.
func serialValue(p *config.Profile, serial string) any {
	i := p.Index(p.Serial)
	if i < 0 || p.Values[i].Type == config.TypeString {
		return serial
	}
	if u, err := strconv.ParseUint(serial, 10, 64); err == nil {
		return u
	}
	if f, err := strconv.ParseFloat(serial, 64); err == nil {
		return f
	}
	return serial
}

func (d *device) setState(s string) error {
	if !ValidState(s) {
		return fmt.Errorf("device %s: unknown state %q (want in_use, standby, fault, maintenance or offline)", d.cfg.ID, s)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.state
	d.state = s
	if err := d.encode(); err != nil {
		d.state = old
		return err
	}
	close(d.changed)
	d.changed = make(chan struct{})
	return nil
}

func (d *device) setFaults(f Faults) {
	d.mu.Lock()
	d.faults = f
	d.requests = 0
	d.mu.Unlock()
}

func (d *device) setValues(v map[string]any) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.overrides
	d.overrides = v
	if err := d.encode(); err != nil {
		d.overrides = old
		return err
	}
	return nil
}

func (d *device) info() DeviceInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := d.cfg.Modbus
	return DeviceInfo{ID: d.cfg.ID, Kind: d.cfg.Kind, Transport: d.cfg.Transport(),
		Address: m.Endpoint(), Unit: m.UnitID, State: d.state, Faults: d.faults}
}

// decide returns what to do with the next request, how long to delay the
// answer, and a channel closed when the state next changes.
func (d *device) decide() (verdict, time.Duration, <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.requests++
	switch {
	case d.state == StateOffline:
		return silent, 0, d.changed
	case d.faults.Close:
		return drop, 0, d.changed
	case d.faults.Exception:
		return exception, 0, d.changed
	}
	var delay time.Duration
	if d.faults.Late && (d.faults.LateEvery <= 1 || d.requests%d.faults.LateEvery == 0) {
		delay = d.lateBy
	}
	return answer, delay, d.changed
}

var errIllegalAddress = errors.New("illegal data address")

// readRegisters returns qty registers of a register table.
func (d *device) readRegisters(input bool, addr, qty uint16) ([]uint16, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if int(addr)+int(qty) > 65536 {
		return nil, errIllegalAddress
	}
	src := d.tables.Holding
	if input {
		src = d.tables.Input
	}
	out := make([]uint16, qty)
	for k := range out {
		out[k] = src[addr+uint16(k)]
	}
	return out, nil
}

// readBits returns qty bits of a bit table.
func (d *device) readBits(discrete bool, addr, qty uint16) ([]bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if int(addr)+int(qty) > 65536 {
		return nil, errIllegalAddress
	}
	src := d.tables.Coils
	if discrete {
		src = d.tables.Discrete
	}
	out := make([]bool, qty)
	for k := range out {
		out[k] = src[addr+uint16(k)]
	}
	return out, nil
}
