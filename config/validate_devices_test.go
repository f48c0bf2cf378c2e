package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// deviceBase is a valid site of six lines whose devices list rows extend
// from line 7: a bed b1 with a monitor (m1, line 5) and a ventilator (v1,
// line 6) on one Modbus TCP address, and a pool "store".
const deviceBase = `hospital: {id: h1, level: tertiary, total_beds: 100}
units: [{id: icu1, class: general, beds: [b1]}]
pools: [store]
devices:
  - {id: m1, profile: mon, at: b1, modbus: {address: "10.0.0.1:502"}}
  - {id: v1, profile: vent, at: b1, modbus: {address: "10.0.0.1:502", unit_id: 2}}
`

// withBroker ends a site with an mqtt broker block, for rows about MQTT
// devices that are not about the broker.
const withBroker = "mqtt: {broker: tcp://127.0.0.1:1883}\n"

// TestDeviceRules covers validateDevices and checkDeviceProfile: ids,
// places, profiles and the choice of transport.
func TestDeviceRules(t *testing.T) {
	t.Parallel()
	runSiteCases(t, []siteCase{
		{name: "no id", site: deviceBase + "  - profile: mon\n    at: store\n    modbus: {address: \"10.0.0.2:502\"}\n",
			want: []problem{{"", 7, "device 3 has no id"}}},
		{name: "invalid id", site: deviceBase + "  - at: store\n    id: m 3\n    profile: mon\n    modbus: {address: \"10.0.0.2:502\"}\n",
			want: []problem{{"", 8, `invalid device id "m 3": ` + idRuleMsg}}},
		{name: "duplicate id", site: deviceBase + "  - profile: mon\n    id: m1\n    at: store\n    modbus: {address: \"10.0.0.2:502\"}\n",
			want: []problem{{"", 8, `duplicate device id "m1" (first at line 5)`}}},
		{name: "no at", site: deviceBase + "  - id: m3\n    profile: mon\n    modbus: {address: \"10.0.0.2:502\"}\n",
			want: []problem{{"", 7, "device m3 has no at: name the bed or pool it is at"}}},
		{name: "at unknown", site: deviceBase + "  - id: m3\n    profile: mon\n    at: b9\n    modbus: {address: \"10.0.0.2:502\"}\n",
			want: []problem{{"", 9, `device m3: at "b9" is neither a bed nor a pool`}}},
		{name: "at a unit", site: deviceBase + "  - {id: m3, profile: mon, at: icu1, modbus: {address: \"10.0.0.2:502\"}}\n",
			want: []problem{{"", 7, `device m3: at "icu1" is neither a bed nor a pool`}}},
		{name: "freshness negative", site: deviceBase + "  - id: m3\n    profile: mon\n    at: store\n    freshness: -1s\n    modbus: {address: \"10.0.0.2:502\"}\n",
			want: []problem{{"", 10, "devices[2].freshness must not be negative (got -1s)"}}},
		{name: "failures negative", site: deviceBase + "  - id: m3\n    profile: mon\n    at: store\n    failures: -3\n    modbus: {address: \"10.0.0.2:502\"}\n",
			want: []problem{{"", 10, "device m3: failures must not be negative"}}},
		{name: "no profile", site: deviceBase + "  - id: m3\n    kind: monitor\n    at: store\n    modbus: {address: \"10.0.0.2:502\"}\n",
			want: []problem{{"", 7, "device m3 has no profile"}}},
		{name: "profile is a path", site: deviceBase + "  - id: m3\n    at: store\n    profile: ../mon\n    modbus: {address: \"10.0.0.2:502\"}\n",
			want: []problem{{"", 9, `device m3: invalid profile name "../mon": name a file in profiles_dir without .yaml`}}},
		{name: "profile in a subdirectory", site: deviceBase + "  - {id: m3, at: store, profile: vendor/mon, modbus: {address: \"10.0.0.2:502\"}}\n",
			want: []problem{{"", 7, `device m3: invalid profile name "vendor/mon": name a file in profiles_dir without .yaml`}}},
		{name: "profile with dots inside", site: deviceBase + "  - {id: m3, at: store, profile: mon..x, modbus: {address: \"10.0.0.2:502\"}}\n",
			want: []problem{{"", 7, `device m3: invalid profile name "mon..x": name a file in profiles_dir without .yaml`}}},
		{name: "profile not found", site: deviceBase + "  - id: m3\n    kind: monitor\n    at: store\n    profile: nosuch\n    modbus: {address: \"10.0.0.2:502\"}\n",
			want: []problem{{"", 10, `device m3: profile "nosuch" not found: no file $DIR/profiles/nosuch.yaml`}}},
		// Naming the file with its extension is found wanting as a missing
		// file (mon.yaml.yaml), not as the "without .yaml" mistake it is.
		{name: "profile named with .yaml", site: deviceBase + "  - {id: m3, kind: monitor, at: store, profile: mon.yaml, modbus: {address: \"10.0.0.2:502\"}}\n",
			want: []problem{{"", 7, `device m3: profile "mon.yaml" not found: no file $DIR/profiles/mon.yaml.yaml`}}},
		{name: "profile reported once per profile", site: deviceBase +
			"  - {id: m3, kind: monitor, at: store, profile: nosuch, modbus: {address: \"10.0.0.2:502\"}}\n" +
			"  - {id: m4, kind: monitor, at: store, profile: nosuch, modbus: {address: \"10.0.0.3:502\"}}\n",
			want: []problem{{"", 7, `device m3: profile "nosuch" not found: no file $DIR/profiles/nosuch.yaml`}}},
		{name: "kind differs from profile", site: deviceBase + "  - id: v3\n    profile: mon\n    kind: ventilator\n    at: store\n    modbus: {address: \"10.0.0.2:502\"}\n",
			want: []problem{{"", 9, "device v3 is a ventilator but profile mon ($DIR/profiles/mon.yaml) describes a monitor"}}},
		{name: "modbus block, mqtt profile", site: deviceBase + "  - id: m3\n    profile: mon-mqtt\n    at: store\n    modbus: {address: \"10.0.0.2:502\"}\n",
			want: []problem{{"", 10, "device m3 has a modbus block but profile mon-mqtt reads mqtt values"}}},
		{name: "mqtt block, modbus profile", site: deviceBase + "  - id: m3\n    profile: mon\n    at: store\n    mqtt:\n      topic: ward/m3\n" + withBroker,
			want: []problem{{"", 11, "device m3 has a mqtt block but profile mon reads modbus values"}}},
		{name: "serial the profile cannot check", site: deviceBase + "  - id: m3\n    profile: mon\n    at: store\n    serial: SN-1\n    modbus: {address: \"10.0.0.2:502\"}\n",
			want: []problem{{"", 10, "device m3: serial is set but profile mon reads no serial to check it against"}}},
		{name: "no transport", site: deviceBase + "  - id: m3\n    profile: mon\n    at: store\n",
			want: []problem{{"", 7, "device m3 has no transport: give exactly one of modbus or mqtt"}}},
		{name: "both transports", site: deviceBase + "  - id: m3\n    profile: mon\n    at: store\n    modbus: {address: \"10.0.0.2:502\"}\n    mqtt: {topic: ward/m3}\n" + withBroker,
			want: []problem{{"", 11, "device m3 has both modbus and mqtt: give exactly one"}}},
		{name: "mqtt devices without broker, reported once", site: deviceBase +
			"  - {id: m3, profile: mon-mqtt, at: store, mqtt: {}}\n" +
			"  - {id: m4, profile: mon-mqtt, at: store, mqtt: {}}\n",
			want: []problem{{"", 7, "device m3 uses mqtt but the site has no mqtt: broker block"}}},
	})
}

// TestModbusRules covers checkModbus and checkRTU.
func TestModbusRules(t *testing.T) {
	t.Parallel()
	const wantHostPort = ": want host:port with a port 1..65535"
	dev := func(modbus string) string {
		return deviceBase + "  - id: m3\n    profile: mon\n    at: store\n    modbus:\n" + modbus
	}
	runSiteCases(t, []siteCase{
		{name: "address without port", site: dev("      address: 10.0.0.2\n"),
			want: []problem{{"", 11, `device m3: modbus address "10.0.0.2"` + wantHostPort}}},
		{name: "address port 0", site: dev("      address: \"10.0.0.2:0\"\n"),
			want: []problem{{"", 11, `device m3: modbus address "10.0.0.2:0"` + wantHostPort}}},
		{name: "rtu_over_tcp without port", site: dev("      rtu_over_tcp: converter\n"),
			want: []problem{{"", 11, `device m3: rtu_over_tcp "converter"` + wantHostPort}}},
		{name: "no endpoint", site: dev("      unit_id: 3\n"),
			want: []problem{{"", 11, "device m3: modbus needs exactly one of address, rtu or rtu_over_tcp (got 0)"}}},
		{name: "two endpoints", site: dev("      address: \"10.0.0.2:502\"\n      rtu_over_tcp: \"10.0.0.3:4001\"\n"),
			want: []problem{{"", 11, "device m3: modbus needs exactly one of address, rtu or rtu_over_tcp (got 2)"}}},
		{name: "three endpoints", site: dev("      address: \"10.0.0.2:502\"\n      rtu_over_tcp: \"10.0.0.3:4001\"\n      rtu: {device: /dev/ttyS0}\n"),
			want: []problem{{"", 11, "device m3: modbus needs exactly one of address, rtu or rtu_over_tcp (got 3)"}}},
		{name: "unit_id 248", site: dev("      address: \"10.0.0.2:502\"\n      unit_id: 248\n"),
			want: []problem{{"", 12, "device m3: unit_id 248 outside 0..247"}}},
		{name: "unit_id negative", site: dev("      address: \"10.0.0.2:502\"\n      unit_id: -1\n"),
			want: []problem{{"", 12, "device m3: unit_id -1 outside 0..247"}}},
		{name: "interval and timeout negative", site: dev("      address: \"10.0.0.2:502\"\n      interval: -1s\n      timeout: -500ms\n"),
			want: []problem{
				{"", 12, "devices[2].modbus.interval must not be negative (got -1s)"},
				{"", 13, "devices[2].modbus.timeout must not be negative (got -500ms)"},
			}},
		{name: "max_conns negative", site: dev("      address: \"10.0.0.2:502\"\n      max_conns: -1\n"),
			want: []problem{{"", 12, "device m3: max_conns must not be negative"}}},
		{name: "unit_id taken on a shared address", site: dev("      address: \"10.0.0.1:502\"\n      unit_id: 2\n"),
			want: []problem{{"", 11, "device m3: 10.0.0.1:502 unit_id 2 is already device v1 (line 6): give each device on a shared address its own unit_id"}}},
		{name: "default unit_id taken", site: dev("      address: \"10.0.0.1:502\"\n"),
			want: []problem{{"", 11, "device m3: 10.0.0.1:502 unit_id 1 is already device m1 (line 5): give each device on a shared address its own unit_id"}}},
		{name: "endpoint used by two transports", site: dev("      rtu_over_tcp: \"10.0.0.1:502\"\n      unit_id: 3\n"),
			want: []problem{{"", 11, "device m3: 10.0.0.1:502 is used as modbus-rtu-over-tcp here but as modbus-tcp by device m1"}}},
		{name: "max_conns differs on an endpoint", site: dev("      address: \"10.0.0.1:502\"\n      unit_id: 3\n      max_conns: 2\n"),
			want: []problem{{"", 11, "device m3: max_conns 2 differs from device m1 (1) on the same endpoint 10.0.0.1:502"}}},
		{name: "serial settings differ on a line", site: dev("      rtu: {device: /dev/ttyS0}\n") +
			"  - id: m4\n    profile: mon\n    at: store\n    modbus:\n      unit_id: 2\n      rtu: {device: /dev/ttyS0, baud: 9600}\n",
			want: []problem{{"", 17, "device m4: serial settings differ from device m3 on the same line /dev/ttyS0"}}},
		{name: "rtu without device", site: dev("      rtu:\n        baud: 9600\n"),
			want: []problem{{"", 12, "device m3: rtu.device is required (e.g. /dev/ttyUSB0)"}}},
		{name: "rtu baud negative", site: dev("      rtu:\n        device: /dev/ttyS0\n        baud: -9600\n"),
			want: []problem{{"", 13, "device m3: rtu.baud must be positive"}}},
		{name: "rtu data_bits 9", site: dev("      rtu:\n        device: /dev/ttyS0\n        data_bits: 9\n"),
			want: []problem{{"", 13, "device m3: rtu.data_bits 9 outside 5..8"}}},
		{name: "rtu data_bits 4", site: dev("      rtu:\n        device: /dev/ttyS0\n        data_bits: 4\n"),
			want: []problem{{"", 13, "device m3: rtu.data_bits 4 outside 5..8"}}},
		{name: "rtu parity word", site: dev("      rtu:\n        device: /dev/ttyS0\n        parity: even\n"),
			want: []problem{{"", 13, `device m3: rtu.parity "even": want N, E or O`}}},
		{name: "rtu parity lower case", site: dev("      rtu:\n        device: /dev/ttyS0\n        parity: n\n"),
			want: []problem{{"", 13, `device m3: rtu.parity "n": want N, E or O`}}},
		{name: "rtu stop_bits 3", site: dev("      rtu:\n        device: /dev/ttyS0\n        stop_bits: 3\n"),
			want: []problem{{"", 13, "device m3: rtu.stop_bits 3: want 1 or 2"}}},
	})
}

// TestMQTTDeviceRules covers checkMQTT.
func TestMQTTDeviceRules(t *testing.T) {
	t.Parallel()
	runSiteCases(t, []siteCase{
		{name: "interval negative", site: deviceBase + "  - id: m3\n    profile: mon-mqtt\n    at: store\n    mqtt:\n      interval: -5s\n" + withBroker,
			want: []problem{{"", 11, "devices[2].mqtt.interval must not be negative (got -5s)"}}},
		{name: "topic required", site: deviceBase + "  - id: v3\n    profile: vent-mqtt\n    at: store\n    mqtt:\n      interval: 5s\n" + withBroker,
			want: []problem{{"", 11, "device v3: mqtt topic is required (profile vent-mqtt has no topic pattern)"}}},
		{name: "topic with +", site: deviceBase + "  - id: v3\n    profile: vent-mqtt\n    at: store\n    mqtt:\n      topic: ward/+/status\n" + withBroker,
			want: []problem{{"", 11, `device v3: topic "ward/+/status" must not contain MQTT wildcards`}}},
		{name: "topic with #", site: deviceBase + "  - {id: v3, profile: vent-mqtt, at: store, mqtt: {topic: \"ward/#\"}}\n" + withBroker,
			want: []problem{{"", 7, `device v3: topic "ward/#" must not contain MQTT wildcards`}}},
		{name: "topic taken by a default topic", site: deviceBase +
			"  - {id: m3, profile: mon-mqtt, at: store, mqtt: {}}\n" +
			"  - id: v3\n    profile: vent-mqtt\n    at: store\n    mqtt:\n      topic: devices/m3/status\n" + withBroker,
			want: []problem{{"", 12, `device v3: topic "devices/m3/status" is already device m3's (line 7)`}}},
	})
}

// TestKindRules covers validateKinds: requires and occupancy name kinds
// the site has, and each unit's beds can be equipped at all.
func TestKindRules(t *testing.T) {
	t.Parallel()
	const h = "hospital: {id: h1, level: tertiary, total_beds: 100}\n"
	runSiteCases(t, []siteCase{
		{name: "occupancy names an unknown kind", site: h + "units:\n  - id: icu1\n    class: general\n    beds: [b1]\n    occupancy: [monitor, ecmo]\n" + twoUnitDevices,
			want: []problem{{"", 6, `unit icu1: occupancy names kind "ecmo" that no profile of this site has`}}},
		{name: "requires an unknown kind", site: h + "units:\n  - id: icu1\n    class: general\n    beds: [b1]\n    requires:\n      - monitor\n      - infusion_pump\n" + twoUnitDevices,
			want: []problem{{"", 8, `unit icu1: its beds can never be equipped: requires kind "infusion_pump" that no device or profile of this site has`}}},
		{name: "requires a kind twice, site has one", site: h + "units:\n  - id: icu1\n    class: general\n    beds: [b1]\n    requires: [monitor, ventilator, ventilator]\n" + twoUnitDevices,
			want: []problem{{"", 3, "unit icu1: its beds can never be equipped: each needs 2 ventilators, and the site has 1 ventilator"}}},
		{name: "default requirement, no monitor", site: h + "units:\n  - id: icu1\n    class: general\n    beds: [b1]\n" +
			"devices:\n  - {id: v1, profile: vent, at: b1, modbus: {address: \"10.0.0.1:502\"}}\n",
			want: []problem{{"", 3, "unit icu1: its beds can never be equipped: each needs 1 monitor, and the site has no monitor"}}},
		{name: "a unit without beds is not checked", site: h + "units:\n  - {id: icu1, class: general, beds: [b1]}\n  - {id: icu2, class: convertible, requires: [ventilator, ventilator]}\n" + twoUnitDevices,
			want: nil},
	})
}

// TestProfileFileIsADirectory: a profile name that resolves to a
// directory is the file's problem, reported at the file with no line.
func TestProfileFileIsADirectory(t *testing.T) {
	t.Parallel()
	path := writeSite(t, deviceBase+"  - {id: m3, kind: monitor, profile: odd, at: store, modbus: {address: \"10.0.0.2:502\"}}\n", nil)
	if err := os.Mkdir(filepath.Join(filepath.Dir(path), "profiles", "odd.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	expectProblems(t, path, err, []problem{{"odd.yaml", 0, "a directory, not a regular file; is this the right file?"}})
}

// TestDevicesAccepted lists device edge values the rules accept.
func TestDevicesAccepted(t *testing.T) {
	t.Parallel()
	for _, d := range []string{
		"  - {id: m3, profile: mon, at: store, modbus: {address: \"10.0.0.1:502\", unit_id: 0}}\n",
		"  - {id: m3, profile: mon, at: store, modbus: {address: \"10.0.0.1:502\", unit_id: 247}}\n",
		"  - {id: m3, profile: mon, at: store, failures: 0, freshness: 0s, modbus: {address: \"[::1]:502\"}}\n",
		"  - {id: m3, profile: mon-serial, serial: SN-1, at: store, modbus: {rtu_over_tcp: \"10.0.0.9:4001\"}}\n",
		"  - {id: m3, profile: mon, at: store, modbus: {rtu: {device: /dev/ttyS0, baud: 1200, data_bits: 5, parity: N, stop_bits: 2}}}\n" +
			"  - {id: m4, profile: mon, at: store, modbus: {unit_id: 2, rtu: {device: /dev/ttyS0, baud: 1200, data_bits: 5, parity: N, stop_bits: 2}}}\n",
		"  - {id: m3, profile: mon, at: store, modbus: {address: \"10.0.0.1:503\", max_conns: 4, close_after_poll: true}}\n",
	} {
		loadClean(t, deviceBase+d)
	}
	loadClean(t, deviceBase+"  - {id: m3, profile: mon-mqtt, at: store, mqtt: {}}\n  - {id: v3, profile: vent-mqtt, at: b1, mqtt: {topic: ward/v3, interval: 1s}}\n"+withBroker)
}

// TestMQTTBlockLeftEmpty: "mqtt:" with nothing after it is how a user
// asks for an MQTT device with every default, but YAML reads it as null,
// the device is left with no transport block at all, and the message
// tells the user to give the block they did give.
func TestMQTTBlockLeftEmpty(t *testing.T) {
	t.Parallel()
	path := writeSite(t, deviceBase+"  - id: m3\n    profile: mon-mqtt\n    at: store\n    mqtt:\n"+withBroker, nil)
	_, err := Load(path)
	if err != nil && !strings.Contains(err.Error(), "mqtt: {}") {
		t.Fatalf("an empty mqtt block should take the defaults, or the message say to write mqtt: {}:\n%v", err)
	}
}
