package influx

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Line protocol (InfluxDB 1.8) escaping, by token:
//
//	measurement          escape ',' and ' '
//	tag key, tag value,  escape ',', '=' and ' '
//	field key
//	string field value   quoted; escape '"' and '\'
//
// A backslash elsewhere in an identifier is written as is, because the 1.8
// parser has no escape for the backslash itself: that makes a backslash at
// the end of an identifier, or right before a character that needs escaping,
// impossible to write faithfully, so those (and newlines, which end a line)
// are refused with an error naming the token instead of being mangled.
// Control characters in identifiers are refused as well: parsers differ on
// them and no identifier of ours needs one.
const (
	measurementSpecials = ", "
	tagSpecials         = ",= "
)

// reserved names InfluxDB 1.8 refuses as tag or field keys.
const reservedKey = "time"

// ErrNoFields is returned for a point without fields, which InfluxDB refuses.
var ErrNoFields = errors.New("point has no fields")

// Encode returns the point as one line of line protocol, without the
// trailing newline, with nanosecond precision.
func Encode(p Point) ([]byte, error) {
	return AppendLine(nil, p)
}

// AppendLine appends the point's line (without newline) to dst. Tags are
// written sorted by key, as InfluxDB prefers. On error dst is returned
// unchanged.
func AppendLine(dst []byte, p Point) ([]byte, error) {
	start := len(dst)
	if len(p.Fields) == 0 {
		return dst, fmt.Errorf("measurement %q: %w", p.Measurement, ErrNoFields)
	}
	if p.Time.IsZero() {
		return dst, fmt.Errorf("measurement %q: point has no time (the observation's time is required)", p.Measurement)
	}
	if err := checkIdent("measurement", p.Measurement, measurementSpecials); err != nil {
		return dst, err
	}
	if strings.HasPrefix(p.Measurement, "#") {
		return dst, fmt.Errorf("measurement %q: a leading '#' makes the line a comment", p.Measurement)
	}
	tags := p.Tags
	if !sort.SliceIsSorted(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key }) {
		tags = append([]Tag(nil), tags...)
		sort.Slice(tags, func(i, j int) bool { return tags[i].Key < tags[j].Key })
	}
	dst = appendEscaped(dst, p.Measurement, measurementSpecials)
	for i, t := range tags {
		if err := checkTag(p.Measurement, t); err != nil {
			return dst[:start], err
		}
		if i > 0 && tags[i-1].Key == t.Key {
			return dst[:start], fmt.Errorf("measurement %q: tag %q given twice", p.Measurement, t.Key)
		}
		dst = append(dst, ',')
		dst = appendEscaped(dst, t.Key, tagSpecials)
		dst = append(dst, '=')
		dst = appendEscaped(dst, t.Value, tagSpecials)
	}
	dst = append(dst, ' ')
	for i, f := range p.Fields {
		if err := checkIdent("field key", f.Key, tagSpecials); err != nil {
			return dst[:start], fmt.Errorf("measurement %q: %w", p.Measurement, err)
		}
		if f.Key == reservedKey {
			return dst[:start], fmt.Errorf("measurement %q: field key %q is reserved by InfluxDB", p.Measurement, f.Key)
		}
		for _, g := range p.Fields[:i] {
			if g.Key == f.Key {
				return dst[:start], fmt.Errorf("measurement %q: field %q given twice", p.Measurement, f.Key)
			}
		}
		if err := validateField(p.Measurement, f); err != nil {
			return dst[:start], err
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendEscaped(dst, f.Key, tagSpecials)
		dst = append(dst, '=')
		dst = appendFieldValue(dst, f)
	}
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, p.Time.UnixNano(), 10)
	return dst, nil
}

func checkTag(measurement string, t Tag) error {
	if err := checkIdent("tag key", t.Key, tagSpecials); err != nil {
		return fmt.Errorf("measurement %q: %w", measurement, err)
	}
	if t.Key == reservedKey {
		return fmt.Errorf("measurement %q: tag key %q is reserved by InfluxDB", measurement, t.Key)
	}
	if err := checkIdent("tag value", t.Value, tagSpecials); err != nil {
		return fmt.Errorf("measurement %q: tag %q: %w", measurement, t.Key, err)
	}
	return nil
}

// checkIdent refuses identifiers line protocol cannot carry faithfully.
func checkIdent(what, s, specials string) error {
	if s == "" {
		return fmt.Errorf("%s is empty", what)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %q is not valid UTF-8", what, s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s %q contains a control character or line break", what, s)
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		if i == len(s)-1 || strings.IndexByte(specials, s[i+1]) >= 0 || s[i+1] == '\\' {
			return fmt.Errorf("%s %q: a backslash at the end or before %q or another backslash cannot be written in line protocol", what, s, specials)
		}
	}
	return nil
}

func appendEscaped(dst []byte, s, specials string) []byte {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(specials, s[i]) >= 0 {
			dst = append(dst, '\\')
		}
		dst = append(dst, s[i])
	}
	return dst
}

func appendFieldValue(dst []byte, f Field) []byte {
	switch f.Kind {
	case FieldFloat:
		return strconv.AppendFloat(dst, f.f, 'g', -1, 64)
	case FieldInt:
		return append(strconv.AppendInt(dst, f.i, 10), 'i')
	case FieldUint:
		return append(strconv.AppendUint(dst, f.u, 10), 'i')
	case FieldBool:
		return strconv.AppendBool(dst, f.b)
	default:
		dst = append(dst, '"')
		for i := 0; i < len(f.s); i++ {
			if c := f.s[i]; c == '"' || c == '\\' {
				dst = append(dst, '\\')
			}
			dst = append(dst, f.s[i])
		}
		return append(dst, '"')
	}
}
