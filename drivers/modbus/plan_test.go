package modbus

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/rules"
)

func ptr[T any](v T) *T { return &v }

// TestDecodeKnownVectors pins the word/byte orders to register layouts
// from vendor documentation, independent of the simulator's encoder.
func TestDecodeKnownVectors(t *testing.T) {
	cases := []struct {
		typ, order string
		regs       []uint16
		want       float64
	}{
		// 21.5f = 0x41AC0000
		{config.TypeFloat32, config.OrderABCD, []uint16{0x41AC, 0x0000}, 21.5},
		{config.TypeFloat32, config.OrderCDAB, []uint16{0x0000, 0x41AC}, 21.5},
		{config.TypeFloat32, config.OrderBADC, []uint16{0xAC41, 0x0000}, 21.5},
		{config.TypeFloat32, config.OrderDCBA, []uint16{0x0000, 0xAC41}, 21.5},
		// 0x01020304
		{config.TypeUint32, config.OrderCDAB, []uint16{0x0304, 0x0102}, 0x01020304},
		{config.TypeInt32, config.OrderABCD, []uint16{0xFFFF, 0xFFFE}, -2},
		{config.TypeInt16, config.OrderABCD, []uint16{0x8000}, -32768},
		{config.TypeUint16, config.OrderBADC, []uint16{0x3412}, 0x1234},
		// 0x0102030405060708 across four registers
		{config.TypeUint64, config.OrderABCD, []uint16{0x0102, 0x0304, 0x0506, 0x0708}, 0x0102030405060708},
		{config.TypeUint64, config.OrderCDAB, []uint16{0x0708, 0x0506, 0x0304, 0x0102}, 0x0102030405060708},
		{config.TypeUint64, config.OrderBADC, []uint16{0x0201, 0x0403, 0x0605, 0x0807}, 0x0102030405060708},
		{config.TypeUint64, config.OrderDCBA, []uint16{0x0807, 0x0605, 0x0403, 0x0201}, 0x0102030405060708},
		{config.TypeInt64, config.OrderABCD, []uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}, -1},
		{config.TypeFloat64, config.OrderABCD, []uint16{0x4035, 0x8000, 0, 0}, 21.5},
	}
	for _, c := range cases {
		v := config.Value{Name: "x", Table: config.TableHolding, Address: ptr(0), Type: c.typ, Order: c.order}
		d, err := decodeRegisters(&v, c.regs, c.order)
		if err != nil {
			t.Fatal(err)
		}
		if d.sample.Num != c.want {
			t.Errorf("%s %s %04x: got %v, want %v", c.typ, c.order, c.regs, d.sample.Num, c.want)
		}
	}
}

func TestPlanCoalesces(t *testing.T) {
	p := &config.Profile{Name: "p", Values: []config.Value{
		{Name: "a", Table: config.TableHolding, Address: ptr(0)},
		{Name: "b", Table: config.TableHolding, Address: ptr(5), Type: config.TypeFloat32}, // gap 4: joined
		{Name: "c", Table: config.TableHolding, Address: ptr(20)},                          // gap 13: new request
		{Name: "d", Table: config.TableHolding, Address: ptr(130)},                         // beyond 125 from c
		{Name: "e", Table: config.TableHolding, Address: ptr(139)},                         // gap 8: joined
		{Name: "f", Table: config.TableCoil, Address: ptr(3)},
		{Name: "g", Table: config.TableCoil, Address: ptr(1990)},
		{Name: "h", Table: config.TableInput, Address: ptr(1), Type: config.TypeUint64},
	}}
	plan, err := NewPlan(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []Request{
		{1, 3, 1}, {1, 1990, 1},
		{3, 0, 7}, {3, 20, 1}, {3, 130, 10},
		{4, 1, 4},
	}
	if len(plan.Requests) != len(want) {
		t.Fatalf("requests %v, want %v", plan.Requests, want)
	}
	for i := range want {
		if plan.Requests[i] != want[i] {
			t.Errorf("request %d: %v, want %v", i, plan.Requests[i], want[i])
		}
	}
	p.MaxGap = ptr(20)
	plan, _ = NewPlan(p)
	if plan.Requests[2] != (Request{3, 0, 21}) {
		t.Errorf("max_gap 20: %v", plan.Requests)
	}
}

// randomProfile generates a modbus profile with values anywhere in the
// address space, of every table and type.
func randomProfile(r *rand.Rand) *config.Profile {
	p := &config.Profile{Name: "random"}
	if r.IntN(2) == 0 {
		p.MaxGap = ptr(r.IntN(200))
	}
	types := []string{config.TypeBool, config.TypeInt16, config.TypeUint16, config.TypeInt32, config.TypeUint32,
		config.TypeFloat32, config.TypeInt64, config.TypeUint64, config.TypeFloat64, config.TypeString}
	tables := []string{config.TableCoil, config.TableDiscrete, config.TableHolding, config.TableInput}
	for i := 0; i < 1+r.IntN(300); i++ {
		v := config.Value{Name: "v", Table: tables[r.IntN(4)], Type: types[r.IntN(len(types))]}
		if v.Table == config.TableCoil || v.Table == config.TableDiscrete {
			v.Type = config.TypeBool
		}
		if v.Type == config.TypeString {
			v.Length = 1 + r.IntN(125)
		}
		n := max(v.Registers(), 1)
		v.Address = ptr(r.IntN(65536 - n + 1))
		p.Values = append(p.Values, v)
	}
	return p
}

// TestReadOnlyEveryPlan enumerates every request the planner builds for
// every shipped profile and thousands of generated ones: all are reads
// (function codes 1-4) within the protocol's limits, and together they
// cover every value.
func TestReadOnlyEveryPlan(t *testing.T) {
	t.Parallel()
	var profiles []*config.Profile
	files, _ := filepath.Glob("../../configs/profiles/*.yaml")
	for _, f := range files {
		p, err := config.LoadProfile(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if p.Transport() == "modbus" {
			profiles = append(profiles, p)
		}
	}
	t.Logf("%d shipped modbus profiles", len(profiles))
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		profiles = append(profiles, randomProfile(r))
	}
	for _, p := range profiles {
		plan, err := NewPlan(p)
		if err != nil {
			t.Fatalf("profile %s: %v", p.Name, err)
		}
		for _, q := range plan.Requests {
			if q.Function < 1 || q.Function > 4 {
				t.Fatalf("profile %s: request with function code %d", p.Name, q.Function)
			}
			limit := maxRegisters
			if q.bits() {
				limit = maxBits
			}
			if q.Quantity < 1 || int(q.Quantity) > limit || int(q.Address)+int(q.Quantity) > 65536 {
				t.Fatalf("profile %s: request %+v outside protocol limits", p.Name, q)
			}
		}
		for i, v := range p.Values {
			s := plan.slots[i]
			q := plan.Requests[s.req]
			if wantFC, _ := tableFunction(v.Table); q.Function != wantFC ||
				int(q.Address)+s.offset != *v.Address || s.offset+max(s.count, 1) > int(q.Quantity) {
				t.Fatalf("profile %s: value %d (%s %d) not covered by request %+v at offset %d", p.Name, i, v.Table, *v.Address, q, s.offset)
			}
		}
	}
}

func TestSerialCacheFollowsTheValue(t *testing.T) {
	var c serialCache
	u := func(n uint64) decoded { return decoded{intKind: 'u', integer: n} }
	if got := c.of(u(1234)); got != "1234" {
		t.Fatalf("got %q", got)
	}
	if got := c.of(u(1234)); got != "1234" {
		t.Fatalf("same value again: got %q", got)
	}
	if got := c.of(u(99)); got != "99" {
		t.Fatalf("changed value: got %q, want 99", got)
	}
	neg := int64(-5)
	if got := c.of(decoded{intKind: 's', integer: uint64(neg)}); got != "-5" {
		t.Fatalf("signed: got %q, want -5", got)
	}
	if got := c.of(decoded{isString: true, sample: rules.Sample{Str: "SN-1"}}); got != "SN-1" {
		t.Fatalf("string serial: got %q", got)
	}
	if got := c.of(u(0)); got != "0" {
		t.Fatalf("zero after a string: got %q", got)
	}
}
