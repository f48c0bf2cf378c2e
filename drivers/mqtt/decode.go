package mqtt

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/rules"
)

// Reasons a message is dropped. They are the values of the reason label of
// icugate_mqtt_messages_dropped_total, so they are part of the metrics
// contract: add, never rename.
const (
	ReasonTooLarge      = "too_large"      // payload over MaxMessageBytes
	ReasonInvalidUTF8   = "invalid_utf8"   // payload is not valid UTF-8
	ReasonTooDeep       = "too_deep"       // JSON nested deeper than maxDepth
	ReasonNotJSON       = "not_json"       // payload does not parse as JSON
	ReasonNotObject     = "not_object"     // JSON, but not an object
	ReasonMissingValue  = "missing_value"  // a profile value's path is absent
	ReasonWrongType     = "wrong_type"     // a value has the wrong JSON type or does not fit its type
	ReasonNaN           = "nan"            // a number given as "NaN"/"Infinity"
	ReasonOutOfRange    = "out_of_range"   // a decoded value outside the profile's range
	ReasonBadTime       = "bad_time"       // the time_path value is not RFC 3339 or Unix time
	ReasonStale         = "stale"          // device time older than the freshness window
	ReasonFutureTime    = "future_time"    // device time too far in the future
	ReasonRetained      = "retained"       // retained message without a device time
	ReasonUnknownDevice = "unknown_device" // topic names no configured device
)

// maxDepth bounds JSON nesting. Status messages are a few levels deep; a
// deeply nested body is an attack or a bug, and refusing it before parsing
// keeps the parser's stack and allocations small.
const maxDepth = 32

// maxStringBytes bounds a string value (serial numbers, modes).
const maxStringBytes = 256

// badMessage is why a payload was refused: a metrics reason and the detail
// for the (rate-limited) log.
type badMessage struct {
	reason string
	err    error
}

func (b *badMessage) Error() string { return b.reason + ": " + b.err.Error() }

func bad(reason string, format string, args ...any) *badMessage {
	return &badMessage{reason: reason, err: fmt.Errorf(format, args...)}
}

// decoder decodes the payloads of one profile. Paths are split once, at
// construction, so a message costs one JSON parse and a walk per value.
type decoder struct {
	profile *config.Profile
	root    *pathNode // value i is slot i; the time path is slot len(Values)
	skip    []bool    // clinical values the site does not collect
	hasTime bool
	serial  int // index of the serial value, -1 if none
}

func newDecoder(p *config.Profile, clinical bool) *decoder {
	d := &decoder{profile: p, root: &pathNode{}, skip: make([]bool, len(p.Values)), serial: -1}
	for i := range p.Values {
		d.skip[i] = p.Values[i].Clinical && !clinical
		if !d.skip[i] {
			d.root.add(strings.Split(p.Values[i].Path, "."), i)
		}
		if p.Serial != "" && p.Values[i].Name == p.Serial {
			d.serial = i
		}
	}
	if p.TimePath != "" {
		d.hasTime = true
		d.root.add(strings.Split(p.TimePath, "."), len(p.Values))
	}
	return d
}

// decoded is the content of one good message.
type decoded struct {
	values  []rules.Sample
	serial  string
	time    time.Time // device time; zero when the profile has none
	hasTime bool
}

// decode checks and decodes one payload. It never panics on input, and
// every refusal carries a reason.
func (d *decoder) decode(payload []byte) (decoded, *badMessage) {
	return d.decodeWith(payload, nil)
}

// decodeWith is decode using the reusable buffers of sc, which belongs to
// the calling goroutine; nil allocates afresh.
func (d *decoder) decodeWith(payload []byte, sc *scratch) (decoded, *badMessage) {
	var out decoded
	if !utf8.Valid(payload) {
		return out, bad(ReasonInvalidUTF8, "payload is not valid UTF-8")
	}
	vals := sc.jvals(len(d.profile.Values) + 1)
	kind, err := scanJSONInterned(payload, d.root, vals, sc.interner())
	if errors.Is(err, errTooDeep) {
		return out, bad(ReasonTooDeep, "%v", err)
	}
	if err != nil {
		return out, bad(ReasonNotJSON, "%v", err)
	}
	if kind != kindObject {
		return out, bad(ReasonNotObject, "payload is JSON but not an object")
	}
	out.values = sc.samples(len(d.profile.Values))
	for i := range d.profile.Values {
		if d.skip[i] {
			continue
		}
		v := &d.profile.Values[i]
		if vals[i].kind == kindAbsent {
			return out, bad(ReasonMissingValue, "value %s: path %q not in payload", v.Name, v.Path)
		}
		s, b := sample(v, vals[i])
		if b != nil {
			return out, b
		}
		out.values[i] = s
	}
	if d.serial >= 0 {
		out.serial = out.values[d.serial].Str
		if out.serial == "" && d.profile.Values[d.serial].Type != config.TypeString {
			out.serial = strconv.FormatFloat(out.values[d.serial].Num, 'f', -1, 64)
		}
	}
	if tv := vals[len(d.profile.Values)]; d.hasTime && tv.kind != kindAbsent {
		t, err := parseTime(tv)
		if err != nil {
			return out, bad(ReasonBadTime, "time %s: %v", d.profile.TimePath, err)
		}
		out.time, out.hasTime = t, true
	}
	return out, nil
}

// sample converts one JSON value to a Sample as the profile value's type
// says: numbers checked to fit their type, bit extraction, scale and
// offset, then the plausible range.
func sample(v *config.Value, raw jval) (rules.Sample, *badMessage) {
	switch v.Type {
	case config.TypeString:
		s, ok := raw.str, raw.kind == kindString
		if !ok {
			return rules.Sample{}, bad(ReasonWrongType, "value %s: want a string, got %s", v.Name, jsonType(raw))
		}
		if len(s) > maxStringBytes {
			return rules.Sample{}, bad(ReasonWrongType, "value %s: string of %d bytes, limit %d", v.Name, len(s), maxStringBytes)
		}
		return rules.Sample{Str: s}, nil
	case config.TypeBool:
		switch {
		case raw.kind == kindBool:
			return rules.Sample{Num: raw.num}, nil
		case raw.kind == kindNumber && (raw.num == 0 || raw.num == 1):
			return rules.Sample{Num: raw.num}, nil
		}
		return rules.Sample{}, bad(ReasonWrongType, "value %s: want a bool (or 0/1), got %s", v.Name, describe(raw))
	}
	f, b := number(v, raw)
	if b != nil {
		return rules.Sample{}, b
	}
	if v.Bit != nil {
		bit := uint(*v.Bit)
		return rules.Sample{Num: float64((uint64(int64(f)) >> bit) & 1)}, nil
	}
	scale := 1.0
	if v.Scale != nil {
		scale = *v.Scale
	}
	f = f*scale + v.Offset
	if len(v.Range) == 2 && (f < v.Range[0] || f > v.Range[1]) {
		return rules.Sample{}, bad(ReasonOutOfRange, "value %s: %g outside plausible range [%g, %g]", v.Name, f, v.Range[0], v.Range[1])
	}
	return rules.Sample{Num: f}, nil
}

// intBounds returns the range of an integer type; JSON numbers are
// float64, so the 64-bit bounds are approximate, which is fine for status
// values.
func intBounds(typ string) (lo, hi float64, isInt bool) {
	switch typ {
	case config.TypeInt16:
		return math.MinInt16, math.MaxInt16, true
	case config.TypeUint16:
		return 0, math.MaxUint16, true
	case config.TypeInt32:
		return math.MinInt32, math.MaxInt32, true
	case config.TypeUint32:
		return 0, math.MaxUint32, true
	case config.TypeInt64:
		return math.MinInt64, math.MaxInt64, true
	case config.TypeUint64:
		return 0, math.MaxUint64, true
	}
	return math.MinInt64, math.MaxInt64, false
}

func number(v *config.Value, raw jval) (float64, *badMessage) {
	f, ok := raw.num, raw.kind == kindNumber
	if !ok {
		if raw.kind == kindString && isNaNString(raw.str) {
			return 0, bad(ReasonNaN, "value %s: %q is not a number", v.Name, raw.str)
		}
		return 0, bad(ReasonWrongType, "value %s: want a number, got %s", v.Name, describe(raw))
	}
	if lo, hi, isInt := intBounds(v.Type); isInt || v.Bit != nil {
		if f != math.Trunc(f) || f < lo || f > hi {
			return 0, bad(ReasonWrongType, "value %s: %g does not fit %s", v.Name, f, v.Type)
		}
	}
	return f, nil
}

func isNaNString(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "nan", "-nan", "+nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity":
		return true
	}
	return false
}

// parseTime reads a device timestamp: an RFC 3339 string, or a Unix time
// number in seconds or milliseconds (values from 1e11 on are taken as
// milliseconds: 1e11 seconds is the year 5138).
func parseTime(raw jval) (time.Time, error) {
	switch raw.kind {
	case kindString:
		return time.Parse(time.RFC3339Nano, raw.str)
	case kindNumber:
		t := raw.num
		if t <= 0 || t > 1e14 || math.IsNaN(t) {
			return time.Time{}, fmt.Errorf("unix time %g out of range", t)
		}
		if t >= 1e11 {
			ms := int64(t)
			return time.UnixMilli(ms).UTC(), nil
		}
		sec, frac := math.Modf(t)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	return time.Time{}, errors.New("want an RFC 3339 string or a Unix time number, got " + jsonType(raw))
}

func jsonType(raw jval) string {
	switch raw.kind {
	case kindNull:
		return "null"
	case kindBool:
		return "bool"
	case kindNumber:
		return "number"
	case kindString:
		return "string"
	case kindArray:
		return "array"
	case kindObject:
		return "object"
	}
	return "nothing"
}

// describe names a JSON value for an error message without echoing long
// device input into the log.
func describe(raw jval) string {
	if raw.kind == kindString && len(raw.str) <= 32 {
		return "string " + strconv.Quote(raw.str)
	}
	return jsonType(raw)
}
