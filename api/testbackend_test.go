package api

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/icugate/icugate/alerts"
	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/rules"
	"github.com/icugate/icugate/store"
)

// The tests run the server over a real pipeline.Engine fed observations in
// the test. testBackend does what the gateway does around the engine:
// serialises calls, keeps the latest snapshot, device history and values,
// fans transitions out to subscribers (dropping, counted, when one is
// full), and records audit entries.

// testProfile has three coil values whose rules give fault, maintenance
// and in_use, plus an hour counter with a unit and an MDC code.
func testProfile(tb testing.TB, kind string) *config.Profile {
	tb.Helper()
	reg := func(a int) *int { return &a }
	p := &config.Profile{
		Name: "test-" + kind, Kind: kind, Vendor: "Acme", Model: "T-" + kind,
		Values: []config.Value{
			{Name: "fault", Table: config.TableCoil, Address: reg(0), Type: config.TypeBool},
			{Name: "service", Table: config.TableCoil, Address: reg(1), Type: config.TypeBool},
			{Name: "running", Table: config.TableCoil, Address: reg(2), Type: config.TypeBool},
			{Name: "hours", Table: config.TableHolding, Address: reg(10), Type: config.TypeUint16, Unit: "h", MDC: "MDC_ATTR_TIME_PD_OPERATING"},
		},
		State: config.StateRules{Fault: "fault", Maintenance: "service", InUse: "running"},
	}
	if err := p.Compile(); err != nil {
		tb.Fatalf("compile profile %s: %v", p.Name, err)
	}
	return p
}

// valuesFor are the samples testProfile derives state s from.
func valuesFor(s pipeline.DeviceState) []rules.Sample {
	v := []rules.Sample{{}, {}, {}, {Num: 1234}}
	switch s {
	case pipeline.Fault:
		v[0].Num = 1
	case pipeline.Maintenance:
		v[1].Num = 1
	case pipeline.InUse:
		v[2].Num = 1
	}
	return v
}

// testSite is a small hospital: a general unit of four beds (three fully
// equipped, one with a monitor only), a specialty unit of two beds, a
// convertible unit of two empty beds, a unit store with an ECMO and the
// hospital store with enough standby devices to make one convertible bed
// ready. Hold time is zero so bed states follow devices at once.
func testSite(tb testing.TB) *config.Site {
	tb.Helper()
	hold := time.Duration(0)
	s := &config.Site{
		Hospital:   config.Hospital{ID: "h1", Name: "Test Hospital", Level: config.LevelTertiary, TotalBeds: 200, Region: "r1"},
		TargetYear: 2025,
		Hold:       &hold,
		Profiles:   map[string]*config.Profile{},
		Units: []config.Unit{
			{ID: "icu-a", Name: "General ICU A", Class: config.ClassGeneral, Beds: []string{"icu-a-1", "icu-a-2", "icu-a-3", "icu-a-4"}},
			{ID: "ccu", Name: "CCU", Class: config.ClassSpecialty, Subtype: "CCU", Beds: []string{"ccu-1", "ccu-2"}},
			{ID: "conv", Class: config.ClassConvertible, Beds: []string{"conv-1", "conv-2"}},
		},
		Pools: []config.Pool{{ID: "icu-a-store", Unit: "icu-a"}, {ID: "central"}},
	}
	dev := func(id, kind, at string) {
		name := "test-" + kind
		if s.Profiles[name] == nil {
			s.Profiles[name] = testProfile(tb, kind)
		}
		s.Devices = append(s.Devices, config.Device{
			ID: id, Kind: kind, Profile: name, At: at,
			Modbus: &config.ModbusDevice{Address: "127.0.0.1:1502", UnitID: len(s.Devices) + 1, Interval: time.Second},
		})
	}
	for i := 1; i <= 3; i++ {
		dev(fmt.Sprintf("mon-a%d", i), "monitor", fmt.Sprintf("icu-a-%d", i))
		dev(fmt.Sprintf("vent-a%d", i), "ventilator", fmt.Sprintf("icu-a-%d", i))
	}
	dev("mon-a4", "monitor", "icu-a-4")
	dev("mon-c1", "monitor", "ccu-1")
	dev("vent-c1", "ventilator", "ccu-1")
	dev("crrt-1", "crrt", "ccu-1")
	dev("ecmo-1", "ecmo", "icu-a-store")
	dev("mon-p1", "monitor", "central")
	dev("vent-p1", "ventilator", "central")
	return s
}

// testBackend implements Backend over a pipeline.Engine.
type testBackend struct {
	tb       testing.TB
	mu       sync.Mutex
	site     *config.Site
	eng      *pipeline.Engine
	now      time.Time
	want     map[string]pipeline.DeviceState // state each device is fed in
	snap     pipeline.Snapshot
	history  map[string][]pipeline.Transition
	values   map[string][]rules.Sample
	subs     map[chan pipeline.Transition]struct{}
	dropped  int
	audits   []AuditEntry
	degraded []string
	ready    error
	// reload is what Reload returns.
	reload error
	// subBuffer is each subscription's buffer; default 64 (the gateway's
	// is 1,024).
	subBuffer int
	// alerts is what Alerts serves; AckAlert acknowledges in it.
	alerts AlertsView
	// orders are the work orders by device, newest first.
	orders map[string][]store.WorkOrder
}

func newTestBackend(tb testing.TB) *testBackend {
	tb.Helper()
	site := testSite(tb)
	start := time.Now().UTC().Truncate(time.Second)
	eng, err := pipeline.New(site, start)
	if err != nil {
		tb.Fatalf("pipeline.New: %v", err)
	}
	b := &testBackend{
		tb:   tb,
		site: site, eng: eng, now: start,
		want:    map[string]pipeline.DeviceState{},
		history: map[string][]pipeline.Transition{},
		values:  map[string][]rules.Sample{},
		subs:    map[chan pipeline.Transition]struct{}{},
	}
	for _, d := range site.Devices {
		b.want[d.ID] = pipeline.Standby
	}
	b.want["vent-a1"] = pipeline.InUse
	b.want["mon-a1"] = pipeline.InUse
	b.step()
	return b
}

// set makes device id report state s from the next step on (Offline:
// stops answering).
func (b *testBackend) set(id string, s pipeline.DeviceState) {
	b.mu.Lock()
	b.want[id] = s
	b.mu.Unlock()
	b.step()
}

// step advances the clock one second and feeds every answering device.
func (b *testBackend) step() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now = b.now.Add(time.Second)
	for _, d := range b.site.Devices {
		s := b.want[d.ID]
		if s == pipeline.Offline {
			continue
		}
		v := valuesFor(s)
		b.values[d.ID] = v
		if err := b.eng.Observe(pipeline.Observation{Device: d.ID, Time: b.now, Values: v}); err != nil {
			b.tb.Errorf("observe %s: %v", d.ID, err)
		}
	}
	b.eng.Advance(b.now)
	b.publishLocked()
}

func (b *testBackend) publishLocked() {
	for _, t := range b.eng.Transitions(nil) {
		if t.Type != pipeline.TransitionBed {
			b.history[t.ID] = append(b.history[t.ID], t)
		}
		for ch := range b.subs {
			select {
			case ch <- t:
			default:
				b.dropped++
			}
		}
	}
	b.snap = b.eng.Snapshot()
}

func (b *testBackend) Snapshot() pipeline.Snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.snap
}

func (b *testBackend) Site() *config.Site {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.site
}

func (b *testBackend) Device(id string) (DeviceDetail, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ds, ok := b.eng.Device(id)
	if !ok {
		return DeviceDetail{}, false
	}
	d := DeviceDetail{DeviceStatus: ds, History: slices.Clone(b.history[id])}
	d.WorkOrder, d.WorkOrders = b.workOrdersLocked(id)
	var prof *config.Profile
	for i := range b.site.Devices {
		if b.site.Devices[i].ID == id {
			prof = b.site.Profiles[b.site.Devices[i].Profile]
			d.PMDue = b.site.Devices[i].PMDue
		}
	}
	for i, v := range b.values[id] {
		pv := prof.Values[i]
		d.Values = append(d.Values, DeviceValue{Name: pv.Name, Value: v.Num, Unit: pv.Unit, MDC: pv.MDC})
	}
	// Today from the engine's utilisation; the six days before, none.
	for i := 6; i >= 0; i-- {
		day := UsageDay{Day: b.now.AddDate(0, 0, -i).Format(time.DateOnly)}
		if i == 0 {
			u := ds.Utilisation
			day.InUse, day.Standby, day.Offline = u.InUse/3600, u.Standby/3600, u.Offline/3600
			day.Fault, day.Maintenance = u.Fault/3600, u.Maintenance/3600
		}
		d.Usage = append(d.Usage, day)
	}
	return d, true
}

func (b *testBackend) SetMaintenance(ctx context.Context, device string, req MaintenanceRequest, by string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.eng.SetMaintenance(device, req.On, b.now, by); err != nil {
		return err
	}
	if b.orders == nil {
		b.orders = map[string][]store.WorkOrder{}
	}
	list := b.orders[device]
	open := len(list) > 0 && list[0].End == nil
	switch {
	case req.On && open:
		list[0].Reason, list[0].Ticket, list[0].ExpectedReturn = req.Reason, req.Ticket, req.ExpectedReturn
	case req.On:
		list = append([]store.WorkOrder{{Device: device, Reason: req.Reason, Ticket: req.Ticket, By: by, Start: b.now, ExpectedReturn: req.ExpectedReturn}}, list...)
	case open:
		end := b.now
		list[0].End, list[0].EndedBy = &end, by
	}
	b.orders[device] = list
	b.publishLocked()
	return nil
}

// workOrders is device's work orders as the API serves them.
func (b *testBackend) workOrdersLocked(device string) (*WorkOrder, []WorkOrder) {
	var open *WorkOrder
	out := []WorkOrder{}
	for _, o := range b.orders[device] {
		wo := WorkOrder{WorkOrder: o, Overdue: o.End == nil && o.ExpectedReturn != nil && time.Now().After(*o.ExpectedReturn)}
		if o.End == nil {
			open = &wo
		}
		out = append(out, wo)
	}
	return open, out
}

func (b *testBackend) Maintenance() (MaintenanceView, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v := MaintenanceView{AsOf: b.now, Open: []WorkOrder{}, PMOverdue: []PMItem{}, PMDueSoon: []PMItem{}}
	for _, d := range b.site.Devices {
		if open, _ := b.workOrdersLocked(d.ID); open != nil {
			v.Open = append(v.Open, *open)
		}
		if due, ok := d.PMDueDate(); ok {
			days := int(due.Sub(time.Now()).Hours() / 24)
			it := PMItem{Device: d.ID, Kind: d.Kind, At: d.At, Due: d.PMDue, Days: days}
			switch {
			case days < 0:
				v.PMOverdue = append(v.PMOverdue, it)
			case days <= PMDueSoonDays:
				v.PMDueSoon = append(v.PMDueSoon, it)
			}
		}
	}
	return v, nil
}

func (b *testBackend) Move(ctx context.Context, device, to string, by string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.eng.Move(device, to, b.now, by); err != nil {
		return err
	}
	b.publishLocked()
	return nil
}

func (b *testBackend) Reload(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.reload
}

func (b *testBackend) Subscribe(ctx context.Context) <-chan pipeline.Transition {
	n := b.subBuffer
	if n == 0 {
		n = 64
	}
	ch := make(chan pipeline.Transition, n)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		delete(b.subs, ch)
		close(ch)
		b.mu.Unlock()
	}()
	return ch
}

func (b *testBackend) Ready() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ready
}

func (b *testBackend) Degraded() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.degraded
}

func (b *testBackend) Audit(e AuditEntry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.audits = append(b.audits, e)
}

func (b *testBackend) auditLog() []AuditEntry {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.audits)
}

func (b *testBackend) subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

func (b *testBackend) deviceState(tb testing.TB, id string) pipeline.DeviceStatus {
	tb.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.eng.Device(id)
	if !ok {
		tb.Fatalf("no device %s", id)
	}
	return d
}

// errTestConfig is shaped like the gateway's: a summary line, then one
// problem per line.
var errTestConfig = errors.New("new config rejected; the running config stays in force:\nsite.yaml:12: unit \"icu-x\": unknown class \"genral\"\nsite.yaml:30: device \"v9\": profile \"nope\" not found")

func (b *testBackend) Alerts(history int) (AlertsView, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v := b.alerts
	v.Active = slices.Clone(v.Active)
	if len(v.History) > history {
		v.History = v.History[:history]
	}
	return v, nil
}

func (b *testBackend) AckAlert(_ context.Context, id, by, comment string) (alerts.Alert, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range b.alerts.Active {
		if a := &b.alerts.Active[i]; a.ID == id && a.Status == alerts.Firing {
			a.Ack = &alerts.Ack{By: by, At: b.now, Comment: comment}
			return a.Alert, nil
		}
	}
	return alerts.Alert{}, fmt.Errorf("alert %q: %w", id, alerts.ErrUnknown)
}

// Usage serves made-up daily usage for the configured devices (fakeUsage).
func (b *testBackend) Usage(ctx context.Context, q UsageQuery) (UsageReport, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return fakeUsage(b.site, q, b.now), nil
}
