package simulator

import (
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	mb "github.com/simonvetter/modbus"

	"github.com/icugate/icugate/config"
)

// readLog is an OnRead hook that records what it is told.
type readLog struct {
	mu    sync.Mutex
	reads map[string]int
	last  time.Time
}

func (l *readLog) onRead(device string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reads[device]++
	l.last = at
}

func (l *readLog) count(device string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reads[device]
}

// TestOnReadCountsAnsweredReads checks that the hook sees every read
// answered with data, on Modbus TCP and RTU over TCP, and nothing else:
// not exceptions, not refused writes, not requests to an absent unit.
func TestOnReadCountsAnsweredReads(t *testing.T) {
	site := testSite(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rtuAddr := ln.Addr().String()
	ln.Close()
	site.Devices = append(site.Devices, config.Device{ID: "r1", Kind: "ventilator", Profile: "p",
		Modbus: &config.ModbusDevice{RTUOverTCP: rtuAddr, UnitID: 3}})
	tcpAddr := site.Devices[0].Modbus.Address

	hook := &readLog{reads: map[string]int{}}
	s, err := New(site, Options{Logger: slog.New(slog.DiscardHandler), OnRead: hook.onRead})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SetFaults("v2", Faults{Exception: true}); err != nil {
		t.Fatal(err)
	}

	client := func(url string, unit uint8) *mb.ModbusClient {
		t.Helper()
		c, err := mb.NewClient(&mb.ClientConfiguration{URL: url, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Open(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetUnitId(unit)
		return c
	}
	v1 := client("tcp://"+tcpAddr, 1)
	v2 := client("tcp://"+tcpAddr, 2)
	absent := client("tcp://"+tcpAddr, 9)
	r1 := client("rtuovertcp://"+rtuAddr, 3)

	before := time.Now()
	steps := []struct {
		name    string
		do      func() error
		wantErr bool
	}{
		{"tcp holding", func() error { _, err := v1.ReadRegisters(0, 3, mb.HOLDING_REGISTER); return err }, false},
		{"tcp input", func() error { _, err := v1.ReadRegisters(0, 2, mb.INPUT_REGISTER); return err }, false},
		{"tcp coils", func() error { _, err := v1.ReadCoils(0, 8); return err }, false},
		{"tcp discrete", func() error { _, err := v1.ReadDiscreteInputs(0, 8); return err }, false},
		{"tcp write refused", func() error { return v1.WriteRegister(0, 1) }, true},
		{"tcp out of range", func() error { _, err := v1.ReadRegisters(65535, 2, mb.HOLDING_REGISTER); return err }, true},
		{"tcp exception fault", func() error { _, err := v2.ReadRegisters(0, 3, mb.HOLDING_REGISTER); return err }, true},
		{"tcp absent unit", func() error { _, err := absent.ReadRegisters(0, 1, mb.HOLDING_REGISTER); return err }, true},
		{"rtu holding", func() error { _, err := r1.ReadRegisters(0, 3, mb.HOLDING_REGISTER); return err }, false},
		{"rtu holding again", func() error { _, err := r1.ReadRegisters(1, 2, mb.HOLDING_REGISTER); return err }, false},
	}
	for _, st := range steps {
		if err := st.do(); (err != nil) != st.wantErr {
			t.Fatalf("%s: err %v, want error %v", st.name, err, st.wantErr)
		}
	}
	for dev, want := range map[string]int{"v1": 4, "v2": 0, "r1": 2} {
		if got := hook.count(dev); got != want {
			t.Errorf("OnRead saw %d reads of %s, want %d", got, dev, want)
		}
	}
	hook.mu.Lock()
	last := hook.last
	hook.mu.Unlock()
	if last.Before(before) || last.After(time.Now()) {
		t.Errorf("OnRead time %v is not the time of the answer (after %v)", last, before)
	}
}

// TestOnReadUnset checks that a simulator without the hook serves as before.
func TestOnReadUnset(t *testing.T) {
	site := testSite(t)
	s, err := New(site, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := mb.NewClient(&mb.ClientConfiguration{URL: "tcp://" + site.Devices[0].Modbus.Address, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Open(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ReadRegisters(0, 3, mb.HOLDING_REGISTER); err != nil {
		t.Fatal(err)
	}
}
