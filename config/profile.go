package config

import (
	"fmt"

	"github.com/icugate/icugate/rules"
)

// Modbus tables.
const (
	TableCoil     = "coil"
	TableDiscrete = "discrete"
	TableHolding  = "holding"
	TableInput    = "input"
)

// Value types. Multi-register types take an Order.
const (
	TypeBool    = "bool"
	TypeInt16   = "int16"
	TypeUint16  = "uint16"
	TypeInt32   = "int32"
	TypeUint32  = "uint32"
	TypeFloat32 = "float32"
	TypeInt64   = "int64"
	TypeUint64  = "uint64"
	TypeFloat64 = "float64"
	// TypeString is an ASCII string over Length registers (Modbus) or a
	// JSON string (MQTT); for identity values such as a serial number.
	TypeString = "string"
)

// Word and byte orders for multi-register values. A is the most
// significant byte. ABCD is big-endian (Modbus' natural order), CDAB swaps
// words, BADC swaps bytes within words, DCBA is little-endian.
const (
	OrderABCD = "ABCD"
	OrderCDAB = "CDAB"
	OrderBADC = "BADC"
	OrderDCBA = "DCBA"
)

// Profile describes one device model: what to read and how to derive the
// device's state from it. Loaded from configs/profiles/NAME.yaml.
type Profile struct {
	File string `yaml:"-"`

	Name   string `yaml:"name"`
	Kind   string `yaml:"kind"`
	Vendor string `yaml:"vendor"`
	Model  string `yaml:"model"`
	// DeviceCode is a standard code for the device kind (e.g. IEEE 11073
	// MDC_DEV_* term), carried with the device downstream.
	DeviceCode string `yaml:"device_code"`

	// Topic is, for MQTT profiles, the topic pattern; "{id}" stands for the
	// device id (e.g. "devices/{id}/status").
	Topic string `yaml:"topic"`
	// TimePath is, for MQTT profiles, the dotted path of the device's own
	// timestamp (RFC 3339 string or Unix seconds/milliseconds number).
	TimePath string `yaml:"time_path"`
	// MaxGap is, for Modbus profiles, the largest number of unused
	// registers (or bits) bridged when coalescing reads. Default 8.
	MaxGap *int `yaml:"max_gap"`

	Values []Value `yaml:"values"`
	// Serial names the value that carries the device's serial number.
	Serial string `yaml:"serial"`
	// TrustEmptySerial keeps a device trusted when it reports an empty
	// serial while the site expects one. Default false: a device that
	// does not say who it is could be any device at that address (a swap,
	// a replacement board), so it is not trusted. Set it only for models
	// that leave the serial empty in normal operation.
	TrustEmptySerial bool `yaml:"trust_empty_serial"`
	// State holds boolean rules over the values, compiled at load time.
	State StateRules `yaml:"state"`
	// Telemetry lists the values written to InfluxDB as device_telemetry.
	Telemetry []string `yaml:"telemetry"`
	// Simulate gives, per device state (standby, in_use, fault,
	// maintenance), the values icusim serves so that the state rules derive
	// that state. Values not listed are 0 (or ""); Serial is served from the
	// site's expected serial. Only icusim and tests use it.
	Simulate map[string]map[string]any `yaml:"simulate"`

	// Rules are the state rules compiled by Compile (which Load calls);
	// the pipeline evaluates them on every observation.
	Rules *rules.Set `yaml:"-"`
	// index maps value name to its position in Values.
	index map[string]int
}

// Transport is "modbus" when the profile's values are registers and "mqtt"
// when they are payload paths.
func (p *Profile) Transport() string {
	if p.Topic != "" {
		return "mqtt"
	}
	for _, v := range p.Values {
		if v.Path != "" {
			return "mqtt"
		}
	}
	return "modbus"
}

// Index returns the position of the named value in Values, or -1.
func (p *Profile) Index(name string) int {
	if i, ok := p.index[name]; ok {
		return i
	}
	return -1
}

// Value is one value a profile reads.
type Value struct {
	Name string `yaml:"name"`

	// Modbus location.
	Table   string `yaml:"table"`   // coil | discrete | holding | input
	Address *int   `yaml:"address"` // 0-based
	Type    string `yaml:"type"`    // default uint16 (registers) or bool (bits)
	Order   string `yaml:"order"`   // default ABCD
	Bit     *int   `yaml:"bit"`     // 0..15 (or 0..63): extract one bit as bool
	Length  int    `yaml:"length"`  // registers, for type string

	// MQTT location: dotted path into the JSON payload ("status.mode",
	// "alarms.0.code").
	Path string `yaml:"path"`

	// Decoded = raw * Scale + Offset (Scale default 1).
	Scale  *float64 `yaml:"scale"`
	Offset float64  `yaml:"offset"`
	Unit   string   `yaml:"unit"`
	// Range is the plausible [min, max] of the decoded value; outside it
	// the whole observation is an error (often a wrong byte/word order).
	Range []float64 `yaml:"range"`
	// MDC is the IEEE 11073-10101 code of the value.
	MDC string `yaml:"mdc"`
	// Clinical marks patient data: collected only when the site enables it.
	Clinical bool `yaml:"clinical"`

	// Line is the line of the value in its profile file.
	Line int `yaml:"-"`
}

// Where says where the value is read from, as explanations show it:
// "discrete 9", "holding 3 bit 2" (Modbus, 0-based addresses) or the
// JSON path of an MQTT payload.
func (v *Value) Where() string {
	switch {
	case v.Path != "":
		return v.Path
	case v.Table != "" && v.Address != nil:
		w := fmt.Sprintf("%s %d", v.Table, *v.Address)
		if v.Bit != nil {
			w += fmt.Sprintf(" bit %d", *v.Bit)
		}
		return w
	}
	return ""
}

// Registers is how many 16-bit registers the value spans (0 for bit tables).
func (v *Value) Registers() int {
	if v.Table == TableCoil || v.Table == TableDiscrete {
		return 0
	}
	switch v.Type {
	case TypeInt32, TypeUint32, TypeFloat32:
		return 2
	case TypeInt64, TypeUint64, TypeFloat64:
		return 4
	case TypeString:
		return v.Length
	default:
		return 1
	}
}

// StateRules are expressions (github.com/expr-lang/expr syntax) over a
// profile's values. Each yields a bool; an empty rule is never true.
// expr has no '&' operator: test bits with bitand(status, 2) != 0.
type StateRules struct {
	Fault       string `yaml:"fault"`
	Maintenance string `yaml:"maintenance"`
	InUse       string `yaml:"in_use"`
}
