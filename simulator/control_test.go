package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeBackend simulates devices by name and cannot set faults.
type fakeBackend struct {
	mu     sync.Mutex
	states map[string]string
}

func (f *fakeBackend) Devices() []DeviceInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []DeviceInfo
	for id, st := range f.states {
		out = append(out, DeviceInfo{ID: id, Transport: "mqtt", State: st})
	}
	return out
}

func (f *fakeBackend) SetState(id, state string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.states[id]; !ok {
		return ErrUnknownDevice
	}
	f.states[id] = state
	return nil
}

// TestControlDispatchesToBackends: the device list merges every backend
// by id; a state change reaches the backend that simulates the device;
// faults reach only backends that can set them.
func TestControlDispatchesToBackends(t *testing.T) {
	t.Parallel()
	site, _, _ := tablesSite(t)
	s, err := New(site, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeBackend{states: map[string]string{"m1": StateStandby, "a0": StateStandby}}
	srv := httptest.NewServer(NewControl(s, fake))
	defer srv.Close()
	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusMethodNotAllowed && ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q", method, path, ct)
		}
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"PUT", "/devices/m1/state", `{"state":"fault"}`, 200},
		{"PUT", "/devices/v2/state", `{"state":"maintenance"}`, 200},
		{"PUT", "/devices/m1/faults", `{"exception":true}`, 404},
		{"PUT", "/devices/v3/faults", `{"close":true}`, 200},
		{"PUT", "/devices/nope/faults", `{"late":true}`, 404},
		{"PUT", "/devices/v3/faults", `{"late":"yes"}`, 400},
		{"PUT", "/devices/v3/faults", `{"slow":true}`, 400},
		{"PUT", "/devices/v3/state", `not json`, 400},
		{"PUT", "/devices/v3/state", `{"state":"` + strings.Repeat("x", 1<<17) + `"}`, 400},
		{"GET", "/devices/v3/state", ``, 405},
	} {
		if code, body := do(c.method, c.path, c.body); code != c.want {
			t.Errorf("%s %s %.40s: %d %s, want %d", c.method, c.path, c.body, code, body, c.want)
		}
	}
	if fake.states["m1"] != StateFault {
		t.Errorf("fake backend's m1 is %s, want fault", fake.states["m1"])
	}
	code, body := do("GET", "/devices", "")
	var list []DeviceInfo
	if err := json.Unmarshal([]byte(body), &list); code != 200 || err != nil {
		t.Fatalf("GET /devices: %d %s %v", code, body, err)
	}
	var ids []string
	for _, d := range list {
		ids = append(ids, d.ID+"="+d.State)
	}
	want := "a0=standby m1=fault v1=standby v2=maintenance v3=standby"
	if strings.Join(ids, " ") != want {
		t.Errorf("GET /devices lists %v, want %s (every backend, by id)", ids, want)
	}
	if !list[4].Faults.Close {
		t.Errorf("v3's close fault not listed: %+v", list[4])
	}
}

func TestControlSetStateRefusesUnknownStates(t *testing.T) {
	t.Parallel()
	c := NewControl(&fakeBackend{states: map[string]string{"m1": StateStandby}})
	if err := c.SetState("m1", "asleep"); err == nil || errors.Is(err, ErrUnknownDevice) {
		t.Errorf("unknown state: %v", err)
	}
	if err := c.SetState("zz", StateFault); !errors.Is(err, ErrUnknownDevice) {
		t.Errorf("unknown device: %v; want ErrUnknownDevice", err)
	}
	for _, st := range []string{StateInUse, StateStandby, StateFault, StateMaintenance, StateOffline} {
		if err := c.SetState("m1", st); err != nil {
			t.Errorf("SetState(%s): %v", st, err)
		}
	}
}

func TestLoadScenarioErrorsNameFileAndLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, c := range []struct {
		name, text, want string
	}{
		{"not a list", "after: 1s\n", "s.yaml:1: a scenario is a list"},
		{"step not a mapping", "- vent-1\n", "s.yaml:1: a step is a mapping"},
		{"unknown key", "- after: 1s\n  device: a\n  state: fault\n  colour: red\n", `s.yaml:1: unknown key "colour"`},
		{"negative after", "- after: 1s\n  device: a\n  state: fault\n- after: -2s\n  device: a\n  state: fault\n", "s.yaml:4: after must not be negative"},
		{"missing device", "- after: 1s\n  state: fault\n", "s.yaml:1: device is missing"},
		{"bad duration", "- after: soon\n  device: a\n  state: fault\n", "s.yaml:1:"},
		{"bad yaml", "- after: [1s\n", "s.yaml"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"), "s.yaml")
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadScenario(path); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v; want it to say %q", err, c.want)
			}
		})
	}
	empty := filepath.Join(dir, "empty.yaml")
	_ = os.WriteFile(empty, nil, 0o644)
	if steps, err := LoadScenario(empty); err != nil || steps != nil {
		t.Errorf("empty scenario: %v %v; want no steps, no error", steps, err)
	}
	if _, err := LoadScenario(filepath.Join(dir, "missing.yaml")); err == nil || !strings.HasPrefix(err.Error(), "scenario:") {
		t.Errorf("missing file: %v", err)
	}
}

// TestPlaySkipsFailedStepsAndStopsWithContext: a step that fails is
// skipped, the rest play; cancelling the context ends Play before the
// next step.
func TestPlaySkipsFailedStepsAndStopsWithContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		steps := []Step{
			{After: time.Second, Device: "gone", State: StateFault},
			{After: time.Second, Device: "a", State: StateInUse},
			{After: time.Hour, Device: "a", State: StateStandby},
		}
		var played []string
		set := func(id, state string) error {
			if id == "gone" {
				return ErrUnknownDevice
			}
			played = append(played, id+"="+state)
			return nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- Play(ctx, steps, set, slog.New(slog.DiscardHandler)) }()
		time.Sleep(time.Minute) // fake time: the first two steps are due
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Play: %v", err)
		}
		if strings.Join(played, ",") != "a=in_use" || time.Since(start) != time.Minute {
			t.Errorf("played %v after %v; want a=in_use and a stop at the cancel", played, time.Since(start))
		}
	})
}
