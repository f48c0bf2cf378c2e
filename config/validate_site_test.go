package config

import (
	"strings"
	"testing"
)

// idRuleMsg is the advice every invalid id ends with.
const idRuleMsg = "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"

// TestHospitalRules covers validateHospital: the hospital block,
// target_year and hold. A missing key is reported where its mapping
// starts: for a block mapping that is the line of its first key.
func TestHospitalRules(t *testing.T) {
	t.Parallel()
	runSiteCases(t, []siteCase{
		{name: "id missing", site: "hospital:\n  name: St Mary\n  level: tertiary\n  total_beds: 100\n" + minimalRest,
			want: []problem{{"", 2, "hospital.id is required"}}},
		{name: "no hospital block", site: minimalRest,
			want: []problem{
				{"", 1, "hospital.id is required"},
				{"", 1, `hospital.level is "": want tertiary or secondary`},
				{"", 1, "hospital.total_beds must be the hospital's inpatient beds, more than 0 (got 0)"},
			}},
		{name: "id with spaces", site: "hospital: {id: \"st mary's\", level: tertiary, total_beds: 100}\n" + minimalRest,
			want: []problem{{"", 1, `invalid hospital.id "st mary's": ` + idRuleMsg}}},
		{name: "id starts with a dash", site: "hospital:\n  level: tertiary\n  id: -h1\n  total_beds: 100\n" + minimalRest,
			want: []problem{{"", 3, `invalid hospital.id "-h1": ` + idRuleMsg}}},
		{name: "id of 65 characters", site: "hospital: {id: " + strings.Repeat("h", 65) + ", level: tertiary, total_beds: 100}\n" + minimalRest,
			want: []problem{{"", 1, `invalid hospital.id "` + strings.Repeat("h", 65) + `": ` + idRuleMsg}}},
		{name: "region", site: "hospital:\n  id: h1\n  level: tertiary\n  total_beds: 100\n  region: east region\n" + minimalRest,
			want: []problem{{"", 5, `invalid hospital.region "east region": ` + idRuleMsg}}},
		{name: "level capitalised", site: "hospital:\n  id: h1\n  level: Tertiary\n  total_beds: 100\n" + minimalRest,
			want: []problem{{"", 3, `hospital.level is "Tertiary": want tertiary or secondary`}}},
		{name: "level missing", site: "hospital:\n  id: h1\n  total_beds: 100\n" + minimalRest,
			want: []problem{{"", 2, `hospital.level is "": want tertiary or secondary`}}},
		{name: "total_beds 0", site: "hospital:\n  id: h1\n  level: secondary\n  total_beds: 0\n" + minimalRest,
			want: []problem{{"", 4, "hospital.total_beds must be the hospital's inpatient beds, more than 0 (got 0)"}}},
		{name: "total_beds negative", site: "hospital:\n  id: h1\n  level: secondary\n  total_beds: -20\n" + minimalRest,
			want: []problem{{"", 4, "hospital.total_beds must be the hospital's inpatient beds, more than 0 (got -20)"}}},
		{name: "total_beds missing", site: "hospital:\n  id: h1\n  level: secondary\n" + minimalRest,
			want: []problem{{"", 2, "hospital.total_beds must be the hospital's inpatient beds, more than 0 (got 0)"}}},
		{name: "staffing negative doctors", site: "hospital:\n  id: h1\n  level: tertiary\n  total_beds: 100\n  staffing:\n    doctors: -1\n    nurses: 30\n" + minimalRest,
			want: []problem{{"", 6, "hospital.staffing: doctors and nurses must not be negative"}}},
		{name: "staffing negative nurses", site: "hospital: {id: h1, level: tertiary, total_beds: 100, staffing: {doctors: 8, nurses: -30}}\n" + minimalRest,
			want: []problem{{"", 1, "hospital.staffing: doctors and nurses must not be negative"}}},
		{name: "target_year not a target", site: minimalSite + "target_year: 2026\n",
			want: []problem{{"", 6, "target_year 2026: want 2025 or 2027"}}},
		{name: "target_year negative", site: minimalSite + "target_year: -2025\n",
			want: []problem{{"", 6, "target_year -2025: want 2025 or 2027"}}},
		{name: "hold negative", site: minimalSite + "hold: -1s\n",
			want: []problem{{"", 6, "hold must not be negative (got -1s)"}}},
		{name: "hold negative minutes", site: minimalSite + "hold: -1m30s\n",
			want: []problem{{"", 6, "hold must not be negative (got -1m30s)"}}},
	})
}

// TestHospitalAccepted lists edge values the hospital rules accept.
func TestHospitalAccepted(t *testing.T) {
	t.Parallel()
	for _, h := range []string{
		"hospital: {id: " + strings.Repeat("h", 64) + ", level: tertiary, total_beds: 1}",
		"hospital: {id: 0.h_1-x, level: secondary, total_beds: 2147483647, region: r-1}",
		"hospital: {id: h1, level: tertiary, total_beds: 100, staffing: {doctors: 0, nurses: 0}}",
	} {
		loadClean(t, h+"\n"+minimalRest)
	}
	for _, extra := range []string{"target_year: 2025\n", "target_year: 2027\n", "hold: 0s\n", "hold: 24h\n"} {
		loadClean(t, minimalSite+extra)
	}
}

// twoUnitDevices assigns a monitor and a ventilator to bed b1, for unit
// rows that write their own units block (lines after the units).
const twoUnitDevices = `devices:
  - {id: m1, profile: mon, at: b1, modbus: {address: "10.0.0.1:502"}}
  - {id: v1, profile: vent, at: b1, modbus: {address: "10.0.0.1:502", unit_id: 2}}
`

// TestUnitRules covers validateUnits: unit ids, classes and bed ids.
func TestUnitRules(t *testing.T) {
	t.Parallel()
	const h = "hospital: {id: h1, level: tertiary, total_beds: 100}\n"
	runSiteCases(t, []siteCase{
		{name: "no id", site: h + `units:
  - id: icu1
    class: general
    beds: [b1]
  - class: general
    beds: [b2]
` + twoUnitDevices,
			want: []problem{{"", 6, "unit 2 has no id"}}},
		{name: "invalid id", site: h + "units:\n  - id: ICU 1\n    class: general\n    beds: [b1]\n" + twoUnitDevices,
			want: []problem{{"", 3, `invalid unit id "ICU 1": ` + idRuleMsg}}},
		{name: "duplicate id", site: h + `units:
  - id: icu1
    class: general
    beds: [b1]
  - id: icu1
    class: specialty
` + twoUnitDevices,
			want: []problem{{"", 6, `duplicate unit id "icu1" (first at line 3)`}}},
		{name: "no class", site: h + "units:\n  - id: icu1\n    beds: [b1]\n" + twoUnitDevices,
			want: []problem{{"", 3, "unit icu1 has no class: want general, specialty or convertible"}}},
		{name: "invalid class", site: h + "units:\n  - id: icu1\n    class: surgical\n    beds: [b1]\n" + twoUnitDevices,
			want: []problem{{"", 4, `unit icu1: invalid class "surgical": want general, specialty or convertible`}}},
		{name: "class capitalised", site: h + "units:\n  - {id: icu1, class: General, beds: [b1]}\n" + twoUnitDevices,
			want: []problem{{"", 3, `unit icu1: invalid class "General": want general, specialty or convertible`}}},
		{name: "invalid bed id", site: h + "units:\n  - id: icu1\n    class: general\n    beds:\n      - b1\n      - bed 2\n" + twoUnitDevices,
			want: []problem{{"", 7, `unit icu1: invalid bed id "bed 2": ` + idRuleMsg}}},
		{name: "bed twice in one unit", site: h + "units:\n  - id: icu1\n    class: general\n    beds:\n      - b1\n      - b1\n" + twoUnitDevices,
			want: []problem{{"", 7, `duplicate bed id "b1" (already a bed of unit icu1)`}}},
		{name: "bed in two units", site: h + `units:
  - {id: icu1, class: general, beds: [b1]}
  - id: ccu
    class: specialty
    subtype: CCU
    beds: [b2, b1]
` + twoUnitDevices,
			want: []problem{{"", 7, `duplicate bed id "b1" (already a bed of unit icu1)`}}},
	})
}

// TestPoolRules covers the pool checks of validateUnits.
func TestPoolRules(t *testing.T) {
	t.Parallel()
	runSiteCases(t, []siteCase{
		{name: "invalid id", site: minimalSite + "pools:\n  - store\n  - spare store\n",
			want: []problem{{"", 8, `invalid pool id "spare store": ` + idRuleMsg}}},
		{name: "mapping without id", site: minimalSite + "pools:\n  - {unit: icu1}\n",
			want: []problem{{"", 7, `invalid pool id "": ` + idRuleMsg}}},
		{name: "duplicate", site: minimalSite + "pools:\n  - store\n  - {id: store, unit: icu1}\n",
			want: []problem{{"", 8, `duplicate pool id "store"`}}},
		{name: "also a bed", site: minimalSite + "pools: [store, b1]\n",
			want: []problem{{"", 6, `pool id "b1" is also a bed of unit icu1: a device's at must name one place`}}},
		{name: "unknown unit", site: minimalSite + "pools:\n  - id: spare\n    unit: icu9\n",
			want: []problem{{"", 8, `pool spare: unknown unit "icu9"`}}},
	})
}

// TestOutputRules covers validateOutputs: mqtt, influxdb, report, http
// and log.
func TestOutputRules(t *testing.T) {
	t.Parallel()
	const wantBroker = ": want a URL such as tcp://host:1883 or ssl://host:8883"
	const wantInflux = ": want http://host:8086 or https://..."
	const wantHostPort = ": want host:port with a port 1..65535"
	const wantHost = ": want a host name such as icugate.hospital.local, without scheme, port, path or wildcard"
	runSiteCases(t, []siteCase{
		{name: "mqtt without broker", site: minimalSite + "mqtt: {client_id: gw}\n",
			want: []problem{{"", 6, "mqtt.broker is required (e.g. tcp://127.0.0.1:1883)"}}},
		{name: "mqtt block without broker", site: minimalSite + "mqtt:\n  client_id: gw\n",
			want: []problem{{"", 7, "mqtt.broker is required (e.g. tcp://127.0.0.1:1883)"}}},
		{name: "broker without scheme", site: minimalSite + "mqtt:\n  broker: 127.0.0.1:1883\n",
			want: []problem{{"", 7, `mqtt.broker "127.0.0.1:1883"` + wantBroker}}},
		{name: "broker host as scheme", site: minimalSite + "mqtt:\n  broker: localhost:1883\n",
			want: []problem{{"", 7, `mqtt.broker "localhost:1883"` + wantBroker}}},
		{name: "broker http", site: minimalSite + "mqtt:\n  broker: http://broker:1883\n",
			want: []problem{{"", 7, `mqtt.broker "http://broker:1883"` + wantBroker}}},
		{name: "broker without host", site: minimalSite + "mqtt:\n  broker: tcp://\n",
			want: []problem{{"", 7, `mqtt.broker "tcp://"` + wantBroker}}},
		{name: "max_message_bytes negative", site: minimalSite + "mqtt:\n  broker: ssl://broker:8883\n  max_message_bytes: -1\n",
			want: []problem{{"", 8, "mqtt.max_message_bytes must not be negative"}}},
		{name: "influxdb without url", site: minimalSite + "influxdb:\n  bucket: icu/autogen\n",
			want: []problem{{"", 7, `influxdb.url ""` + wantInflux}}},
		{name: "influxdb url without scheme", site: minimalSite + "influxdb:\n  url: influx:8086\n  bucket: icu\n",
			want: []problem{{"", 7, `influxdb.url "influx:8086"` + wantInflux}}},
		{name: "influxdb url udp", site: minimalSite + "influxdb:\n  url: udp://influx:8089\n  bucket: icu\n",
			want: []problem{{"", 7, `influxdb.url "udp://influx:8089"` + wantInflux}}},
		{name: "influxdb without bucket", site: minimalSite + "influxdb:\n  url: http://influx:8086\n",
			want: []problem{{"", 7, `influxdb.bucket is required (InfluxDB 1.8: "database/retention-policy")`}}},
		{name: "influxdb batch_size negative", site: minimalSite + "influxdb:\n  url: https://influx\n  bucket: icu\n  batch_size: -5\n",
			want: []problem{{"", 9, "influxdb.batch_size must not be negative"}}},
		{name: "influxdb flush_interval negative", site: minimalSite + "influxdb:\n  url: https://influx\n  bucket: icu\n  flush_interval: -1s\n",
			want: []problem{{"", 9, "influxdb.flush_interval must not be negative (got -1s)"}}},
		{name: "report interval negative", site: minimalSite + "report:\n  interval: -1m\n",
			want: []problem{{"", 7, "report.interval must not be negative (got -1m0s)"}}},
		{name: "report http_url ftp", site: minimalSite + "report:\n  http_url: ftp://region/upload\n",
			want: []problem{{"", 7, `report.http_url "ftp://region/upload": want an http(s) URL`}}},
		{name: "report http_url relative", site: minimalSite + "report:\n  http_url: /upload\n",
			want: []problem{{"", 7, `report.http_url "/upload": want an http(s) URL`}}},
		{name: "report gateway_id", site: minimalSite + "report:\n  gateway_id: gw 1\n",
			want: []problem{{"", 7, `invalid report.gateway_id "gw 1": ` + idRuleMsg}}},
		{name: "listen without port", site: minimalSite + "http:\n  listen: 127.0.0.1\n",
			want: []problem{{"", 7, `http.listen "127.0.0.1"` + wantHostPort}}},
		{name: "listen port only", site: minimalSite + "http:\n  listen: \"8080\"\n",
			want: []problem{{"", 7, `http.listen "8080"` + wantHostPort}}},
		{name: "listen port 0", site: minimalSite + "http:\n  listen: 127.0.0.1:0\n",
			want: []problem{{"", 7, `http.listen "127.0.0.1:0"` + wantHostPort}}},
		{name: "listen port 65536", site: minimalSite + "http:\n  listen: 127.0.0.1:65536\n",
			want: []problem{{"", 7, `http.listen "127.0.0.1:65536"` + wantHostPort}}},
		{name: "listen named port", site: minimalSite + "http:\n  listen: localhost:http\n",
			want: []problem{{"", 7, `http.listen "localhost:http"` + wantHostPort}}},
		{name: "hosts with scheme, port, wildcard, empty", site: minimalSite + "http:\n  hosts:\n    - https://icugate\n    - icugate:8080\n    - \"*.hospital.local\"\n    - \"\"\n    - -icugate\n",
			want: []problem{
				{"", 8, `http.hosts "https://icugate"` + wantHost},
				{"", 9, `http.hosts "icugate:8080"` + wantHost},
				{"", 10, `http.hosts "*.hospital.local"` + wantHost},
				{"", 11, `http.hosts ""` + wantHost},
				{"", 12, `http.hosts "-icugate"` + wantHost},
			}},
		{name: "hosts longer than 253", site: minimalSite + "http:\n  hosts: [" + longHost(254) + "]\n",
			want: []problem{{"", 7, `http.hosts "` + longHost(254) + `"` + wantHost}}},
		{name: "bad report part", site: minimalSite + "report:\n  part: east wing\n",
			want: []problem{{"", 7, `invalid report.part "east wing": use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit (it names a building or campus on the region's pages and in its topics)`}}},
		{name: "https without key", site: minimalSite + "http:\n  tls:\n    cert_file: server.crt\n",
			want: []problem{{"", 8, "http.tls needs key_file: the PEM private key of cert_file"}}},
		{name: "public metrics without read protection", site: minimalSite + "http:\n  public_metrics: true\n",
			want: []problem{{"", 7, "http.public_health and http.public_metrics only matter with read_requires_token: true; without it every read is public"}}},
		{name: "request_timeout negative", site: minimalSite + "http:\n  request_timeout: -10s\n",
			want: []problem{{"", 7, "http.request_timeout must not be negative (got -10s)"}}},
		{name: "max_event_clients negative", site: minimalSite + "http:\n  max_event_clients: -1\n",
			want: []problem{{"", 7, "http.max_event_clients must not be negative (0 means the default, 256)"}}},
		{name: "log level", site: minimalSite + "log:\n  level: verbose\n",
			want: []problem{{"", 7, `log.level "verbose": want debug, info, warn or error`}}},
		{name: "log level capitalised", site: minimalSite + "log: {level: INFO}\n",
			want: []problem{{"", 6, `log.level "INFO": want debug, info, warn or error`}}},
		{name: "log format", site: minimalSite + "log:\n  level: debug\n  format: yaml\n",
			want: []problem{{"", 8, `log.format "yaml": want text or json`}}},
	})
}

// longHost is a valid-looking host name of n characters (labels of 63).
func longHost(n int) string {
	var b strings.Builder
	for b.Len() < n {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		label := min(63, n-b.Len())
		b.WriteString(strings.Repeat("a", label))
	}
	return b.String()[:n]
}

// TestOutputsAccepted lists edge values the output rules accept.
func TestOutputsAccepted(t *testing.T) {
	t.Parallel()
	for _, extra := range []string{
		"mqtt: {broker: tcp://127.0.0.1:1883}\n",
		"mqtt: {broker: \"mqtts://broker.hospital.local:8883\", max_message_bytes: 0}\n",
		"mqtt: {broker: \"ws://[::1]:9001/mqtt\"}\n",
		"influxdb: {url: \"http://127.0.0.1:8086\", bucket: icu/autogen, batch_size: 0, flush_interval: 0s}\n",
		"report: {interval: 0s, http_url: \"https://region.example/report\", gateway_id: gw-1}\n",
		"http: {listen: \":8080\"}\n",
		"http: {listen: \"[::1]:65535\"}\n",
		"http: {listen: \"0.0.0.0:1\"}\n",
		"http: {hosts: [icugate.hospital.local, icugate.hospital.local., \"10.0.0.7\", \"::1\", \"[::1]\", my_host, " + longHost(253) + "]}\n",
		"log: {level: error, format: json}\n",
		"log: {level: warn}\n",
	} {
		loadClean(t, minimalSite+extra)
	}
}
