//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/drivers/modbus"
)

// TestTelegrafConfigText: the agent polls every interval to /dev/null,
// and each Modbus device gets its own input with its unit, timeout and
// the whole register map; devices without a Modbus address get none.
func TestTelegrafConfigText(t *testing.T) {
	t.Parallel()
	site := &config.Site{Devices: []config.Device{
		{ID: "vent-1", Modbus: &config.ModbusDevice{Address: "127.0.0.1:20001", UnitID: 3, Timeout: 1500 * time.Millisecond}},
		{ID: "mon-1"},
		{ID: "vent-2", Modbus: &config.ModbusDevice{}},
	}}
	conf := telegrafConfig(site, 250*time.Millisecond)
	for _, want := range []string{
		"interval = \"250ms\"", `files = ["/dev/null"]`,
		"[[inputs.modbus]]\n  name = \"vent-1\"\n  slave_id = 3\n  timeout = \"1.5s\"\n  controller = \"tcp://127.0.0.1:20001\"\n  configuration_type = \"register\"\n  holding_registers = [",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	if strings.Count(conf, "[[inputs.modbus]]") != 1 || strings.Contains(conf, "mon-1") || strings.Contains(conf, "vent-2") {
		t.Errorf("config polls devices without a Modbus address:\n%s", conf)
	}
	// The register map covers the bench profile's 16 registers, each once.
	seen := map[string]bool{}
	for _, l := range strings.Split(telegrafRegisters, "\n") {
		i := strings.Index(l, "address = [")
		if i < 0 {
			continue
		}
		for _, a := range strings.Split(strings.TrimSuffix(strings.TrimSpace(l[i+len("address = ["):]), "] },"), ", ") {
			if seen[a] {
				t.Errorf("register %s read twice", a)
			}
			seen[a] = true
		}
	}
	if len(seen) != benchRegisters {
		t.Errorf("Telegraf reads %d registers, want %d", len(seen), benchRegisters)
	}
}

// TestTelegrafRun measures a Telegraf stand-in beside the simulator: its
// config is written into the run directory and the measurement is named
// for a binary without build info.
func TestTelegrafRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fake := filepath.Join(dir, "telegraf")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if v := telegrafVersion(fake); v != "(version unknown)" {
		t.Errorf("version of a shell script: %q", v)
	}
	site := benchSite(t, dir, 2, 1)
	e := &env{o: options{telegraf: fake, interval: time.Second, duration: 300 * time.Millisecond}, cs: &children{}}
	defer e.cs.stopAll()
	if _, err := e.telegrafRun(t.Context(), dir, filepath.Join(dir, "missing.yaml"), nil); err == nil {
		t.Error("telegrafRun of a missing site: no error")
	}
	sim, err := e.startSims(t.Context(), dir, site, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer sim.close()
	m, err := e.telegrafRun(t.Context(), dir, site, sim)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "telegraf (version unknown)" || m.Work != 0 || m.Devices != 2 || !strings.Contains(m.Note, "one [[inputs.modbus]] per device") {
		t.Errorf("measurement %+v; want the stand-in's, with no reads of the 2 devices", m)
	}
	b, err := os.ReadFile(filepath.Join(dir, "telegraf.conf"))
	if err != nil || strings.Count(string(b), "[[inputs.modbus]]") != 2 {
		t.Errorf("telegraf.conf: %v\n%s", err, b)
	}
}

// TestSimGroupOfEndedShards: a simulator that will not start is an
// error, and a group whose shards have ended cannot open or close a
// window.
func TestSimGroupOfEndedShards(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := &env{cs: &children{}}
	defer e.cs.stopAll()
	if _, err := e.startSims(t.Context(), dir, filepath.Join(dir, "missing.yaml"), 2); err == nil {
		t.Error("simulator of a missing site started")
	}
	g, err := e.startSims(t.Context(), dir, benchSite(t, dir, 2, 1), 1)
	if err != nil {
		t.Fatal(err)
	}
	g.close()
	if err := g.start(t.Context()); err == nil {
		t.Error("start of a stopped simulator: no error")
	}
	if _, err := g.stop(t.Context()); err == nil {
		t.Error("stop of a stopped simulator: no error")
	}
}

// TestSlotOffset: an interval of one start slot or less starts every
// address at once; longer ones place an address in a slot of the
// interval, the same one each time.
func TestSlotOffset(t *testing.T) {
	t.Parallel()
	for _, iv := range []time.Duration{0, modbus.StartSlot} {
		if d := slotOffset("127.0.0.1:20001", iv); d != 0 {
			t.Errorf("offset in an interval of %v: %v, want 0", iv, d)
		}
	}
	for _, a := range []string{"127.0.0.1:20001", "127.0.0.1:20002", "10.0.0.9:502"} {
		d := slotOffset(a, time.Second)
		if d < 0 || d >= time.Second || d%modbus.StartSlot != 0 || d != slotOffset(a, time.Second) {
			t.Errorf("offset of %s: %v; want a whole slot within the second, stable", a, d)
		}
	}
}
