package simulator

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icugate/icugate/config"
)

func ptr[T any](v T) *T { return &v }

func testSite(t *testing.T) *config.Site {
	t.Helper()
	p := &config.Profile{Name: "p", Kind: "ventilator", Values: []config.Value{
		{Name: "status", Table: config.TableHolding, Address: ptr(0)},
		{Name: "sn", Table: config.TableHolding, Address: ptr(1), Type: config.TypeUint32},
	}, Serial: "sn", Simulate: map[string]map[string]any{"in_use": {"status": 1}, "fault": {"status": 4}}}
	if err := p.Compile(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return &config.Site{Profiles: map[string]*config.Profile{"p": p}, Devices: []config.Device{
		{ID: "v1", Kind: "ventilator", Profile: "p", Serial: "77", Modbus: &config.ModbusDevice{Address: addr, UnitID: 1}},
		{ID: "v2", Kind: "ventilator", Profile: "p", Modbus: &config.ModbusDevice{Address: addr, UnitID: 2}},
		{ID: "m1", Kind: "monitor", Profile: "q", MQTT: &config.MQTTDevice{Topic: "x"}},
	}}
}

func TestEncodeServesStateAndSerial(t *testing.T) {
	site := testSite(t)
	s, err := New(site, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	d := s.devices["v1"]
	if got := d.tables.Holding[2]; got != 77 || d.tables.Holding[0] != 0 {
		t.Fatalf("standby tables %v, want serial 77 at 1-2 and status 0", d.tables.Holding)
	}
	if err := s.SetState("v1", StateFault); err != nil {
		t.Fatal(err)
	}
	if d.tables.Holding[0] != 4 {
		t.Errorf("fault status %d, want 4", d.tables.Holding[0])
	}
	if err := s.SetState("v1", "broken"); err == nil {
		t.Error("unknown state accepted")
	}
	if err := s.SetState("m1", StateFault); err == nil {
		t.Error("mqtt device accepted by the modbus simulator")
	}
	if _, err := Encode(&config.Value{Name: "x", Type: config.TypeInt16, Address: ptr(0), Table: config.TableHolding}, 40000); err == nil {
		t.Error("40000 encoded as int16")
	}
	if _, err := Encode(&config.Value{Name: "x", Type: config.TypeUint16, Address: ptr(0), Table: config.TableHolding}, -1); err == nil {
		t.Error("-1 encoded as uint16")
	}
}

func TestControlAPI(t *testing.T) {
	site := testSite(t)
	s, err := New(site, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewServer(NewControl(s))
	defer srv.Close()
	do := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := do("PUT", "/devices/v1/state", `{"state":"in_use"}`); code != 200 {
		t.Fatalf("set state: %d %s", code, body)
	}
	if code, _ := do("PUT", "/devices/v1/faults", `{"late":true,"late_every":3}`); code != 200 {
		t.Fatalf("set faults: %d", code)
	}
	for _, c := range []struct {
		path, body string
		want       int
	}{
		{"/devices/v1/state", `{"state":"asleep"}`, 400},
		{"/devices/v1/state", `{"stat":"in_use"}`, 400},
		{"/devices/nope/state", `{"state":"in_use"}`, 404},
		{"/devices/m1/state", `{"state":"in_use"}`, 404},
	} {
		if code, body := do("PUT", c.path, c.body); code != c.want {
			t.Errorf("PUT %s %s: %d %s, want %d", c.path, c.body, code, body, c.want)
		}
	}
	code, body := do("GET", "/devices", "")
	var list []DeviceInfo
	if err := json.Unmarshal([]byte(body), &list); code != 200 || err != nil || len(list) != 2 {
		t.Fatalf("GET /devices: %d %s %v", code, body, err)
	}
	if list[0].ID != "v1" || list[0].State != StateInUse || !list[0].Faults.Late || list[0].Transport != config.TransportModbusTCP {
		t.Errorf("GET /devices: %+v", list[0])
	}
}

func TestScenario(t *testing.T) {
	steps, err := LoadScenario("testdata/scenario.yaml")
	if err != nil || len(steps) != 5 || steps[0].After != 10*time.Second || steps[2].State != StateFault {
		t.Fatalf("example scenario: %v %+v", err, steps)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	_ = os.WriteFile(bad, []byte("- after: 1s\n  device: a\n  state: sleeping\n- after: 2s\n  devise: b\n  state: fault\n"), 0o644)
	_, err = LoadScenario(bad)
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:1") || !strings.Contains(err.Error(), "bad.yaml:4") {
		t.Errorf("bad scenario: %v", err)
	}
	synctest.Test(t, func(t *testing.T) {
		var got []string
		start := time.Now()
		set := func(id, state string) error {
			got = append(got, id+"="+state+"@"+time.Since(start).String())
			return nil
		}
		_ = Play(context.Background(), steps[:2], set, slog.New(slog.DiscardHandler))
		want := []string{"vent-1=in_use@10s", "mon-1=in_use@30s"}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("played %v, want %v", got, want)
		}
	})
}
