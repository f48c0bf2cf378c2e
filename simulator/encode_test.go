package simulator

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/icugate/icugate/config"
)

// TestEncodeKnownVectors checks the encoder against register words worked
// out by hand from the Modbus conventions, independently of the driver's
// decoder (drivers/modbus round-trips the two against each other).
func TestEncodeKnownVectors(t *testing.T) {
	t.Parallel()
	val := func(typ, order string) *config.Value {
		v := &config.Value{Name: "x", Table: config.TableHolding, Address: ptr(0), Type: typ, Order: order}
		if typ == config.TypeString {
			v.Length = 2
		}
		return v
	}
	scaled := val(config.TypeInt16, "")
	scaled.Scale = ptr(0.1)
	offset := val(config.TypeUint16, "")
	offset.Scale, offset.Offset = ptr(0.5), -10
	for _, c := range []struct {
		name string
		v    *config.Value
		x    any
		want []uint16
	}{
		{"uint16 default", val("", ""), 0x1234, []uint16{0x1234}},
		{"uint16 BADC swaps bytes", val(config.TypeUint16, config.OrderBADC), 0x1234, []uint16{0x3412}},
		{"uint16 CDAB has one word", val(config.TypeUint16, config.OrderCDAB), 0x1234, []uint16{0x1234}},
		{"int16 negative", val(config.TypeInt16, ""), -2, []uint16{0xFFFE}},
		{"uint32 ABCD", val(config.TypeUint32, config.OrderABCD), 0x12345678, []uint16{0x1234, 0x5678}},
		{"uint32 CDAB", val(config.TypeUint32, config.OrderCDAB), 0x12345678, []uint16{0x5678, 0x1234}},
		{"uint32 BADC", val(config.TypeUint32, config.OrderBADC), 0x12345678, []uint16{0x3412, 0x7856}},
		{"uint32 DCBA", val(config.TypeUint32, config.OrderDCBA), 0x12345678, []uint16{0x7856, 0x3412}},
		{"int32 -1", val(config.TypeInt32, ""), -1, []uint16{0xFFFF, 0xFFFF}},
		{"uint64 from uint64", val(config.TypeUint64, ""), uint64(0x0102030405060708), []uint16{0x0102, 0x0304, 0x0506, 0x0708}},
		{"uint64 CDAB reverses four words", val(config.TypeUint64, config.OrderCDAB), uint64(0x0102030405060708), []uint16{0x0708, 0x0506, 0x0304, 0x0102}},
		{"uint64 top bit from a float", val(config.TypeUint64, ""), float64(1 << 63), []uint16{0x8000, 0, 0, 0}},
		{"int64 from int64", val(config.TypeInt64, ""), int64(-2), []uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE}},
		{"float32 1.5", val(config.TypeFloat32, ""), 1.5, []uint16{0x3FC0, 0x0000}},
		{"float32 CDAB", val(config.TypeFloat32, config.OrderCDAB), 1.5, []uint16{0x0000, 0x3FC0}},
		{"float32 from an int", val(config.TypeFloat32, ""), 2, []uint16{0x4000, 0x0000}},
		{"float64 -2", val(config.TypeFloat64, ""), -2.0, []uint16{0xC000, 0, 0, 0}},
		{"bool true", val(config.TypeBool, ""), true, []uint16{0x0001}},
		{"bool from a number", val(config.TypeBool, ""), 0, []uint16{0x0000}},
		{"string pads with zeros", val(config.TypeString, ""), "A", []uint16{0x4100, 0x0000}},
		{"string BADC swaps bytes only", val(config.TypeString, config.OrderDCBA), "ABCD", []uint16{0x4241, 0x4443}},
		{"string of a number", val(config.TypeString, ""), 42, []uint16{0x3432, 0x0000}},
		{"scale 0.1 unscales 36.6", scaled, 36.6, []uint16{366}},
		{"scale 0.1 unscales an int", scaled, -3, []uint16{0xFFE2}},
		{"offset and scale", offset, 40, []uint16{100}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Encode(c.v, c.x)
			if err != nil || !slices.Equal(got, c.want) {
				t.Errorf("Encode(%v) = %#04x, %v; want %#04x", c.x, got, err, c.want)
			}
		})
	}
}

func TestEncodeRefusesWhatDoesNotFit(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, typ string
		x         any
		want      string
	}{
		{"int16 above range", config.TypeInt16, 40000, "does not fit"},
		{"int16 below range", config.TypeInt16, -40000, "does not fit"},
		{"uint16 negative", config.TypeUint16, -1, "does not fit"},
		{"uint32 above range", config.TypeUint32, int64(math.MaxUint32 + 1), "does not fit"},
		{"int32 from a large float", config.TypeInt32, 3e9, "does not fit"},
		{"uint64 negative", config.TypeUint64, -1, "does not fit"},
		{"number from text", config.TypeUint16, "twelve", "not a number"},
		{"float from text", config.TypeFloat32, "1.5", "not a number"},
		{"bool from text", config.TypeBool, "yes", "not a number"},
		{"string too long", config.TypeString, "ABCDE", "longer than"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := &config.Value{Name: "x", Table: config.TableHolding, Address: ptr(0), Type: c.typ, Length: 2}
			got, err := Encode(v, c.x)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Encode(%v as %s) = %v, %v; want an error saying %q", c.x, c.typ, got, err, c.want)
			}
		})
	}
}

// TestEncodeProfileTables: each value lands in its table at its address,
// bits of one register combine, values not given are zero.
func TestEncodeProfileTables(t *testing.T) {
	t.Parallel()
	p := &config.Profile{Name: "tables", Kind: "monitor", Values: []config.Value{
		{Name: "alarm", Table: config.TableCoil, Address: ptr(3)},
		{Name: "door", Table: config.TableDiscrete, Address: ptr(5), Type: config.TypeBool},
		{Name: "status", Table: config.TableHolding, Address: ptr(0)},
		{Name: "temp", Table: config.TableInput, Address: ptr(10), Type: config.TypeInt16, Scale: ptr(0.1)},
		{Name: "running", Table: config.TableHolding, Address: ptr(20), Bit: ptr(0)},
		{Name: "service", Table: config.TableHolding, Address: ptr(20), Bit: ptr(9)},
		{Name: "hi", Table: config.TableHolding, Address: ptr(30), Type: config.TypeUint32, Order: config.OrderCDAB, Bit: ptr(17)},
		{Name: "unset", Table: config.TableHolding, Address: ptr(40), Type: config.TypeUint32},
	}}
	if err := p.Compile(); err != nil {
		t.Fatal(err)
	}
	tb, err := EncodeProfile(p, map[string]any{"alarm": true, "door": 1, "status": 3, "temp": 36.6, "running": true, "service": 1, "hi": true})
	if err != nil {
		t.Fatal(err)
	}
	if !tb.Coils[3] || tb.Coils[0] || !tb.Discrete[5] {
		t.Errorf("bits: coils %v discrete %v; want coil 3 and discrete input 5 set", tb.Coils, tb.Discrete)
	}
	if tb.Holding[0] != 3 || tb.Input[10] != 366 {
		t.Errorf("holding 0 = %d, input 10 = %d; want 3 and 366", tb.Holding[0], tb.Input[10])
	}
	if tb.Holding[20] != 1<<9|1 {
		t.Errorf("holding 20 = %#04x; want bits 0 and 9 (%#04x)", tb.Holding[20], 1<<9|1)
	}
	// Bit 17 of a CDAB uint32 is bit 1 of the high word, which CDAB
	// stores second.
	if tb.Holding[30] != 0 || tb.Holding[31] != 0x0002 {
		t.Errorf("holding 30-31 = %#04x %#04x; want 0 0x0002", tb.Holding[30], tb.Holding[31])
	}
	if tb.Holding[40] != 0 || tb.Holding[41] != 0 {
		t.Error("a value with no simulate entry is not zero")
	}
	if _, err := EncodeProfile(p, map[string]any{"status": "high"}); err == nil || !strings.Contains(err.Error(), "value status") {
		t.Errorf("bad value: %v; want an error naming the value", err)
	}
	bad := &config.Profile{Name: "bad", Values: []config.Value{{Name: "x", Table: "flash", Address: ptr(0)}}}
	if _, err := EncodeProfile(bad, nil); err == nil || !strings.Contains(err.Error(), "unknown table") {
		t.Errorf("unknown table: %v", err)
	}
	noAddr := &config.Profile{Name: "bad", Values: []config.Value{{Name: "x", Table: config.TableHolding}}}
	if _, err := EncodeProfile(noAddr, nil); err == nil || !strings.Contains(err.Error(), "no address") {
		t.Errorf("no address: %v", err)
	}
}

func TestSerialValueFollowsTheValueType(t *testing.T) {
	t.Parallel()
	p := &config.Profile{Name: "serials", Kind: "monitor", Values: []config.Value{
		{Name: "num", Table: config.TableHolding, Address: ptr(0), Type: config.TypeUint32},
		{Name: "flt", Table: config.TableHolding, Address: ptr(2), Type: config.TypeFloat32},
		{Name: "str", Table: config.TableHolding, Address: ptr(4), Type: config.TypeString, Length: 4},
	}}
	if err := p.Compile(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		value, serial string
		want          any
	}{
		{"num", "1234", uint64(1234)},
		{"flt", "12.5", 12.5},
		{"num", "SN-7", "SN-7"},
		{"str", "1234", "1234"},
		{"missing", "1234", "1234"},
	} {
		p.Serial = c.value
		if got := serialValue(p, c.serial); got != c.want {
			t.Errorf("serial %q as %s = %#v, want %#v", c.serial, c.value, got, c.want)
		}
	}
}
