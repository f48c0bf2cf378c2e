package gateway

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/rules"
)

// The device page shows the profile's values in order, with their units,
// without clinical ones, and only as many as the device sent.
func TestDetailsValues(t *testing.T) {
	t.Parallel()
	prof := &config.Profile{Values: []config.Value{
		{Name: "status"}, {Name: "battery_pct", Unit: "%"}, {Name: "heart_rate", Clinical: true, MDC: "MDC_ECG_HEART_RATE"}, {Name: "serial", MDC: "X"},
	}}
	tests := []struct {
		name string
		vals []rules.Sample
		want string
	}{
		{"all", []rules.Sample{{Num: 1}, {Num: 80}, {Num: 72}, {Str: "SN1"}}, "status=1 battery_pct=80% serial=0SN1/X"},
		{"fewer than the profile", []rules.Sample{{Num: 1}}, "status=1"},
		{"none", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newDetails()
			at := time.Unix(100, 0)
			d.setValues("dev", prof, tc.vals, at)
			got, _ := d.get("dev")
			var s string
			for _, v := range got.Values {
				if s != "" {
					s += " "
				}
				s += fmt.Sprintf("%s=%v%s", v.Name, v.Value, v.Unit)
				if v.Text != "" || v.MDC != "" {
					s += v.Text + "/" + v.MDC
				}
			}
			if s != tc.want || !got.Time.Equal(at) {
				t.Errorf("values %q at %v, want %q at %v", s, got.Time, tc.want, at)
			}
		})
	}
	if v, h := newDetails().get("unknown"); len(v.Values) != 0 || len(h) != 0 {
		t.Errorf("an unknown device has values %+v and history %+v", v, h)
	}
}

// History keeps the newest historyLen transitions per device, and what get
// returns is the caller's to keep.
func TestDetailsHistory(t *testing.T) {
	t.Parallel()
	d := newDetails()
	for i := range historyLen + 10 {
		d.addHistory([]pipeline.Transition{{ID: "a", Cause: fmt.Sprint(i)}, {ID: "b", Cause: fmt.Sprint(i)}})
	}
	_, h := d.get("a")
	if len(h) != historyLen || h[0].Cause != "10" || h[len(h)-1].Cause != fmt.Sprint(historyLen+9) {
		t.Fatalf("history of %d from %s to %s, want %d from 10", len(h), h[0].Cause, h[len(h)-1].Cause, historyLen)
	}
	h[0].Cause = "changed"
	if _, again := d.get("a"); again[0].Cause != "10" {
		t.Error("changing a returned history changed the kept one")
	}
}

// Usage is earlier runs' (from the store) plus this run's, per state.
func TestDetailsUsage(t *testing.T) {
	t.Parallel()
	d := newDetails()
	d.setBaseUsage(map[string]map[string]float64{"a": {"in_use": 100, "offline": 5}})
	snap := &pipeline.Snapshot{Devices: []pipeline.DeviceStatus{
		{ID: "a", Utilisation: pipeline.Utilisation{InUse: 10, Standby: 2, Fault: 1, Maintenance: 3}},
		{ID: "b", Utilisation: pipeline.Utilisation{Offline: 7}},
	}}
	got := d.totalUsage(snap)
	want := map[string]map[string]float64{
		"a": {"offline": 5, "fault": 1, "maintenance": 3, "in_use": 110, "standby": 2},
		"b": {"offline": 7, "fault": 0, "maintenance": 0, "in_use": 0, "standby": 0},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("totalUsage = %v, want %v", got, want)
	}
}

func TestHealthReasons(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ops  [][2]string
		want []string
	}{
		{"none", nil, []string{}},
		{"sorted by source", [][2]string{{"outbox", "o"}, {"influxdb", "i"}}, []string{"influxdb: i", "outbox: o"}},
		{"cleared", [][2]string{{"outbox", "o"}, {"outbox", ""}}, []string{}},
		{"replaced", [][2]string{{"outbox", "o"}, {"outbox", "p"}}, []string{"outbox: p"}},
		{"clear of nothing", [][2]string{{"state store", ""}}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHealth()
			for _, op := range tc.ops {
				h.set(op[0], op[1])
			}
			if got := h.list(); !slices.Equal(got, tc.want) {
				t.Errorf("list = %q, want %q", got, tc.want)
			}
		})
	}
}

// The hub never blocks: a subscriber that does not read misses events,
// counted; a subscription ends (its channel closes) with its context.
func TestHubDropsForSlowSubscribersAndCloses(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHub()
		ctx, cancel := context.WithCancel(context.Background())
		slow := h.Subscribe(ctx)
		ts := make([]pipeline.Transition, subscriberBuffer+5)
		h.publish(ts)
		if got := h.dropped.Load(); got != 5 {
			t.Errorf("dropped %d, want 5", got)
		}
		if len(slow) != subscriberBuffer {
			t.Errorf("%d buffered, want %d", len(slow), subscriberBuffer)
		}
		cancel()
		synctest.Wait()
		n := 0
		for range slow {
			n++
		}
		if n != subscriberBuffer {
			t.Errorf("%d events read before the close, want %d", n, subscriberBuffer)
		}
		h.publish(ts[:1]) // no subscriber: nothing happens
		if got := h.dropped.Load(); got != 5 {
			t.Errorf("dropped %d after publishing to no one, want 5", got)
		}
	})
}

func TestDeviceByIDAndItoa(t *testing.T) {
	t.Parallel()
	site, _ := smallSite(t, t.TempDir(), nil, "")
	if d := deviceByID(site, "vent-2"); d == nil || d.ID != "vent-2" {
		t.Errorf("deviceByID(vent-2) = %v", d)
	}
	if d := deviceByID(site, "ghost"); d != nil {
		t.Errorf("deviceByID(ghost) = %v, want nil", d)
	}
	if itoa(503) != "503" || itoa(-1) != "-1" {
		t.Error("itoa")
	}
}
