package simulator

import (
	"errors"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	gb "github.com/goburrow/modbus"

	"github.com/icugate/icugate/config"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// tablesProfile has a value in each of the four tables, a serial and a
// bit, with simulate values for in_use and fault.
func tablesProfile(t *testing.T) *config.Profile {
	t.Helper()
	p := &config.Profile{Name: "tables", Kind: "ventilator", Values: []config.Value{
		{Name: "status", Table: config.TableHolding, Address: ptr(0)},
		{Name: "sn", Table: config.TableHolding, Address: ptr(1), Type: config.TypeUint32},
		{Name: "alarm", Table: config.TableCoil, Address: ptr(3)},
		{Name: "door", Table: config.TableDiscrete, Address: ptr(5)},
		{Name: "temp", Table: config.TableInput, Address: ptr(10), Type: config.TypeInt16, Scale: ptr(0.1)},
		{Name: "running", Table: config.TableHolding, Address: ptr(20), Bit: ptr(2)},
	}, Serial: "sn", Simulate: map[string]map[string]any{
		"in_use": {"status": 1, "alarm": true, "door": true, "temp": 36.6, "running": true},
		"fault":  {"status": 4, "alarm": true, "temp": -5},
	}}
	if err := p.Compile(); err != nil {
		t.Fatal(err)
	}
	return p
}

// tablesSite is two devices sharing one address (units 1 and 2) and a
// third alone on another.
func tablesSite(t *testing.T) (site *config.Site, shared, alone string) {
	t.Helper()
	shared, alone = freeAddr(t), freeAddr(t)
	return &config.Site{Profiles: map[string]*config.Profile{"tables": tablesProfile(t)}, Devices: []config.Device{
		{ID: "v1", Kind: "ventilator", Profile: "tables", Serial: "77", Modbus: &config.ModbusDevice{Address: shared, UnitID: 1}},
		{ID: "v2", Kind: "ventilator", Profile: "tables", Serial: "78", Modbus: &config.ModbusDevice{Address: shared, UnitID: 2}},
		{ID: "v3", Kind: "ventilator", Profile: "tables", Modbus: &config.ModbusDevice{Address: alone, UnitID: 1}},
	}}, shared, alone
}

// startSim starts a simulator for the test and closes it at cleanup.
func startSim(t *testing.T, site *config.Site, opts Options) *Simulator {
	t.Helper()
	opts.Logger = slog.New(slog.DiscardHandler)
	s, err := New(site, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// waitListening waits until addr accepts connections again.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-deadline:
			t.Fatalf("%s does not accept connections: %v", addr, err)
		case <-tick.C:
		}
	}
}

// client is goburrow/modbus, an implementation independent of both the
// simulator's server and the gateway's driver.
type client struct {
	gb.Client
	h *gb.TCPClientHandler
}

func dial(t *testing.T, addr string, unit byte, timeout time.Duration) *client {
	t.Helper()
	h := gb.NewTCPClientHandler(addr)
	h.Timeout, h.SlaveId = timeout, unit
	if err := h.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return &client{Client: gb.NewClient(h), h: h}
}

// exceptionCode is the Modbus exception of err, or 0 if it is none.
func exceptionCode(err error) byte {
	var me *gb.ModbusError
	if errors.As(err, &me) {
		return me.ExceptionCode
	}
	return 0
}

// TestReadFunctionCodes reads each table with its function code in each
// state and checks the bytes on the wire.
func TestReadFunctionCodes(t *testing.T) {
	t.Parallel()
	site, shared, _ := tablesSite(t)
	s := startSim(t, site, Options{})
	c := dial(t, shared, 1, 2*time.Second)
	type read struct {
		name string
		do   func() ([]byte, error)
	}
	coils := read{"fc1 coils 0-7", func() ([]byte, error) { return c.ReadCoils(0, 8) }}
	discrete := read{"fc2 discrete inputs 0-7", func() ([]byte, error) { return c.ReadDiscreteInputs(0, 8) }}
	holding := read{"fc3 holding 0-2", func() ([]byte, error) { return c.ReadHoldingRegisters(0, 3) }}
	input := read{"fc4 input 10", func() ([]byte, error) { return c.ReadInputRegisters(10, 1) }}
	bits := read{"fc3 holding 20", func() ([]byte, error) { return c.ReadHoldingRegisters(20, 1) }}
	for _, st := range []struct {
		state string
		want  map[string][]byte
	}{
		{StateStandby, map[string][]byte{coils.name: {0}, discrete.name: {0}, holding.name: {0, 0, 0, 0, 0, 77}, input.name: {0, 0}, bits.name: {0, 0}}},
		{StateInUse, map[string][]byte{coils.name: {1 << 3}, discrete.name: {1 << 5}, holding.name: {0, 1, 0, 0, 0, 77}, input.name: {0x01, 0x6E}, bits.name: {0, 1 << 2}}},
		{StateFault, map[string][]byte{coils.name: {1 << 3}, discrete.name: {0}, holding.name: {0, 4, 0, 0, 0, 77}, input.name: {0xFF, 0xCE}, bits.name: {0, 0}}},
		// No simulate values for maintenance: all zero but the serial.
		{StateMaintenance, map[string][]byte{coils.name: {0}, discrete.name: {0}, holding.name: {0, 0, 0, 0, 0, 77}, input.name: {0, 0}, bits.name: {0, 0}}},
	} {
		if err := s.SetState("v1", st.state); err != nil {
			t.Fatal(err)
		}
		for _, r := range []read{coils, discrete, holding, input, bits} {
			got, err := r.do()
			if err != nil || !slices.Equal(got, st.want[r.name]) {
				t.Errorf("%s, %s: % x, %v; want % x", st.state, r.name, got, err, st.want[r.name])
			}
		}
	}
}

// TestUnitIDsShareAnAddress: devices behind one address answer by unit
// id, each with its own serial and state; an absent unit gets "gateway
// target failed to respond", as from a converter with nothing behind it.
func TestUnitIDsShareAnAddress(t *testing.T) {
	t.Parallel()
	site, shared, alone := tablesSite(t)
	s := startSim(t, site, Options{})
	if err := s.SetState("v2", StateInUse); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		addr string
		unit byte
		want []byte
		exc  byte
	}{
		{shared, 1, []byte{0, 0, 0, 0, 0, 77}, 0},
		{shared, 2, []byte{0, 1, 0, 0, 0, 78}, 0},
		{alone, 1, []byte{0, 0, 0, 0, 0, 0}, 0},
		{shared, 3, nil, 0x0B},
		{alone, 2, nil, 0x0B},
	} {
		got, err := dial(t, c.addr, c.unit, 2*time.Second).ReadHoldingRegisters(0, 3)
		if exceptionCode(err) != c.exc || !slices.Equal(got, c.want) {
			t.Errorf("%s unit %d: % x, %v; want % x, exception %d", c.addr, c.unit, got, err, c.want, c.exc)
		}
	}
	if got := s.Clients(shared); got != 3 {
		t.Errorf("Clients(%s) = %d, want the 3 connections made to it", shared, got)
	}
}

// TestExceptionAnswers: writes are refused with "illegal function" and
// counted, reads past the end with "illegal data address", the exception
// fault with "server device failure".
func TestExceptionAnswers(t *testing.T) {
	t.Parallel()
	site, shared, _ := tablesSite(t)
	s := startSim(t, site, Options{})
	c := dial(t, shared, 1, 2*time.Second)
	for _, e := range []struct {
		name   string
		do     func() error
		exc    byte
		writes int64
	}{
		{"fc6 write register", func() error { _, err := c.WriteSingleRegister(0, 1); return err }, 1, 1},
		{"fc16 write registers", func() error { _, err := c.WriteMultipleRegisters(0, 2, []byte{0, 1, 0, 2}); return err }, 1, 2},
		{"fc5 write coil", func() error { _, err := c.WriteSingleCoil(3, 0xFF00); return err }, 1, 3},
		{"fc15 write coils", func() error { _, err := c.WriteMultipleCoils(0, 8, []byte{0xFF}); return err }, 1, 4},
		{"fc3 past 65535", func() error { _, err := c.ReadHoldingRegisters(65535, 2); return err }, 2, 4},
		{"fc4 past 65535", func() error { _, err := c.ReadInputRegisters(65500, 100); return err }, 2, 4},
		{"fc1 past 65535", func() error { _, err := c.ReadCoils(65530, 10); return err }, 2, 4},
		{"fc2 past 65535", func() error { _, err := c.ReadDiscreteInputs(65535, 2); return err }, 2, 4},
	} {
		if err := e.do(); exceptionCode(err) != e.exc {
			t.Errorf("%s: %v; want exception %d", e.name, err, e.exc)
		}
		if got := s.Writes(); got != e.writes {
			t.Errorf("after %s: Writes() = %d, want %d", e.name, got, e.writes)
		}
	}
	if err := s.SetFaults("v1", Faults{Exception: true}); err != nil {
		t.Fatal(err)
	}
	for name, read := range map[string]func() error{
		"fc1": func() error { _, err := c.ReadCoils(0, 1); return err },
		"fc2": func() error { _, err := c.ReadDiscreteInputs(0, 1); return err },
		"fc3": func() error { _, err := c.ReadHoldingRegisters(0, 1); return err },
		"fc4": func() error { _, err := c.ReadInputRegisters(0, 1); return err },
	} {
		if err := read(); exceptionCode(err) != 4 {
			t.Errorf("exception fault, %s: %v; want exception 4", name, err)
		}
	}
	// The other unit on the address is not affected.
	if _, err := dial(t, shared, 2, 2*time.Second).ReadHoldingRegisters(0, 1); err != nil {
		t.Errorf("unit 2 beside a faulty unit 1: %v", err)
	}
}

// TestOfflineHoldsRequestsUntilStateChanges: an offline device does not
// answer (the client times out); a request held when it comes back is
// let go, and the next one is answered.
func TestOfflineHoldsRequestsUntilStateChanges(t *testing.T) {
	t.Parallel()
	site, shared, _ := tablesSite(t)
	s := startSim(t, site, Options{})
	if err := s.SetState("v1", StateOffline); err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, shared, 1, 150*time.Millisecond).ReadHoldingRegisters(0, 1); err == nil || exceptionCode(err) != 0 {
		t.Fatalf("offline device: %v; want a timeout, no answer", err)
	}
	if got := s.Devices()[0]; got.State != StateOffline {
		t.Errorf("Devices()[0].State = %s, want offline", got.State)
	}
	// A raw request waits for the state change, then is let go with
	// "gateway target failed to respond" (the client is long gone).
	conn, err := net.Dial("tcp", shared)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(mbap(7, 1, 3, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := readMBAP(conn, 100*time.Millisecond); err == nil {
		t.Fatal("offline device answered")
	}
	if err := s.SetState("v1", StateInUse); err != nil {
		t.Fatal(err)
	}
	resp, err := readMBAP(conn, 5*time.Second)
	if err != nil || len(resp) < 9 || resp[7] != 0x83 || resp[8] != 0x0B {
		t.Fatalf("held request after the device came back: % x, %v; want exception 0x0B", resp, err)
	}
	got, err := dial(t, shared, 1, 2*time.Second).ReadHoldingRegisters(0, 1)
	if err != nil || !slices.Equal(got, []byte{0, 1}) {
		t.Errorf("after coming back in use: % x, %v; want status 1", got, err)
	}
}

// TestLateFault: late answers arrive after the client's timeout, every
// request or every n-th; the count restarts when faults are set.
func TestLateFault(t *testing.T) {
	t.Parallel()
	site, _, alone := tablesSite(t)
	s := startSim(t, site, Options{LateBy: 400 * time.Millisecond})
	if err := s.SetFaults("v3", Faults{Late: true, LateEvery: 3}); err != nil {
		t.Fatal(err)
	}
	var got []bool
	for range 6 {
		// A fresh connection each time: a late answer would otherwise
		// arrive as the answer to the next request.
		_, err := dial(t, alone, 1, 150*time.Millisecond).ReadHoldingRegisters(0, 1)
		got = append(got, err != nil)
	}
	if want := []bool{false, false, true, false, false, true}; !slices.Equal(got, want) {
		t.Errorf("late_every 3: timed out %v, want %v", got, want)
	}
	if err := s.SetFaults("v3", Faults{Late: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, alone, 1, 150*time.Millisecond).ReadHoldingRegisters(0, 1); err == nil {
		t.Error("late fault: answered within the timeout")
	}
	// Waiting long enough, the late answer does come, with the data.
	if b, err := dial(t, alone, 1, 2*time.Second).ReadHoldingRegisters(1, 2); err != nil || !slices.Equal(b, []byte{0, 0, 0, 0}) {
		t.Errorf("late answer: % x, %v", b, err)
	}
	if info := s.Devices()[2]; !info.Faults.Late || info.ID != "v3" {
		t.Errorf("Devices() does not show the fault: %+v", info)
	}
}

// TestCloseFaultDropsConnections: the connection is closed instead of an
// answer; with the fault cleared the device answers on a new connection.
func TestCloseFaultDropsConnections(t *testing.T) {
	t.Parallel()
	site, _, alone := tablesSite(t)
	s := startSim(t, site, Options{})
	if err := s.SetFaults("v3", Faults{Close: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, alone, 1, 2*time.Second).ReadHoldingRegisters(0, 1); err == nil {
		t.Fatalf("close fault: %v; want the connection dropped", err)
	}
	if err := s.SetFaults("v3", Faults{}); err != nil {
		t.Fatal(err)
	}
	// The drop restarts the address' server: it may refuse connections
	// for a moment, as a rebooting converter would.
	waitListening(t, alone)
	if _, err := dial(t, alone, 1, 2*time.Second).ReadHoldingRegisters(0, 1); err != nil {
		t.Errorf("after clearing the fault: %v", err)
	}
}

// TestSetValuesOverridesState: overrides sit on top of the state's values
// and survive a state change; a value that does not encode is refused and
// the previous overrides kept.
func TestSetValuesOverridesState(t *testing.T) {
	t.Parallel()
	site, shared, _ := tablesSite(t)
	s := startSim(t, site, Options{})
	c := dial(t, shared, 2, 2*time.Second)
	read := func() []byte {
		t.Helper()
		b, err := c.ReadHoldingRegisters(0, 3)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if err := s.SetValues("v2", map[string]any{"status": 9}); err != nil {
		t.Fatal(err)
	}
	if got := read(); !slices.Equal(got, []byte{0, 9, 0, 0, 0, 78}) {
		t.Errorf("override: % x", got)
	}
	if err := s.SetState("v2", StateFault); err != nil {
		t.Fatal(err)
	}
	if got := read(); got[1] != 9 {
		t.Errorf("override lost on a state change: % x", got)
	}
	if err := s.SetValues("v2", map[string]any{"status": -1}); err == nil {
		t.Error("status -1 (uint16) accepted")
	}
	if got := read(); got[1] != 9 {
		t.Errorf("a refused override replaced the previous one: % x", got)
	}
	if err := s.SetValues("v2", nil); err != nil {
		t.Fatal(err)
	}
	if got := read(); got[1] != 4 {
		t.Errorf("cleared overrides: status %d, want the fault state's 4", got[1])
	}
}

func TestUnknownDevices(t *testing.T) {
	t.Parallel()
	site, _, _ := tablesSite(t)
	s, err := New(site, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"SetState":  s.SetState("nope", StateInUse),
		"SetFaults": s.SetFaults("nope", Faults{}),
		"SetValues": s.SetValues("nope", nil),
	} {
		if !errors.Is(err, ErrUnknownDevice) {
			t.Errorf("%s of an unknown device: %v; want ErrUnknownDevice", name, err)
		}
	}
	if err := s.SetState("v1", "asleep"); err == nil || errors.Is(err, ErrUnknownDevice) {
		t.Errorf("unknown state: %v; want a state error", err)
	}
}

// TestNewRefusesBadSites and skips what it does not simulate.
func TestNewRefusesBadSites(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	p := tablesProfile(t)
	dev := func(id, prof string, unit int) config.Device {
		return config.Device{ID: id, Kind: "ventilator", Profile: prof, Modbus: &config.ModbusDevice{Address: addr, UnitID: unit}}
	}
	for _, c := range []struct {
		name string
		devs []config.Device
	}{
		{"unit used twice", []config.Device{dev("a", "tables", 1), dev("b", "tables", 1)}},
		{"profile not loaded", []config.Device{dev("a", "missing", 1)}},
	} {
		site := &config.Site{Profiles: map[string]*config.Profile{"tables": p}, Devices: c.devs}
		if _, err := New(site, Options{Logger: slog.New(slog.DiscardHandler)}); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	serial := config.Device{ID: "rtu", Kind: "ventilator", Profile: "tables", Modbus: &config.ModbusDevice{RTU: &config.RTU{Device: "/dev/ttyUSB0"}, UnitID: 1}}
	site := &config.Site{Profiles: map[string]*config.Profile{"tables": p}, Devices: []config.Device{serial, dev("a", "tables", 1)}}
	s, err := New(site, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Devices(); len(got) != 1 || got[0].ID != "a" || got[0].Address != addr || got[0].Unit != 1 {
		t.Errorf("Devices() = %+v; want only the TCP device (serial RTU is not simulated)", got)
	}
}

// TestStartOnABusyPortLeavesNothingRunning: when one address cannot be
// bound, Start fails and the addresses it had bound are free again.
func TestStartOnABusyPortLeavesNothingRunning(t *testing.T) {
	t.Parallel()
	site, shared, alone := tablesSite(t)
	busy, err := net.Listen("tcp", alone)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	s, err := New(site, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err == nil {
		s.Close()
		t.Fatal("Start on a busy port succeeded")
	}
	ln, err := net.Listen("tcp", shared)
	if err != nil {
		t.Fatalf("%s still bound after a failed Start: %v", shared, err)
	}
	ln.Close()
	if err := s.Close(); err != nil {
		t.Errorf("Close after a failed Start: %v", err)
	}
}

// TestCloseStopsServingAndWakesHeldRequests: Close returns while a
// request is held by an offline device, and the address is then free.
func TestCloseStopsServingAndWakesHeldRequests(t *testing.T) {
	t.Parallel()
	site, shared, _ := tablesSite(t)
	s, err := New(site, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState("v1", StateOffline); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", shared)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(mbap(1, 1, 3, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := readMBAP(conn, 100*time.Millisecond); err == nil {
		t.Fatal("offline device answered")
	}
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return while a request was held")
	}
	if _, err := net.DialTimeout("tcp", shared, time.Second); err == nil {
		t.Error("address still accepts connections after Close")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
