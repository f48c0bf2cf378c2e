package inventory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The bad-input corpus: each row is an export with mistakes and every
// problem the import must report for it, at its row and column. Nothing is
// ever written for any of them.
func TestBadInput(t *testing.T) {
	t.Parallel()
	const good = "V-001,SV-1,ventilator,generic-ventilator-modbus,gicu-01,modbus-tcp,10.0.0.1:502,1,,\n"
	cases := []struct {
		name string
		csv  string
		want []string
	}{
		{"empty file", "", []string{
			"devices.csv: the file is empty: export the device list from the CMMS with its header row",
		}},
		{"blank lines only", "\n\r\n  \n", []string{
			"devices.csv: the file is empty: export the device list from the CMMS with its header row",
		}},
		{"header only", header, []string{
			"devices.csv row 1: the file has a header but no devices",
		}},
		{"missing columns", "serial,kind,address\nSN1,monitor,10.0.0.1\n", []string{
			`devices.csv row 1: missing column asset_id: name it "asset_id", "asset no", "asset number", "asset tag", "asset", "device id", "equipment id", "equipment no", "资产编号", "资产编码", "资产号", "固定资产编号", "设备编号" or "设备编码", or map the export's column under columns: asset_id: [...] in the mapping file`,
			`devices.csv row 1: missing column location: name it "location", "at", "bed", "bed or pool", "place", "位置", "床位", "床号", "所在位置", "使用位置", "存放地点" or "安装位置", or map the export's column under columns: location: [...] in the mapping file`,
			`devices.csv row 1: missing column profile, or columns vendor and model (mapped to profiles under profiles: in the mapping file): name it "profile" or "icugate profile", or map the export's column under columns: profile: [...] in the mapping file`,
		}},
		{"two columns for one field", "asset_id,资产编号,location,profile\nA,B,gicu-01,generic-monitor-modbus\n", []string{
			`devices.csv row 1: columns "asset_id", "资产编号" are all asset_id: name the one to use under columns: asset_id: [...] in the mapping file`,
		}},
		{"unknown profile and kind", header +
			"V-001,SV-1,ventilator,generic-vent,gicu-01,modbus-tcp,10.0.0.1:502,1,,\n" +
			"P-001,PU-1,infusion pump,generic-monitor-modbus,gicu-01,modbus-tcp,10.0.0.1:502,2,,\n" +
			"M-001,MN-1,ventilator,generic-monitor-modbus,gicu-01,modbus-tcp,10.0.0.1:502,3,,\n", []string{
			`devices.csv row 2, column "profile": unknown profile "generic-vent": $DIR/profiles has generic-crrt-modbus, generic-ecmo-modbus, generic-monitor-modbus, generic-monitor-mqtt, generic-ventilator-modbus, generic-ventilator-mqtt, plain-monitor`,
			`devices.csv row 3, column "kind": unknown kind "infusion pump": the site's profiles have kinds crrt, ecmo, monitor, ventilator; map it under kinds: in the mapping file (or to skip)`,
			`devices.csv row 4, column "kind": kind ventilator, but profile generic-monitor-modbus describes a monitor`,
		}},
		{"bed that does not exist", header + good +
			"M-001,MN-1,monitor,generic-monitor-modbus,gicu-09,modbus-tcp,10.0.0.1:502,2,,\n" +
			"M-002,MN-2,monitor,generic-monitor-modbus,,modbus-tcp,10.0.0.1:502,3,,\n", []string{
			`devices.csv row 3, column "location": bed or pool "gicu-09" does not exist in $DIR/site.yaml (it has central-store, gicu-01, gicu-02, gicu-03, gicu-04, ricu-01, ricu-02); map CMMS locations under locations: in the mapping file`,
			`devices.csv row 4, column "location": no location: name the bed or pool the device is at`,
		}},
		{"duplicates", header + good +
			"V-001,SV-2,ventilator,generic-ventilator-modbus,gicu-02,modbus-tcp,10.0.0.2:502,1,,\n" +
			"V-003,SV-1,ventilator,generic-ventilator-modbus,gicu-03,modbus-tcp,10.0.0.3:502,1,,\n" +
			"V-004,SV-4,ventilator,generic-ventilator-modbus,gicu-04,modbus-tcp,10.0.0.1,1,,\n" +
			"inline-mon,SV-5,ventilator,generic-ventilator-modbus,gicu-04,modbus-tcp,10.0.0.5:502,1,,\n" +
			"V-006,INL-1,ventilator,generic-ventilator-modbus,gicu-04,modbus-tcp,10.9.0.1:502,2,,\n" +
			"M-007,MQ-7,monitor,generic-monitor-mqtt,gicu-01,mqtt,,,devices/x,\n" +
			"M-008,MQ-8,monitor,generic-monitor-mqtt,gicu-02,mqtt,,,devices/x,\n", []string{
			`devices.csv row 3, column "asset_id": asset id V-001: duplicate of row 2`,
			`devices.csv row 4, column "serial": serial SV-1: duplicate of row 2`,
			`devices.csv row 5, column "address": address 10.0.0.1:502 unit id 1: duplicate of row 2: give each device on a shared address its own unit id`,
			`devices.csv row 6, column "asset_id": asset id inline-mon is already a device in $DIR/site.yaml: remove it there, or from the export`,
			`devices.csv row 7, column "serial": serial INL-1 is already device inline-mon's (in $DIR/site.yaml)`,
			`devices.csv row 7, column "address": address 10.9.0.1:502 unit id 2 is already device inline-vent's (in $DIR/site.yaml)`,
			`devices.csv row 9, column "topic": topic devices/x: duplicate of row 8`,
		}},
		{"addresses and unit ids", header +
			"V-001,SV-1,ventilator,generic-ventilator-modbus,gicu-01,modbus-tcp,10.0.0.300,1,,\n" +
			"V-002,SV-2,ventilator,generic-ventilator-modbus,gicu-01,modbus-tcp,10.0.0.2:70000,1,,\n" +
			"V-003,SV-3,ventilator,generic-ventilator-modbus,gicu-01,modbus-tcp,,1,,\n" +
			"V-004,SV-4,ventilator,generic-ventilator-modbus,gicu-01,modbus-tcp,10.0.0.4,248,,\n" +
			"V-005,SV-5,ventilator,generic-ventilator-modbus,gicu-01,modbus-rtu,/dev/ttyUSB0,0,,\n" +
			"V-006,SV-6,ventilator,generic-ventilator-modbus,gicu-01,modbus-tcp,10.0.0.6,two,,\n" +
			"V-007,SV-7,ventilator,generic-ventilator-modbus,gicu-01,modbus-rtu-over-tcp,10.0.0.7,1,,\n" +
			"V-008,SV-8,ventilator,generic-ventilator-modbus,gicu-01,modbus-rtu,COM3,1,,\n" +
			"V-009,SV-9,ventilator,generic-ventilator-modbus,gicu-01,profibus,10.0.0.9,1,,\n" +
			"V-010,SV-10,ventilator,generic-ventilator-modbus,gicu-01,mqtt,,,,\n" +
			"V-011,SV-11,ventilator,generic-ventilator-modbus,gicu-01,modbus-tcp,ICU 网关,1,,\n" +
			"V-012,SV-12,ventilator,generic-ventilator-modbus,gicu-01,modbus-tcp,10.0.0.12,0,,\n", []string{
			`devices.csv row 2, column "address": address "10.0.0.300": not an IP address`,
			`devices.csv row 3, column "address": address "10.0.0.2:70000": want a port 1..65535`,
			`devices.csv row 4, column "address": no address: a modbus-tcp device needs host:port (a host alone takes port 502)`,
			`devices.csv row 5, column "unit_id": unit id 248 outside 0..247 (modbus-tcp)`,
			`devices.csv row 6, column "unit_id": unit id 0 outside 1..247 (modbus-rtu)`,
			`devices.csv row 7, column "unit_id": unit id "two": want a whole number 0..247`,
			`devices.csv row 8, column "address": address "10.0.0.7": want host:port with a port 1..65535 (the serial converter's raw TCP port, e.g. 10.0.0.9:4001)`,
			`devices.csv row 9, column "address": address "COM3": a modbus-rtu device's address is its serial port, such as /dev/ttyUSB0`,
			`devices.csv row 10, column "protocol": unknown protocol "profibus": want modbus-tcp, modbus-rtu, modbus-rtu-over-tcp or mqtt`,
			`devices.csv row 11, column "protocol": protocol mqtt, but profile generic-ventilator-modbus reads modbus values`,
			`devices.csv row 12, column "address": address "ICU 网关": want an IP address or host name`,
		}},
		{"dates and ids", header +
			"V 001,SV-1,ventilator,generic-ventilator-modbus,gicu-01,modbus-tcp,10.0.0.1,1,,2027-02-30\n" +
			"V-002,1.23457E+11,ventilator,generic-ventilator-modbus,gicu-01,modbus-tcp,10.0.0.1,2,,31/03/2027\n" +
			",SV-3,ventilator,generic-ventilator-modbus,gicu-01,modbus-tcp,10.0.0.1,3,,2027年3月31日\n" +
			"V-004,SV-4,ventilator,generic-ventilator-modbus,gicu-01,modbus-tcp,10.0.0.1,4,devices/v4,20270331\n", []string{
			`devices.csv row 2, column "asset_id": asset id "V 001" cannot be a device id: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
			`devices.csv row 2, column "pm_due": pm_due "2027-02-30": want a date such as 2027-03-31 (or 2027/3/31, 2027年3月31日)`,
			`devices.csv row 3, column "serial": "1.23457E+11" is a number Excel rewrote: format the column as text in Excel and export again`,
			`devices.csv row 3, column "pm_due": pm_due "31/03/2027": want a date such as 2027-03-31 (or 2027/3/31, 2027年3月31日)`,
			`devices.csv row 4, column "asset_id": no asset id: every device needs one (it becomes the device id)`,
			`devices.csv row 5, column "topic": a topic, but the device is modbus-tcp: topics are for MQTT devices`,
		}},
		{"ragged rows and quotes", header + good +
			"V-002,SV-2,ventilator,generic-ventilator-modbus,gicu-01,modbus-tcp,10.0.0.2,1,,,extra\n" +
			"V-003,SV-3,ventilator,generic-ventilator-modbus,gicu-01\n" +
			"V-004,SV \"4\",ventilator,generic-ventilator-modbus,gicu-01,modbus-tcp,10.0.0.4,1,,\n" +
			"V-005,SV-5,ventilator,generic-ventilator-modbus,gicu-01,modbus-tcp,10.0.0.5,1,,\n", []string{
			`devices.csv row 3: 11 values, but the header (row 1) has 10 columns: a value holding the delimiter (,) needs quotes, or the row is cut short`,
			`devices.csv row 4: 5 values, but the header (row 1) has 10 columns: a value holding the delimiter (,) needs quotes, or the row is cut short`,
			`devices.csv row 5: a " inside a value that does not start with one: quote the whole value and double the " inside ("15"" screen")`,
		}},
		{"settings", "asset_id,profile,location,protocol,address,interval,baud,parity,close_after_poll\n" +
			"V-001,generic-ventilator-modbus,gicu-01,modbus-tcp,10.0.0.1,fast,9600,,maybe\n" +
			"V-002,generic-ventilator-modbus,gicu-01,modbus-rtu,/dev/ttyS0,2,9600,X,\n", []string{
			`devices.csv row 2, column "interval": interval "fast": want a duration such as 2s or 500ms (a number is seconds)`,
			`devices.csv row 2, column "close_after_poll": close_after_poll "maybe": want true or false`,
			`devices.csv row 2, column "baud": baud is not a setting of a modbus-tcp device: leave it empty`,
			`devices.csv row 3, column "parity": parity "X": want N, E or O (none, even, odd)`,
		}},
		{"serial port as a TCP address", header +
			"E-001,EC-1,ecmo,generic-ecmo-modbus,gicu-01,modbus-rtu,/dev/ttyUSB0,1,,\n" +
			"C-001,CR-1,crrt,generic-crrt-modbus,gicu-02,modbus-tcp,/dev/ttyUSB0,2,,\n", []string{
			`devices.csv row 3, column "address": address "/dev/ttyUSB0": want an IP address or host name`,
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			site := writeTestSite(t, nil, "devices: []\n")
			_, err := prepare(t, site, c.csv, nil)
			if err == nil {
				t.Fatal("Prepare succeeded")
			}
			expectLines(t, filepath.Dir(site), problemLines(t, err), c.want)
			if data, _ := os.ReadFile(filepath.Join(filepath.Dir(site), "devices.yaml")); string(data) != "devices: []\n" {
				t.Error("the devices file changed")
			}
		})
	}
}

// Problems only the site check finds (here: two devices on one serial
// line with different settings; an alert rule naming a device the import
// removes) are reported at the row of the device, or at the site's line.
func TestSiteCheckProblemsAtTheirRow(t *testing.T) {
	t.Parallel()
	site := writeTestSite(t, func(s string) string {
		return s + "alerts:\n  receivers: [{name: bus, type: mqtt, topic: icugate/h1/alerts}]\n  rules:\n    - {name: vent-gone, when: device_offline, devices: [OLD-1]}\n"
	}, "devices:\n  - {id: OLD-1, kind: ventilator, profile: generic-ventilator-modbus, at: gicu-04, modbus: {address: \"10.0.0.99:502\"}}\n")
	csv := "asset_id,profile,location,address,unit_id,baud\n" +
		"E-001,generic-ecmo-modbus,gicu-01,/dev/ttyUSB0,1,\n" +
		"C-001,generic-crrt-modbus,gicu-02,/dev/ttyUSB0,2,9600\n"
	_, err := prepare(t, site, csv, nil)
	got := problemLines(t, err)
	dir := filepath.Dir(site)
	for i := range got {
		got[i] = strings.ReplaceAll(got[i], dir, "$DIR")
	}
	want := []string{
		"devices.csv row 3: device C-001: serial settings differ from device E-001 on the same line /dev/ttyUSB0",
		`$DIR/site.yaml:15: rule vent-gone: unknown device "OLD-1"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
