package store

import (
	"path/filepath"
	"testing"
	"time"
)

// TestWorkOrders: maintenance on opens a work order, on again updates it,
// off closes it; the history survives reopening the store, newest first.
func TestWorkOrders(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	back := t0.Add(48 * time.Hour)
	steps := []MaintenanceFlag{
		{On: true, By: "biomed", At: t0, Reason: "annual PM", Ticket: "CM-1"},
		{On: true, By: "biomed", At: t0.Add(time.Hour), Reason: "annual PM, flow sensor", Ticket: "CM-1", ExpectedReturn: &back},
		{On: false, By: "lead", At: t0.Add(2 * time.Hour)},
		{On: false, By: "lead", At: t0.Add(3 * time.Hour)},  // already off: no new order
		{On: true, By: "biomed", At: t0.Add(4 * time.Hour)}, // an old-style call: no details
	}
	for _, f := range steps {
		if err := s.SetMaintenance("vent-1", f); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.WorkOrders("vent-1", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("work orders = %+v, want 2", got)
	}
	if o := got[0]; o.End != nil || o.By != "biomed" || !o.Start.Equal(t0.Add(4*time.Hour)) || o.Reason != "" {
		t.Errorf("open order = %+v", o)
	}
	if o := got[1]; o.End == nil || !o.End.Equal(t0.Add(2*time.Hour)) || o.EndedBy != "lead" || o.Reason != "annual PM, flow sensor" ||
		o.Ticket != "CM-1" || o.ExpectedReturn == nil || !o.ExpectedReturn.Equal(back) || !o.Start.Equal(t0) {
		t.Errorf("closed order = %+v", o)
	}
	if got, _ := s.WorkOrders("other", 10); len(got) != 0 {
		t.Errorf("a device without orders has %+v", got)
	}
}
