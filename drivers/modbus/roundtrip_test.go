package modbus_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/drivers/modbus"
	"github.com/icugate/icugate/rules"
	"github.com/icugate/icugate/simulator"
)

var (
	orders   = []string{config.OrderABCD, config.OrderCDAB, config.OrderBADC, config.OrderDCBA}
	numTypes = []string{config.TypeInt16, config.TypeUint16, config.TypeInt32, config.TypeUint32,
		config.TypeFloat32, config.TypeInt64, config.TypeUint64, config.TypeFloat64}
)

// extremes are the values each type is round-tripped with.
func extremes(typ string) []any {
	switch typ {
	case config.TypeInt16:
		return []any{0, -1, math.MinInt16, math.MaxInt16, 0x1234}
	case config.TypeUint16:
		return []any{0, 1, math.MaxUint16, 0x1234}
	case config.TypeInt32:
		return []any{0, -1, math.MinInt32, math.MaxInt32, 0x12345678}
	case config.TypeUint32:
		return []any{0, 1, math.MaxUint32, 0x12345678}
	case config.TypeInt64:
		return []any{0, -1, math.MinInt64 + 1024, 1 << 52, -(1 << 52) + 3, 0x0102030405060708}
	case config.TypeUint64:
		return []any{0, 1, uint64(1) << 63, uint64(0x0102030405060708)}
	case config.TypeFloat32:
		return []any{0.0, -1.5, math.MaxFloat32, -math.SmallestNonzeroFloat32, math.Inf(1), math.Inf(-1), math.NaN(), 3.14159}
	case config.TypeFloat64:
		return []any{0.0, -1.5, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(-1), math.NaN(), math.Pi}
	}
	return nil
}

// allTypesProfile has one value per table, type and order, plus bits,
// bools, a string and scaled values, spread so that the planner both
// coalesces and splits.
func allTypesProfile(t testing.TB) *config.Profile {
	p := &config.Profile{Name: "all-types", Kind: "monitor"}
	addr := 0
	for _, table := range []string{config.TableHolding, config.TableInput} {
		for _, typ := range numTypes {
			for _, ord := range orders {
				v := config.Value{Name: fmt.Sprintf("%s_%s_%s", table, typ, ord), Table: table, Address: ptr(addr), Type: typ, Order: ord}
				p.Values = append(p.Values, v)
				addr += v.Registers() + addr%3 // irregular gaps
			}
		}
		addr += 200 // force a second request per table
	}
	p.Values = append(p.Values,
		config.Value{Name: "coil_a", Table: config.TableCoil, Address: ptr(0)},
		config.Value{Name: "coil_b", Table: config.TableCoil, Address: ptr(13)},
		config.Value{Name: "coil_far", Table: config.TableCoil, Address: ptr(4000)},
		config.Value{Name: "disc_a", Table: config.TableDiscrete, Address: ptr(7)},
		config.Value{Name: "bit_low", Table: config.TableHolding, Address: ptr(900), Type: config.TypeUint16, Bit: ptr(0)},
		config.Value{Name: "bit_high", Table: config.TableHolding, Address: ptr(900), Type: config.TypeUint16, Bit: ptr(15)},
		config.Value{Name: "bit_32", Table: config.TableInput, Address: ptr(902), Type: config.TypeUint32, Order: config.OrderCDAB, Bit: ptr(20)},
		config.Value{Name: "flag", Table: config.TableHolding, Address: ptr(905), Type: config.TypeBool},
		config.Value{Name: "name", Table: config.TableHolding, Address: ptr(910), Type: config.TypeString, Length: 6},
		config.Value{Name: "name_swapped", Table: config.TableHolding, Address: ptr(920), Type: config.TypeString, Length: 3, Order: config.OrderBADC},
		config.Value{Name: "temp", Table: config.TableInput, Address: ptr(930), Type: config.TypeInt16, Scale: ptr(0.1), Offset: -40},
	)
	if err := p.Compile(); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRoundTripEveryTypeOrderTable encodes extreme values with the
// simulator, serves them over Modbus TCP and RTU over TCP, reads them back
// with the driver and checks every value decodes to what was served.
func TestRoundTripEveryTypeOrderTable(t *testing.T) {
	t.Parallel()
	p := allTypesProfile(t)
	tcp, rtu := freeAddr(t), freeAddr(t)
	site := testSite(p, 2, func(i int) config.ModbusDevice {
		if i == 0 {
			return config.ModbusDevice{Address: tcp, UnitID: 7, Timeout: time.Second}
		}
		return config.ModbusDevice{RTUOverTCP: rtu, UnitID: 9, Timeout: time.Second}
	})
	sim := startSim(t, site, simulator.Options{})
	for round := 0; round < 8; round++ {
		values := map[string]any{
			"coil_a": round%2 == 0, "coil_b": round%3 == 0, "coil_far": true, "disc_a": round%2 == 1,
			"bit_low": round%2 == 0, "bit_high": true, "bit_32": round%2 == 1, "flag": round%2 == 1,
			"name": fmt.Sprintf("SN-%d-X", round), "name_swapped": "AbC", "temp": -12.3 + float64(round),
		}
		for _, table := range []string{config.TableHolding, config.TableInput} {
			for _, typ := range numTypes {
				ex := extremes(typ)
				for k, ord := range orders {
					values[fmt.Sprintf("%s_%s_%s", table, typ, ord)] = ex[(round+k)%len(ex)]
				}
			}
		}
		for i := range site.Devices {
			dev := &site.Devices[i]
			if err := sim.SetValues(dev.ID, values); err != nil {
				t.Fatal(err)
			}
			r, err := modbus.ReadOnce(context.Background(), dev, p)
			if err != nil {
				t.Fatalf("round %d %s: %v", round, dev.Transport(), err)
			}
			for k, v := range p.Values {
				checkValue(t, fmt.Sprintf("round %d %s %s", round, dev.Transport(), v.Name), &p.Values[k], values[v.Name], r.Samples[k])
			}
		}
	}
}

func checkValue(t *testing.T, what string, v *config.Value, want any, got rules.Sample) {
	t.Helper()
	switch w := want.(type) {
	case string:
		if got.Str != w {
			t.Errorf("%s: got %q, want %q", what, got.Str, w)
		}
		return
	case bool:
		if (got.Num == 1) != w {
			t.Errorf("%s: got %v, want %v", what, got.Num, w)
		}
		return
	}
	var f float64
	switch w := want.(type) {
	case int:
		f = float64(w)
	case uint64:
		f = float64(w)
	case float64:
		f = w
		if v.Type == config.TypeFloat32 {
			f = float64(float32(w))
		}
	}
	if v.Scale != nil {
		if math.Abs(got.Num-f) > *v.Scale/2 {
			t.Errorf("%s: got %v, want %v", what, got.Num, f)
		}
		return
	}
	if !(got.Num == f || math.IsNaN(f) && math.IsNaN(got.Num)) {
		t.Errorf("%s: got %v, want %v", what, got.Num, f)
	}
}

// TestDecodeAsOrders checks that probe's DecodeAs shows the same float
// under each order when given registers laid out in that order.
func TestDecodeAsOrders(t *testing.T) {
	for _, ord := range orders {
		v := config.Value{Name: "x", Table: config.TableHolding, Address: ptr(0), Type: config.TypeFloat32, Order: ord}
		regs, err := simulator.Encode(&v, 21.5)
		if err != nil {
			t.Fatal(err)
		}
		for _, other := range orders {
			s, err := modbus.DecodeAs(&v, regs, other)
			if err != nil {
				t.Fatal(err)
			}
			if (s.Num == 21.5) != (other == ord) {
				t.Errorf("registers in %s decoded as %s: %v", ord, other, s.Num)
			}
		}
	}
}
