package config

import (
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// defaultsSite omits every optional key: it names only what has no
// default (ids, places, profiles, an endpoint, the broker and InfluxDB).
const defaultsSite = `hospital: {id: h1, level: tertiary, total_beds: 100}
units: [{id: icu1, class: general, beds: [b1]}]
pools: [store]
devices:
  - {id: m1, profile: mon, at: b1, modbus: {address: "10.0.0.1:502"}}
  - {id: v1, profile: vent, at: b1, modbus: {rtu: {device: /dev/ttyS0}}}
  - {id: m2, profile: mon-mqtt, at: store, mqtt: {}}
  - {id: v2, kind: ventilator, profile: vent, at: store, modbus: {rtu_over_tcp: "10.0.0.2:4001"}}
mqtt: {broker: "tcp://127.0.0.1:1883", username_file: secrets/user, tls: {ca_file: ca.pem, cert_file: /etc/icugate/c.pem, key_file: k.pem}}
influxdb: {url: "http://127.0.0.1:8086", bucket: icu, token_file: secrets/token, tls: {ca_file: ca.pem}}
report: {key_file: report.key}
http: {token_file: api.token}
`

// TestDefaultsApplied is the table of what Load fills in for each omitted
// key, and how it resolves relative paths against the site's directory.
func TestDefaultsApplied(t *testing.T) {
	t.Parallel()
	path := writeSite(t, defaultsSite, nil)
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)
	m1, v1, m2, v2 := &s.Devices[0], &s.Devices[1], &s.Devices[2], &s.Devices[3]
	for _, c := range []struct {
		key       string
		got, want any
	}{
		{"target_year", s.TargetYear, 2027},
		{"profiles_dir", s.ProfilesDir, filepath.Join(dir, "profiles")},
		{"hold", s.Hold == nil && s.HoldTime() == 15*time.Second, true},
		{"clinical", s.Clinical, false},
		{"outbox.dir", s.Outbox.Dir, filepath.Join(dir, "data", "outbox")},
		{"outbox.max_size", s.Outbox.MaxSize, ByteSize(256_000_000)},
		{"report.interval", s.Report.Interval, time.Minute},
		{"report.gateway_id", s.Report.GatewayID, "h1"},
		{"report.key_file", s.Report.KeyFile, filepath.Join(dir, "report.key")},
		{"http.listen", s.HTTP.Listen, "127.0.0.1:8080"},
		{"http.token_file", s.HTTP.TokenFile, filepath.Join(dir, "api.token")},
		{"http.request_timeout", s.HTTP.RequestTimeout, time.Duration(0)},
		{"log.level", s.Log.Level, "info"},
		{"log.format", s.Log.Format, "text"},
		{"mqtt.client_id", s.MQTT.ClientID, "icugate-h1"},
		{"mqtt.max_message_bytes", s.MQTT.MaxMessageBytes, 65536},
		{"mqtt.username_file", s.MQTT.UsernameFile, filepath.Join(dir, "secrets", "user")},
		{"mqtt.password_file", s.MQTT.PasswordFile, ""},
		{"mqtt.tls.ca_file", s.MQTT.TLS.CAFile, filepath.Join(dir, "ca.pem")},
		{"mqtt.tls.cert_file (absolute)", s.MQTT.TLS.CertFile, "/etc/icugate/c.pem"},
		{"mqtt.tls.key_file", s.MQTT.TLS.KeyFile, filepath.Join(dir, "k.pem")},
		{"influxdb.batch_size", s.InfluxDB.BatchSize, 5000},
		{"influxdb.flush_interval", s.InfluxDB.FlushInterval, time.Second},
		{"influxdb.token_file", s.InfluxDB.TokenFile, filepath.Join(dir, "secrets", "token")},
		{"influxdb.tls.ca_file", s.InfluxDB.TLS.CAFile, filepath.Join(dir, "ca.pem")},
		{"units.requires", slices.Equal(s.Units[0].RequiredKinds(), []string{"monitor", "ventilator"}), true},
		{"units.occupancy", slices.Equal(s.Units[0].OccupancyKinds(), []string{"monitor", "ventilator"}), true},
		{"devices.kind (from profile)", m1.Kind, "monitor"},
		{"devices.kind (given)", v2.Kind, "ventilator"},
		{"devices.failures", m1.FailureLimit(), 3},
		{"devices.modbus.unit_id", m1.Modbus.UnitID, 1},
		{"devices.modbus.interval", m1.Modbus.Interval, time.Second},
		{"devices.modbus.timeout", m1.Modbus.Timeout, time.Second},
		{"devices.modbus.max_conns", m1.Modbus.MaxConns, 1},
		{"devices.modbus.close_after_poll", m1.Modbus.CloseAfterPoll, false},
		{"devices.modbus.rtu", *v1.Modbus.RTU, RTU{Device: "/dev/ttyS0", Baud: 19200, DataBits: 8, Parity: "E", StopBits: 1}},
		{"devices.modbus.rtu_over_tcp unit_id", v2.Modbus.UnitID, 1},
		{"devices.mqtt.topic (profile pattern)", m2.MQTT.Topic, "devices/m2/status"},
		{"devices.mqtt.interval", m2.MQTT.Interval, 10 * time.Second},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.key, c.got, c.want)
		}
	}
}

// TestDefaultsKeepGivenValues: a key that is given keeps its value, even
// where the value is the zero a default would replace when the key is
// absent (unit_id 0, hold 0, max_size 0).
func TestDefaultsKeepGivenValues(t *testing.T) {
	t.Parallel()
	s := loadClean(t, `hospital: {id: h1, level: tertiary, total_beds: 100}
units: [{id: icu1, class: general, beds: [b1], requires: [monitor], occupancy: [monitor]}]
devices:
  - {id: m1, profile: mon, at: b1, failures: 5, modbus: {address: "10.0.0.1:502", unit_id: 0, interval: 2s, timeout: 300ms, max_conns: 2}}
  - {id: v1, profile: vent, at: b1, modbus: {rtu: {device: /dev/ttyS0, baud: 9600, data_bits: 7, parity: N, stop_bits: 2}}}
target_year: 2025
profiles_dir: profiles
hold: 0s
outbox: {dir: /var/lib/icugate/outbox, max_size: 0}
report: {interval: 30s, gateway_id: gw-1}
http: {listen: "0.0.0.0:9090"}
log: {level: debug, format: json}
`)
	m1, v1 := &s.Devices[0], &s.Devices[1]
	for _, c := range []struct {
		key       string
		got, want any
	}{
		{"target_year", s.TargetYear, 2025},
		{"hold", s.HoldTime(), time.Duration(0)},
		{"outbox.dir (absolute)", s.Outbox.Dir, "/var/lib/icugate/outbox"},
		{"outbox.max_size", s.Outbox.MaxSize, ByteSize(0)},
		{"report.interval", s.Report.Interval, 30 * time.Second},
		{"report.gateway_id", s.Report.GatewayID, "gw-1"},
		{"report.key_file (none)", s.Report.KeyFile, ""},
		{"http.listen", s.HTTP.Listen, "0.0.0.0:9090"},
		{"http.token_file (none)", s.HTTP.TokenFile, ""},
		{"log", s.Log, Log{Level: "debug", Format: "json"}},
		{"mqtt (none)", s.MQTT == nil, true},
		{"influxdb (none)", s.InfluxDB == nil, true},
		{"requires", slices.Equal(s.Units[0].RequiredKinds(), []string{"monitor"}), true},
		{"occupancy", slices.Equal(s.Units[0].OccupancyKinds(), []string{"monitor"}), true},
		{"failures", m1.FailureLimit(), 5},
		{"unit_id 0", m1.Modbus.UnitID, 0},
		{"interval", m1.Modbus.Interval, 2 * time.Second},
		{"timeout", m1.Modbus.Timeout, 300 * time.Millisecond},
		{"max_conns", m1.Modbus.MaxConns, 2},
		{"rtu", *v1.Modbus.RTU, RTU{Device: "/dev/ttyS0", Baud: 9600, DataBits: 7, Parity: "N", StopBits: 2}},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.key, c.got, c.want)
		}
	}
}

// TestProfileDefaults is the table of what applyProfileDefaults fills in
// for each value, by table and transport.
func TestProfileDefaults(t *testing.T) {
	t.Parallel()
	modbus, err := LoadProfile(writeProfile(t, `kind: monitor
values:
  - {name: h, table: holding, address: 0}
  - {name: i, table: input, address: 1, type: int32}
  - {name: c, table: coil, address: 0}
  - {name: d, table: discrete, address: 0}
  - {name: f, table: input, address: 3, type: float64, scale: 0.5}
  - {name: s, table: input, address: 7, type: string, length: 2}
  - {name: o, table: input, address: 9, type: uint32, order: DCBA}
`))
	if err != nil {
		t.Fatal(err)
	}
	mqtt, err := LoadProfile(writeProfile(t, "kind: monitor\nvalues:\n  - {name: n, path: a.b}\n  - {name: b, path: c, type: bool}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name       string
		v          Value
		typ, order string
		scale      float64
		registers  int // -1: not a Modbus value
		line       int
	}{
		{"holding", modbus.Values[0], TypeUint16, "", 1, 1, 3},
		{"int32", modbus.Values[1], TypeInt32, OrderABCD, 1, 2, 4},
		{"coil", modbus.Values[2], TypeBool, "", 1, 0, 5},
		{"discrete", modbus.Values[3], TypeBool, "", 1, 0, 6},
		{"float64 scaled", modbus.Values[4], TypeFloat64, OrderABCD, 0.5, 4, 7},
		{"string of 2 registers", modbus.Values[5], TypeString, OrderABCD, 1, 2, 8},
		{"given order", modbus.Values[6], TypeUint32, OrderDCBA, 1, 2, 9},
		{"mqtt number", mqtt.Values[0], TypeFloat64, "", 1, -1, 3},
		{"mqtt bool", mqtt.Values[1], TypeBool, "", 1, -1, 4},
	} {
		v := c.v
		if v.Type != c.typ || v.Order != c.order || *v.Scale != c.scale || (c.registers >= 0 && v.Registers() != c.registers) || v.Line != c.line {
			t.Errorf("%s: type %q order %q scale %v registers %d line %d; want %q %q %v %d %d",
				c.name, v.Type, v.Order, *v.Scale, v.Registers(), v.Line, c.typ, c.order, c.scale, c.registers, c.line)
		}
	}
	if modbus.MaxGap == nil || *modbus.MaxGap != 8 || mqtt.MaxGap != nil {
		t.Errorf("max_gap: modbus %v, mqtt %v; want 8 and none", modbus.MaxGap, mqtt.MaxGap)
	}
	if modbus.Name != "p" || modbus.Transport() != "modbus" || mqtt.Transport() != "mqtt" {
		t.Errorf("name %q (want the file's base name p), transports %s, %s", modbus.Name, modbus.Transport(), mqtt.Transport())
	}
	if modbus.Index("f") != 4 || modbus.Index("nope") != -1 {
		t.Errorf("Index: f at %d, nope at %d", modbus.Index("f"), modbus.Index("nope"))
	}
}

// TestDeviceAccessors covers the derived device settings the engine and
// drivers use: transport name, endpoint, interval and freshness window.
func TestDeviceAccessors(t *testing.T) {
	t.Parallel()
	d := func(s string) *time.Duration { v, _ := time.ParseDuration(s); return &v }
	for _, c := range []struct {
		name      string
		dev       Device
		transport string
		endpoint  string
		interval  time.Duration
		fresh     time.Duration
	}{
		{"tcp 1s: 3 intervals, raised to 5s", Device{Modbus: &ModbusDevice{Address: "a:502", Interval: time.Second}}, TransportModbusTCP, "a:502", time.Second, 5 * time.Second},
		{"tcp 4s: 3 intervals", Device{Modbus: &ModbusDevice{Address: "a:502", Interval: 4 * time.Second}}, TransportModbusTCP, "a:502", 4 * time.Second, 12 * time.Second},
		{"rtu", Device{Modbus: &ModbusDevice{RTU: &RTU{Device: "/dev/ttyS0"}, Interval: 2 * time.Second}}, TransportModbusRTU, "/dev/ttyS0", 2 * time.Second, 6 * time.Second},
		{"rtu over tcp", Device{Modbus: &ModbusDevice{RTUOverTCP: "c:4001", Interval: 3 * time.Second}}, TransportModbusRTUoTCP, "c:4001", 3 * time.Second, 9 * time.Second},
		{"mqtt 10s", Device{MQTT: &MQTTDevice{Interval: 10 * time.Second}}, TransportMQTT, "", 10 * time.Second, 30 * time.Second},
		{"mqtt without interval", Device{MQTT: &MQTTDevice{}}, TransportMQTT, "", 0, 30 * time.Second},
		{"modbus without interval", Device{Modbus: &ModbusDevice{Address: "a:502"}}, TransportModbusTCP, "a:502", 0, 5 * time.Second},
		{"freshness given", Device{Freshness: d("2s"), Modbus: &ModbusDevice{Interval: time.Minute}}, TransportModbusTCP, "", time.Minute, 2 * time.Second},
		{"freshness 0 is the default", Device{Freshness: d("0s"), Modbus: &ModbusDevice{Interval: 2 * time.Second}}, TransportModbusTCP, "", 2 * time.Second, 6 * time.Second},
		{"no transport", Device{}, TransportModbusTCP, "", 0, 5 * time.Second},
	} {
		dev := c.dev
		if got := dev.Transport(); got != c.transport {
			t.Errorf("%s: Transport() = %s, want %s", c.name, got, c.transport)
		}
		if dev.Modbus != nil && dev.Modbus.Endpoint() != c.endpoint {
			t.Errorf("%s: Endpoint() = %q, want %q", c.name, dev.Modbus.Endpoint(), c.endpoint)
		}
		if got := dev.Interval(); got != c.interval {
			t.Errorf("%s: Interval() = %v, want %v", c.name, got, c.interval)
		}
		if got := dev.FreshnessWindow(); got != c.fresh {
			t.Errorf("%s: FreshnessWindow() = %v, want %v", c.name, got, c.fresh)
		}
	}
	for _, c := range []struct{ failures, want int }{{0, 3}, {1, 1}, {10, 10}, {-1, 3}} {
		if got := (&Device{Failures: c.failures}).FailureLimit(); got != c.want {
			t.Errorf("FailureLimit with failures %d = %d, want %d", c.failures, got, c.want)
		}
	}
}

// TestClientIDOfAPart: the default MQTT client id of one of several
// gateways of a hospital carries its part, so that two gateways do not
// keep disconnecting each other at the broker; part "main" (the single
// gateway's) and a given client id keep theirs.
func TestClientIDOfAPart(t *testing.T) {
	t.Parallel()
	const base = `hospital: {id: h1, level: tertiary, total_beds: 100}
units: [{id: icu1, class: general, beds: [b1], requires: [monitor], occupancy: [monitor]}]
devices:
  - {id: m1, profile: mon, at: b1, modbus: {address: "10.0.0.1:502"}}
profiles_dir: profiles
`
	for _, c := range []struct{ extra, want string }{
		{"mqtt: {broker: tcp://b:1883}\nreport: {part: east}\n", "icugate-h1-east"},
		{"mqtt: {broker: tcp://b:1883}\nreport: {part: main}\n", "icugate-h1"},
		{"mqtt: {broker: tcp://b:1883, client_id: gw-east}\nreport: {part: east}\n", "gw-east"},
	} {
		if got := loadClean(t, base+c.extra).MQTT.ClientID; got != c.want {
			t.Errorf("%q: client id %q, want %q", c.extra, got, c.want)
		}
	}
}
