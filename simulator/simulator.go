// Package simulator simulates the Modbus devices of a site on real
// transports: one Modbus TCP server (github.com/simonvetter/modbus, a
// different implementation from the gateway's client, which keeps tests
// honest) per device address, with unit ids honoured so that several
// devices can share an address, and an RTU-over-TCP server per rtu_over_tcp
// address. Register contents are encoded from the same profiles the
// gateway decodes with, from each profile's simulate: map for the device's
// current state. MQTT devices are left to simulator/mqttsim; serial RTU
// devices are not simulated.
package simulator

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/icugate/icugate/config"
)

// Backend is a set of simulated devices the control API can list and
// steer. The Modbus Simulator is one; the MQTT simulator is another.
// Implementations are safe for concurrent use.
type Backend interface {
	// Devices lists the simulated devices.
	Devices() []DeviceInfo
	// SetState puts a device in a state; ErrUnknownDevice if not simulated here.
	SetState(id, state string) error
}

// ErrUnknownDevice is returned for a device the backend does not simulate.
var ErrUnknownDevice = errors.New("device not simulated")

// Options tune the simulator.
type Options struct {
	// Logger; default slog.Default().
	Logger *slog.Logger
	// LateBy is how long a "late" answer is delayed; default twice the
	// device's configured timeout, so it always arrives after it.
	LateBy time.Duration
	// MaxClients caps connections per address (default 64).
	MaxClients uint
	// OnRead, when set, is called for each read request answered with
	// data (not for exceptions, silences or refused writes), with the
	// device's id and the time of the answer. Benchmarks count polls and
	// the gaps between them with it, on the device's side of the wire. It
	// runs on the goroutine serving the connection: it must be quick and
	// safe for concurrent use.
	OnRead func(device string, at time.Time)
}

// Simulator serves every Modbus TCP and RTU-over-TCP device of a site.
type Simulator struct {
	log     *slog.Logger
	devices map[string]*device
	ids     []string
	eps     []*endpointServer
	done    chan struct{}
	stop    sync.Once
	writes  atomic.Int64
	opts    Options
}

// New builds a simulator for a site whose profiles are loaded and
// compiled. Start starts serving.
func New(site *config.Site, opts Options) (*Simulator, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxClients == 0 {
		opts.MaxClients = 64
	}
	s := &Simulator{log: opts.Logger, devices: map[string]*device{}, done: make(chan struct{}), opts: opts}
	byAddr := map[string]*endpointServer{}
	for i := range site.Devices {
		cfg := &site.Devices[i]
		switch {
		case cfg.Modbus == nil:
			s.log.Debug("device not simulated here (not modbus)", "device", cfg.ID, "transport", cfg.Transport())
			continue
		case cfg.Modbus.RTU != nil:
			s.log.Warn("serial RTU device not simulated", "device", cfg.ID, "port", cfg.Modbus.RTU.Device)
			continue
		}
		prof := site.Profiles[cfg.Profile]
		if prof == nil {
			return nil, fmt.Errorf("device %s: profile %q not loaded", cfg.ID, cfg.Profile)
		}
		lateBy := opts.LateBy
		if lateBy <= 0 {
			lateBy = 2 * cfg.Modbus.Timeout
			if lateBy <= 0 {
				lateBy = 2 * config.DefaultModbusTimeout
			}
		}
		d, err := newDevice(cfg, prof, lateBy)
		if err != nil {
			return nil, err
		}
		s.devices[cfg.ID] = d
		s.ids = append(s.ids, cfg.ID)
		rtu := cfg.Modbus.RTUOverTCP != ""
		key := fmt.Sprintf("%v %s", rtu, cfg.Modbus.Endpoint())
		ep := byAddr[key]
		if ep == nil {
			ep = &endpointServer{sim: s, addr: cfg.Modbus.Endpoint(), rtu: rtu, units: map[uint8]*device{}, clients: map[string]bool{}}
			byAddr[key] = ep
			s.eps = append(s.eps, ep)
		}
		unit := uint8(cfg.Modbus.UnitID)
		if other := ep.units[unit]; other != nil {
			return nil, fmt.Errorf("device %s: unit %d at %s already used by device %s", cfg.ID, unit, ep.addr, other.cfg.ID)
		}
		ep.units[unit] = d
	}
	sort.Strings(s.ids)
	return s, nil
}

// Start listens on every device address. On error nothing is left running.
func (s *Simulator) Start() error {
	for _, ep := range s.eps {
		if err := ep.start(); err != nil {
			s.Close()
			return fmt.Errorf("simulate %s: %w", ep.addr, err)
		}
	}
	return nil
}

// Close stops every server and wakes every delayed answer.
func (s *Simulator) Close() error {
	s.stop.Do(func() { close(s.done) })
	for _, ep := range s.eps {
		ep.close()
	}
	return nil
}

// Devices lists the simulated devices, sorted by id.
func (s *Simulator) Devices() []DeviceInfo {
	out := make([]DeviceInfo, 0, len(s.ids))
	for _, id := range s.ids {
		out = append(out, s.devices[id].info())
	}
	return out
}

// SetState puts a device in a state: its registers then hold the profile's
// simulate values for that state; offline stops it answering.
func (s *Simulator) SetState(id, state string) error {
	d := s.devices[id]
	if d == nil {
		return fmt.Errorf("device %s: %w", id, ErrUnknownDevice)
	}
	return d.setState(state)
}

// SetFaults switches a device's faults.
func (s *Simulator) SetFaults(id string, f Faults) error {
	d := s.devices[id]
	if d == nil {
		return fmt.Errorf("device %s: %w", id, ErrUnknownDevice)
	}
	d.setFaults(f)
	return nil
}

// SetValues overrides values (by name) on top of the state's simulate map,
// e.g. to serve distinct values per device in tests; nil clears them.
func (s *Simulator) SetValues(id string, values map[string]any) error {
	d := s.devices[id]
	if d == nil {
		return fmt.Errorf("device %s: %w", id, ErrUnknownDevice)
	}
	return d.setValues(values)
}

// Writes counts write requests received (the gateway must send none).
func (s *Simulator) Writes() int64 { return s.writes.Load() }

// Clients returns how many distinct client connections an address has
// seen since start (loopback clients differ by source port).
func (s *Simulator) Clients(addr string) int {
	n := 0
	for _, ep := range s.eps {
		if ep.addr == addr {
			ep.mu.Lock()
			n += len(ep.clients)
			ep.mu.Unlock()
		}
	}
	return n
}

// wait blocks for d, or until the state changes or the simulator stops; it
// reports whether the full time passed.
func (s *Simulator) wait(d time.Duration, changed <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-changed:
		return false
	case <-s.done:
		return false
	}
}
