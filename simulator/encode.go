package simulator

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/icugate/icugate/config"
)

// Encoding is the inverse of the gateway's decoding (drivers/modbus): a
// profile value becomes the registers (or bit) a device would hold, so that
// the driver decodes it back to the same value. It is written separately
// from the decoder on purpose: round-trip tests then check one against the
// other.
//
// Word and byte order, as in the driver: an order reverses the words when
// it is CDAB or DCBA and swaps the bytes inside each word when it is BADC or
// DCBA; over 4 registers for 64-bit types, over 1 for 16-bit types (byte
// swap only). Strings honour the byte swap only.

// Tables are a device's register and bit contents; addresses not present
// read as 0.
type Tables struct {
	Coils     map[uint16]bool
	Discrete  map[uint16]bool
	Holding   map[uint16]uint16
	Input     map[uint16]uint16
	registers int // count of encoded values, for diagnostics
}

func newTables() *Tables {
	return &Tables{Coils: map[uint16]bool{}, Discrete: map[uint16]bool{}, Holding: map[uint16]uint16{}, Input: map[uint16]uint16{}}
}

// EncodeProfile encodes values (by name; missing ones are 0 or "") into a
// device's tables.
func EncodeProfile(p *config.Profile, values map[string]any) (*Tables, error) {
	t := newTables()
	for i := range p.Values {
		v := &p.Values[i]
		x, ok := values[v.Name]
		if !ok {
			x = zeroOf(v)
		}
		if err := t.put(v, x); err != nil {
			return nil, fmt.Errorf("profile %s: value %s: %w", p.Name, v.Name, err)
		}
	}
	return t, nil
}

func zeroOf(v *config.Value) any {
	if v.Type == config.TypeString {
		return ""
	}
	return 0
}

// put encodes one value into the tables; bit values set only their bit.
func (t *Tables) put(v *config.Value, x any) error {
	if v.Address == nil {
		return fmt.Errorf("no address")
	}
	addr := uint16(*v.Address)
	switch v.Table {
	case config.TableCoil, config.TableDiscrete:
		b, err := asBool(x)
		if err != nil {
			return err
		}
		if v.Table == config.TableCoil {
			t.Coils[addr] = b
		} else {
			t.Discrete[addr] = b
		}
		return nil
	}
	regs := t.Holding
	if v.Table == config.TableInput {
		regs = t.Input
	} else if v.Table != config.TableHolding {
		return fmt.Errorf("unknown table %q", v.Table)
	}
	if v.Bit != nil {
		b, err := asBool(x)
		if err != nil {
			return err
		}
		return setBit(regs, v, addr, *v.Bit, b)
	}
	words, err := Encode(v, x)
	if err != nil {
		return err
	}
	for k, w := range words {
		regs[addr+uint16(k)] = w
	}
	t.registers++
	return nil
}

// setBit sets one bit of a (possibly multi-register) value, leaving the
// other bits as they are.
func setBit(regs map[uint16]uint16, v *config.Value, addr uint16, bit int, on bool) error {
	n := v.Registers()
	cur := make([]uint16, n)
	for k := range cur {
		cur[k] = regs[addr+uint16(k)]
	}
	be := unarrange(cur, v.Order, false)
	byteIdx := len(be) - 1 - bit/8
	if byteIdx < 0 {
		return fmt.Errorf("bit %d outside %d registers", bit, n)
	}
	if on {
		be[byteIdx] |= 1 << uint(bit%8)
	} else {
		be[byteIdx] &^= 1 << uint(bit%8)
	}
	for k, w := range arrange(be, v.Order, false) {
		regs[addr+uint16(k)] = w
	}
	return nil
}

// Encode returns the registers, in address order, that hold x as value v.
func Encode(v *config.Value, x any) ([]uint16, error) {
	n := v.Registers()
	be := make([]byte, 2*n)
	switch v.Type {
	case config.TypeString:
		s, ok := x.(string)
		if !ok {
			s = fmt.Sprint(x)
		}
		if len(s) > len(be) {
			return nil, fmt.Errorf("string %q longer than %d registers", s, n)
		}
		copy(be, s)
		return arrange(be, v.Order, true), nil
	case config.TypeBool:
		b, err := asBool(x)
		if err != nil {
			return nil, err
		}
		if b {
			be[len(be)-1] = 1
		}
		return arrange(be, v.Order, false), nil
	case config.TypeFloat32, config.TypeFloat64:
		f, err := asFloat(x)
		if err != nil {
			return nil, err
		}
		f = unscale(v, f)
		if v.Type == config.TypeFloat32 {
			binary.BigEndian.PutUint32(be, math.Float32bits(float32(f)))
		} else {
			binary.BigEndian.PutUint64(be, math.Float64bits(f))
		}
		return arrange(be, v.Order, false), nil
	}
	u, err := integerBits(v, x)
	if err != nil {
		return nil, err
	}
	for k := len(be) - 1; k >= 0; k-- {
		be[k] = byte(u)
		u >>= 8
	}
	return arrange(be, v.Order, false), nil
}

// integerBits returns the two's-complement bits of an integer value,
// unscaled, checked against the type's range.
func integerBits(v *config.Value, x any) (uint64, error) {
	exact := (v.Scale == nil || *v.Scale == 1) && v.Offset == 0
	var i int64
	switch n := x.(type) {
	case uint64:
		if exact && (v.Type == config.TypeUint64 || v.Type == "") {
			return n, nil
		}
		i = int64(n)
	case int:
		i = int64(n)
	case int64:
		i = n
	default:
		f, err := asFloat(x)
		if err != nil {
			return 0, err
		}
		f = math.Round(unscale(v, f))
		if f >= 1<<63 && v.Type == config.TypeUint64 {
			return uint64(f), nil
		}
		i = int64(f)
		exact = true
	}
	if !exact {
		i = int64(math.Round(unscale(v, float64(i))))
	}
	lo, hi := intRange(v.Type)
	if i < lo || (hi >= 0 && i > hi) {
		return 0, fmt.Errorf("%d does not fit type %s", i, v.Type)
	}
	return uint64(i), nil
}

func intRange(typ string) (lo, hi int64) {
	switch typ {
	case config.TypeInt16:
		return math.MinInt16, math.MaxInt16
	case config.TypeUint16, "":
		return 0, math.MaxUint16
	case config.TypeInt32:
		return math.MinInt32, math.MaxInt32
	case config.TypeUint32:
		return 0, math.MaxUint32
	case config.TypeUint64:
		return 0, -1
	}
	return math.MinInt64, math.MaxInt64
}

// unscale inverts decoded = raw*scale + offset.
func unscale(v *config.Value, f float64) float64 {
	f -= v.Offset
	if v.Scale != nil && *v.Scale != 0 {
		f /= *v.Scale
	}
	return f
}

func asFloat(x any) (float64, error) {
	switch n := x.(type) {
	case float64:
		return n, nil
	case float32:
		return float64(n), nil
	case int:
		return float64(n), nil
	case int64:
		return float64(n), nil
	case uint64:
		return float64(n), nil
	case bool:
		if n {
			return 1, nil
		}
		return 0, nil
	}
	return 0, fmt.Errorf("value %v (%T) is not a number", x, x)
}

func asBool(x any) (bool, error) {
	if b, ok := x.(bool); ok {
		return b, nil
	}
	f, err := asFloat(x)
	return f != 0, err
}

func swaps(order string) (words, bytes bool) {
	switch order {
	case config.OrderCDAB:
		return true, false
	case config.OrderBADC:
		return false, true
	case config.OrderDCBA:
		return true, true
	}
	return false, false
}

// arrange lays big-endian value bytes out as registers in an order.
func arrange(be []byte, order string, isString bool) []uint16 {
	words, bytesw := swaps(order)
	n := len(be) / 2
	regs := make([]uint16, n)
	for k := 0; k < n; k++ {
		src := k
		if words && !isString {
			src = n - 1 - k
		}
		w := binary.BigEndian.Uint16(be[2*src:])
		if bytesw {
			w = w<<8 | w>>8
		}
		regs[k] = w
	}
	return regs
}

// unarrange is the inverse of arrange.
func unarrange(regs []uint16, order string, isString bool) []byte {
	words, bytesw := swaps(order)
	n := len(regs)
	be := make([]byte, 2*n)
	for k, w := range regs {
		dst := k
		if words && !isString {
			dst = n - 1 - k
		}
		if bytesw {
			w = w<<8 | w>>8
		}
		binary.BigEndian.PutUint16(be[2*dst:], w)
	}
	return be
}
