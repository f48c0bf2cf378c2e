package inventory

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/icugate/icugate/config"
)

// renderDevices writes a devices file: the header comment lines, then
// devices: with one device per line in flow style, as configs/ writes its
// sites, so that the change between two imports reads as one line per
// device. It returns the file and the line the first device is on.
func renderDevices(header []string, devices []config.Device) ([]byte, int) {
	var b strings.Builder
	b.Grow(160 * (len(devices) + 1))
	for _, h := range header {
		b.WriteString("# ")
		b.WriteString(h)
		b.WriteByte('\n')
	}
	if len(devices) == 0 {
		b.WriteString("devices: []\n")
		return []byte(b.String()), len(header) + 2
	}
	b.WriteString("devices:\n")
	for i := range devices {
		b.WriteString("  - ")
		writeDevice(&b, &devices[i])
		b.WriteByte('\n')
	}
	return []byte(b.String()), len(header) + 2
}

// flow writes one flow mapping, leaving out empty values.
type flow struct {
	b     *strings.Builder
	first bool
}

func openFlow(b *strings.Builder) *flow { b.WriteByte('{'); return &flow{b: b, first: true} }

func (f *flow) key(k string) {
	if !f.first {
		f.b.WriteString(", ")
	}
	f.first = false
	f.b.WriteString(k)
	f.b.WriteString(": ")
}

func (f *flow) str(k, v string) {
	if v != "" {
		f.key(k)
		f.b.WriteString(scalar(v))
	}
}

func (f *flow) num(k string, n int, always bool) {
	if n != 0 || always {
		f.key(k)
		f.b.WriteString(strconv.Itoa(n))
	}
}

func (f *flow) dur(k string, d time.Duration) {
	if d != 0 {
		f.key(k)
		f.b.WriteString(d.String())
	}
}

func (f *flow) close() { f.b.WriteByte('}') }

func writeDevice(b *strings.Builder, d *config.Device) {
	f := openFlow(b)
	f.str("id", d.ID)
	f.str("kind", d.Kind)
	f.str("profile", d.Profile)
	f.str("at", d.At)
	f.str("serial", d.Serial)
	f.str("pm_due", d.PMDue)
	if d.Freshness != nil {
		f.dur("freshness", *d.Freshness)
	}
	f.num("failures", d.Failures, false)
	switch {
	case d.Modbus != nil:
		m := d.Modbus
		f.key("modbus")
		g := openFlow(b)
		switch {
		case m.RTU != nil:
			g.key("rtu")
			h := openFlow(b)
			h.str("device", m.RTU.Device)
			h.num("baud", m.RTU.Baud, false)
			h.num("data_bits", m.RTU.DataBits, false)
			h.str("parity", m.RTU.Parity)
			h.num("stop_bits", m.RTU.StopBits, false)
			h.close()
		case m.RTUOverTCP != "":
			g.str("rtu_over_tcp", m.RTUOverTCP)
		default:
			g.str("address", m.Address)
		}
		g.num("unit_id", m.UnitID, true) // 0 is a unit id; absent is 1
		g.dur("interval", m.Interval)
		g.dur("timeout", m.Timeout)
		g.num("max_conns", m.MaxConns, false)
		if m.CloseAfterPoll {
			g.key("close_after_poll")
			b.WriteString("true")
		}
		g.close()
	case d.MQTT != nil:
		f.key("mqtt")
		g := openFlow(b)
		g.str("topic", d.MQTT.Topic)
		g.dur("interval", d.MQTT.Interval)
		g.close()
	}
	f.close()
}

// plainScalar is a string YAML reads back as the same string without
// quotes; anything else is written double-quoted.
var plainScalar = regexp.MustCompile(`^[A-Za-z_/][A-Za-z0-9_./-]*$`)

func scalar(s string) string {
	if plainScalar.MatchString(s) && !yamlWord(s) {
		return s
	}
	return strconv.Quote(s)
}

// yamlWord reports plain words YAML 1.1 readers take for booleans or null.
func yamlWord(s string) bool {
	switch strings.ToLower(s) {
	case "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~":
		return true
	}
	return false
}
