package main

import (
	"bytes"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/drivers/modbus"
	"github.com/icugate/icugate/simulator"
)

// TestProbeReadsSimulatedDevice probes a simulated ventilator (shipped
// profile) by address and checks the printed values, serial and state.
func TestProbeReadsSimulatedDevice(t *testing.T) {
	profFile, err := filepath.Abs("../../configs/profiles/generic-ventilator-modbus.yaml")
	if err != nil {
		t.Fatal(err)
	}
	prof, err := config.LoadProfile(profFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, rtu := range []bool{false, true} {
		t.Run(fmt.Sprint("rtu-over-tcp=", rtu), func(t *testing.T) {
			addr := freePort(t)
			m := &config.ModbusDevice{Address: addr, UnitID: 4, Timeout: time.Second}
			if rtu {
				m = &config.ModbusDevice{RTUOverTCP: addr, UnitID: 4, Timeout: time.Second}
			}
			site := &config.Site{Profiles: map[string]*config.Profile{prof.Name: prof},
				Devices: []config.Device{{ID: "v1", Kind: prof.Kind, Profile: prof.Name, Serial: "4242", Modbus: m}}}
			sim, err := simulator.New(site, simulator.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := sim.Start(); err != nil {
				t.Fatal(err)
			}
			defer sim.Close()
			if err := sim.SetState("v1", "in_use"); err != nil {
				t.Fatal(err)
			}
			args := []string{"-address", addr, "-unit", "4", "-profile", profFile, "-orders"}
			if rtu {
				args = append(args, "-rtu-over-tcp")
			}
			var out, errOut bytes.Buffer
			if code := probe(args, &out, &errOut); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			for _, want := range []string{"operating_hours", "44BE 8000", "1524", "as CDAB", `serial: "4242"`, "state: in_use"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

// TestProbeFailsWithoutDevice exits non-zero when nothing answers.
func TestProbeFailsWithoutDevice(t *testing.T) {
	var out, errOut bytes.Buffer
	code := probe([]string{"-address", freePort(t), "-profile", "../../configs/profiles/generic-ventilator-modbus.yaml", "-timeout", "200ms"}, &out, &errOut)
	if code == 0 {
		t.Fatalf("exit 0 with no device; output %s", out.String())
	}
	if !strings.Contains(errOut.String(), "refused") {
		t.Errorf("error does not say why: %s", errOut.String())
	}
	if code = probe([]string{"-device", "x"}, &out, &errOut); code != 2 {
		t.Errorf("bad flags: exit %d, want 2", code)
	}
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestOrderWarning: a float read in the wrong word order is flagged even
// when it passes its range check, and the order that makes it plausible is
// named; a plausible value gets no warning.
func TestOrderWarning(t *testing.T) {
	t.Parallel()
	addr := 10
	v := &config.Value{Name: "run_hours", Table: config.TableHolding, Address: &addr, Type: config.TypeFloat32, Range: []float64{0, 100000}}
	// 1.0 is 0x3F800000; a device sending the low word first (CDAB) puts
	// 0x0000 first, which ABCD reads as 2.3e-41: "in range", but no hours.
	raw := []uint16{0x0000, 0x3F80}
	s, err := modbus.DecodeAs(v, raw, config.OrderABCD)
	if err != nil {
		t.Fatal(err)
	}
	got := orderWarning(v, raw, s, true)
	if !strings.Contains(got, "looks implausible under order ABCD") || !strings.Contains(got, "CDAB gives 1") {
		t.Errorf("warning = %q", got)
	}
	good := []uint16{0x3F80, 0x0000}
	s, _ = modbus.DecodeAs(v, good, config.OrderABCD)
	if got := orderWarning(v, good, s, true); got != "" {
		t.Errorf("a plausible value warned: %q", got)
	}
	// Out of range with no order that helps: the address or type is wrong.
	far := []uint16{0x7F7F, 0x7F7F}
	s, _ = modbus.DecodeAs(v, far, config.OrderABCD)
	if got := orderWarning(v, far, s, false); !strings.Contains(got, "no other order gives a plausible value") {
		t.Errorf("warning = %q", got)
	}
}
