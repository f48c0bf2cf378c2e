// Package influx turns points into InfluxDB line protocol and delivers them,
// through the durable outbox, to an InfluxDB server (OSS 1.8 and later, via
// the v2 write API).
//
// A Point carries the time of the observation it describes, never the time it
// is written: a point replayed from the outbox after an outage lands where it
// belongs, and writing the same point twice overwrites it with itself, which
// is what makes at-least-once delivery safe.
package influx

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Class says how a point is treated under disk pressure.
type Class uint8

const (
	// Telemetry points (device_telemetry) may be dropped, oldest first,
	// when the outbox is over its disk budget; every drop is counted.
	Telemetry Class = iota
	// State points (device_state, bed_state, icu_capacity, gateway) are
	// never dropped: a count that disappears is worse than a full disk.
	State
)

// String names the class as used in logs and metrics.
func (c Class) String() string {
	if c == State {
		return "state"
	}
	return "telemetry"
}

// Tag is one tag of a point. Tags are low-cardinality identifiers
// (hospital, unit, bed, device, kind), never values or free text.
type Tag struct {
	Key, Value string
}

// FieldKind is the type of a field value.
type FieldKind uint8

// Field kinds. InfluxDB 1.8 has no unsigned integers on the wire, so Uint
// values are written as integers and refused above math.MaxInt64.
const (
	FieldFloat FieldKind = iota
	FieldInt
	FieldUint
	FieldBool
	FieldString
)

// Field is one field of a point; build it with Float, Int, Uint, Bool or
// String.
type Field struct {
	Key  string
	Kind FieldKind
	f    float64
	i    int64
	u    uint64
	b    bool
	s    string
}

// Float makes a float field. NaN and ±Inf are refused when the point is
// encoded: line protocol cannot carry them.
func Float(key string, v float64) Field { return Field{Key: key, Kind: FieldFloat, f: v} }

// Int makes an integer field.
func Int(key string, v int64) Field { return Field{Key: key, Kind: FieldInt, i: v} }

// Uint makes an unsigned integer field.
func Uint(key string, v uint64) Field { return Field{Key: key, Kind: FieldUint, u: v} }

// Bool makes a boolean field.
func Bool(key string, v bool) Field { return Field{Key: key, Kind: FieldBool, b: v} }

// String makes a string field. Any UTF-8 text is allowed, newlines
// included.
func String(key string, v string) Field { return Field{Key: key, Kind: FieldString, s: v} }

// Value returns the field's value as float64, int64, uint64, bool or string.
func (f Field) Value() any {
	switch f.Kind {
	case FieldFloat:
		return f.f
	case FieldInt:
		return f.i
	case FieldUint:
		return f.u
	case FieldBool:
		return f.b
	default:
		return f.s
	}
}

// Point is one InfluxDB point. Time is the observation's time.
type Point struct {
	Measurement string
	Tags        []Tag
	Fields      []Field
	Time        time.Time
	Class       Class
}

// NewPoint builds a point with tags given as a map (sorted on encoding).
func NewPoint(measurement string, class Class, tags map[string]string, t time.Time, fields ...Field) Point {
	p := Point{Measurement: measurement, Class: class, Time: t, Fields: fields}
	for k, v := range tags {
		p.Tags = append(p.Tags, Tag{Key: k, Value: v})
	}
	p.sortTags()
	return p
}

func (p *Point) sortTags() {
	sort.Slice(p.Tags, func(i, j int) bool { return p.Tags[i].Key < p.Tags[j].Key })
}

// validateField refuses values line protocol cannot carry.
func validateField(measurement string, f Field) error {
	switch f.Kind {
	case FieldFloat:
		if math.IsNaN(f.f) || math.IsInf(f.f, 0) {
			return fmt.Errorf("measurement %q: field %q: %v cannot be written to InfluxDB", measurement, f.Key, f.f)
		}
	case FieldUint:
		if f.u > math.MaxInt64 {
			return fmt.Errorf("measurement %q: field %q: %d exceeds the int64 range InfluxDB 1.8 stores", measurement, f.Key, f.u)
		}
	case FieldInt, FieldBool, FieldString:
	default:
		return fmt.Errorf("measurement %q: field %q: unknown field kind %d", measurement, f.Key, f.Kind)
	}
	return nil
}
