package modbus

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/rules"
)

// Word and byte order.
//
// A multi-register value arrives as registers r0, r1, ... in address order,
// each register as two bytes, high byte first on the wire. The profile's
// order names where the value's bytes sit, A being the most significant:
//
//	ABCD  big-endian, Modbus' natural order      r0=AB r1=CD
//	CDAB  words swapped (low word first)         r0=CD r1=AB
//	BADC  bytes swapped within each word         r0=BA r1=DC
//	DCBA  little-endian                          r0=DC r1=BA
//
// For 64-bit values (four registers) the same pattern is applied across all
// four registers: CDAB means the words come least significant first
// (r0=GH r1=EF r2=CD r3=AB), BADC swaps the bytes inside each word
// (r0=BA r1=DC r2=FE r3=HG), DCBA is fully little-endian. In general an
// order reverses the words when it is CDAB or DCBA and swaps the bytes of
// each word when it is BADC or DCBA. A 16-bit value honours the byte swap
// only (BADC and DCBA read it little-endian). A string is read in address
// order and honours the byte swap only, as devices that swap bytes in
// strings do so per register.

// swaps reports whether an order reverses words and swaps bytes in words.
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

// canonical returns the value's bytes most significant first, undoing the
// order. dst must have room for 2*len(regs) bytes.
func canonical(dst []byte, regs []uint16, order string, isString bool) []byte {
	words, bytesw := swaps(order)
	if isString {
		words = false
	}
	n := len(regs)
	dst = dst[:2*n]
	for i, r := range regs {
		j := i
		if words {
			j = n - 1 - i
		}
		if bytesw {
			r = r<<8 | r>>8
		}
		binary.BigEndian.PutUint16(dst[2*j:], r)
	}
	return dst
}

// decoded is one value decoded from its raw registers or bits: the sample
// the engine sees, and the unscaled integer for formatting serials.
type decoded struct {
	sample rules.Sample
	// integer is the unscaled integer value, for integer types (and
	// bits) only: intKind is 's' (signed) or 'u' (unsigned), 0 otherwise.
	// It is formatted only when the value is the serial, so that a poll
	// allocates no strings for numbers.
	integer  uint64
	intKind  byte
	isString bool
}

// decodeBits decodes a value of a bit table.
func decodeBit(on bool) decoded {
	if on {
		return decoded{sample: rules.Sample{Num: 1}, integer: 1, intKind: 'u'}
	}
	return decoded{sample: rules.Sample{Num: 0}, intKind: 'u'}
}

// decodeRegisters decodes a register value under the given order (the
// profile's, or another one when probing).
func decodeRegisters(v *config.Value, regs []uint16, order string) (decoded, error) {
	if len(regs) != v.Registers() {
		return decoded{}, fmt.Errorf("value %s: got %d registers, want %d", v.Name, len(regs), v.Registers())
	}
	if v.Type == config.TypeString {
		var buf [512]byte
		be := canonical(buf[:], regs, order, true)
		s := strings.TrimRight(string(be), "\x00 ")
		s = strings.TrimLeft(s, "\x00 ")
		return decoded{sample: rules.Sample{Str: s}, isString: true}, nil
	}
	// Other types have at most four registers (Registers, checked above).
	var buf [8]byte
	be := canonical(buf[:], regs, order, false)
	var u uint64
	for _, b := range be {
		u = u<<8 | uint64(b)
	}
	if v.Bit != nil {
		return decodeBit(u>>uint(*v.Bit)&1 == 1), nil
	}
	var raw float64
	var kind byte
	switch v.Type {
	case config.TypeBool:
		return decodeBit(u != 0), nil
	case config.TypeInt16:
		i := int64(int16(u))
		raw, u, kind = float64(i), uint64(i), 's'
	case config.TypeInt32:
		i := int64(int32(u))
		raw, u, kind = float64(i), uint64(i), 's'
	case config.TypeInt64:
		raw, kind = float64(int64(u)), 's'
	case config.TypeUint16, config.TypeUint32, config.TypeUint64, "":
		raw, kind = float64(u), 'u'
	case config.TypeFloat32:
		raw = float64(math.Float32frombits(uint32(u)))
	case config.TypeFloat64:
		raw = math.Float64frombits(u)
	default:
		return decoded{}, fmt.Errorf("value %s: unknown type %q", v.Name, v.Type)
	}
	return decoded{sample: rules.Sample{Num: scaled(v, raw)}, integer: u, intKind: kind}, nil
}

// scaled applies the profile's scale and offset: decoded = raw*scale+offset.
func scaled(v *config.Value, raw float64) float64 {
	if v.Scale != nil {
		raw *= *v.Scale
	}
	return raw + v.Offset
}

// inRange reports whether a decoded number lies in the value's plausible
// range; values without a range are always in range, NaN never is.
func inRange(v *config.Value, s rules.Sample) bool {
	if len(v.Range) != 2 || v.Type == config.TypeString {
		return true
	}
	return s.Num >= v.Range[0] && s.Num <= v.Range[1]
}

// serialString formats a decoded value as a serial number: strings as
// they are, integers in decimal without scale, other numbers in decimal.
func serialString(d decoded) string {
	switch {
	case d.isString:
		return d.sample.Str
	case d.intKind == 's':
		return strconv.FormatInt(int64(d.integer), 10)
	case d.intKind == 'u':
		return strconv.FormatUint(d.integer, 10)
	default:
		return strconv.FormatFloat(d.sample.Num, 'f', -1, 64)
	}
}

// serialCache keeps the text of a device's last integer serial: it is the
// same poll after poll, and formatting it anew cost an allocation per
// poll. A nil cache formats every time.
type serialCache struct {
	kind byte
	n    uint64
	s    string
}

func (c *serialCache) of(d decoded) string {
	if c == nil || d.isString || (d.intKind != 's' && d.intKind != 'u') {
		return serialString(d)
	}
	if c.kind != d.intKind || c.n != d.integer || c.s == "" {
		c.kind, c.n, c.s = d.intKind, d.integer, serialString(d)
	}
	return c.s
}

// RangeError is a decoded value outside its profile's plausible range.
type RangeError struct {
	Value    string
	Got      float64
	Min, Max float64
}

// Error names the value, what it decoded to, and the likely cause.
func (e *RangeError) Error() string {
	return fmt.Sprintf("value %s = %g outside plausible range [%g,%g]: check byte/word order, scale and the device's state",
		e.Value, e.Got, e.Min, e.Max)
}
