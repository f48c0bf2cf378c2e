package config

import (
	"path/filepath"
	"strings"
	"time"
)

// Defaults applied by Load, beyond those in defaults.go. Each is documented
// in configs/icugate.sample.yaml.
const (
	DefaultTargetYear      = 2027
	DefaultProfilesDir     = "profiles"
	DefaultUnitID          = 1
	DefaultMaxConns        = 1
	DefaultBaud            = 19200
	DefaultDataBits        = 8
	DefaultParity          = "E"
	DefaultStopBits        = 1
	DefaultMaxGap          = 8
	DefaultHTTPListen      = "127.0.0.1:8080"
	DefaultOutboxDir       = "data/outbox"
	DefaultOutboxMaxSize   = ByteSize(256_000_000)
	DefaultReportInterval  = time.Minute
	DefaultMaxMessageBytes = 65536
	DefaultBatchSize       = 5000
	DefaultFlushInterval   = time.Second
	DefaultLogLevel        = "info"
	DefaultLogFormat       = "text"
)

// applySiteDefaults fills what the site file leaves unset and resolves
// relative paths against the site file's directory. It runs before the
// profiles are loaded; device defaults that need the profile come later.
func applySiteDefaults(s *Site, d *doc, dir string) {
	if s.TargetYear == 0 {
		s.TargetYear = DefaultTargetYear
	}
	if s.ProfilesDir == "" {
		s.ProfilesDir = DefaultProfilesDir
	}
	s.ProfilesDir = resolve(dir, s.ProfilesDir)
	if s.Outbox.Dir == "" {
		s.Outbox.Dir = DefaultOutboxDir
	}
	s.Outbox.Dir = resolve(dir, s.Outbox.Dir)
	if !d.has("outbox", "max_size") {
		s.Outbox.MaxSize = DefaultOutboxMaxSize
	}
	if s.Report.Interval == 0 {
		s.Report.Interval = DefaultReportInterval
	}
	if s.Report.GatewayID == "" {
		s.Report.GatewayID = s.Hospital.ID
	}
	s.Report.KeyFile = resolve(dir, s.Report.KeyFile)
	if s.HTTP.Listen == "" {
		s.HTTP.Listen = DefaultHTTPListen
	}
	s.HTTP.TokenFile = resolve(dir, s.HTTP.TokenFile)
	if t := s.HTTP.TLS; t != nil {
		t.CertFile = resolve(dir, t.CertFile)
		t.KeyFile = resolve(dir, t.KeyFile)
	}
	if s.Log.Level == "" {
		s.Log.Level = DefaultLogLevel
	}
	if s.Log.Format == "" {
		s.Log.Format = DefaultLogFormat
	}
	if m := s.MQTT; m != nil {
		if m.ClientID == "" {
			// Each gateway of a hospital needs its own: the broker
			// disconnects a client when another connects with its id.
			m.ClientID = "icugate-" + s.Hospital.ID
			if p := s.Report.Part; p != "" && p != "main" {
				m.ClientID += "-" + p
			}
		}
		if m.MaxMessageBytes == 0 {
			m.MaxMessageBytes = DefaultMaxMessageBytes
		}
		m.UsernameFile = resolve(dir, m.UsernameFile)
		m.PasswordFile = resolve(dir, m.PasswordFile)
		resolveTLS(dir, m.TLS)
	}
	if db := s.InfluxDB; db != nil {
		if db.BatchSize == 0 {
			db.BatchSize = DefaultBatchSize
		}
		if db.FlushInterval == 0 {
			db.FlushInterval = DefaultFlushInterval
		}
		db.TokenFile = resolve(dir, db.TokenFile)
		resolveTLS(dir, db.TLS)
	}
	applyAlertDefaults(s, dir)
	for i := range s.Devices {
		dev := &s.Devices[i]
		// "mqtt:" with nothing after it is YAML's null, which leaves the
		// block nil as if the key were absent; the user asked for the
		// block with every default, as "mqtt: {}" does.
		if dev.MQTT == nil && isNull(d, "devices", i, "mqtt") {
			dev.MQTT = &MQTTDevice{}
		}
		if dev.Modbus == nil && isNull(d, "devices", i, "modbus") {
			dev.Modbus = &ModbusDevice{}
		}
		applyModbusDefaults(dev.Modbus, d, i)
	}
}

// isNull reports whether the key at path is present with an empty (null)
// value.
func isNull(d *doc, path ...any) bool {
	n, ok := d.node(path...)
	return ok && n.ShortTag() == "!!null"
}

func applyModbusDefaults(m *ModbusDevice, d *doc, i int) {
	if m == nil {
		return
	}
	// unit_id 0 is a valid (broadcast-like) id some converters use, so
	// only an absent key takes the default.
	if !d.has("devices", i, "modbus", "unit_id") {
		m.UnitID = DefaultUnitID
	}
	if m.Interval == 0 {
		m.Interval = DefaultModbusInterval
	}
	if m.Timeout == 0 {
		m.Timeout = DefaultModbusTimeout
	}
	if m.MaxConns == 0 {
		m.MaxConns = DefaultMaxConns
	}
	if r := m.RTU; r != nil {
		if r.Baud == 0 {
			r.Baud = DefaultBaud
		}
		if r.DataBits == 0 {
			r.DataBits = DefaultDataBits
		}
		if r.Parity == "" {
			r.Parity = DefaultParity
		}
		if r.StopBits == 0 {
			r.StopBits = DefaultStopBits
		}
	}
}

// applyDeviceProfileDefaults fills device fields that come from its
// profile: the kind, and the MQTT topic from the profile's pattern.
func applyDeviceProfileDefaults(dev *Device, p *Profile) {
	if dev.Kind == "" {
		dev.Kind = p.Kind
	}
	if m := dev.MQTT; m != nil {
		if m.Topic == "" && p.Topic != "" {
			m.Topic = strings.ReplaceAll(p.Topic, "{id}", dev.ID)
		}
		if m.Interval == 0 {
			m.Interval = DefaultMQTTInterval
		}
	}
}

// applyProfileDefaults fills value types, orders and scales, and the
// Modbus read coalescing gap.
func applyProfileDefaults(p *Profile) {
	mqtt := p.Transport() == "mqtt"
	if !mqtt && p.MaxGap == nil {
		gap := DefaultMaxGap
		p.MaxGap = &gap
	}
	for i := range p.Values {
		v := &p.Values[i]
		if v.Type == "" {
			switch {
			case mqtt:
				v.Type = TypeFloat64 // a JSON number
			case v.Table == TableCoil || v.Table == TableDiscrete:
				v.Type = TypeBool
			default:
				v.Type = TypeUint16
			}
		}
		if v.Order == "" && !mqtt && v.Registers() > 1 {
			v.Order = OrderABCD
		}
		if v.Scale == nil {
			one := 1.0
			v.Scale = &one
		}
	}
}

func resolve(dir, p string) string {
	if cp, ok := credentialPath(p); ok {
		return cp
	}
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func resolveTLS(dir string, t *TLS) {
	if t == nil {
		return
	}
	t.CAFile = resolve(dir, t.CAFile)
	t.CertFile = resolve(dir, t.CertFile)
	t.KeyFile = resolve(dir, t.KeyFile)
}
