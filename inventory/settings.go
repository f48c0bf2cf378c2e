package inventory

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/icugate/icugate/config"
)

// settings reads the settings columns most exports do not have. Each
// applies to some transports; a value for another is a mistake in the row.
func (c *converter) settings(r Row, get func(string) (string, string), d *config.Device) {
	if d.Modbus == nil && d.MQTT == nil {
		return // no transport (reported)
	}
	transport := d.Transport()
	m, rtu := d.Modbus, d.Modbus != nil && d.Modbus.RTU != nil
	for _, f := range Settings {
		v, col := get(f)
		if v == "" {
			continue
		}
		bad := func(format string, args ...any) {
			c.ps.add(r.Num, col, "%s %q: %s", f, v, fmt.Sprintf(format, args...))
		}
		notFor := func() { c.ps.add(r.Num, col, "%s is not a setting of a %s device: leave it empty", f, transport) }
		switch f {
		case FieldInterval:
			dur, ok := parseDuration(v)
			switch {
			case !ok || dur <= 0:
				bad("want a duration such as 2s or 500ms (a number is seconds)")
			case m != nil:
				m.Interval = dur
			default:
				d.MQTT.Interval = dur
			}
		case FieldFreshness:
			if dur, ok := parseDuration(v); ok && dur > 0 {
				d.Freshness = &dur
			} else {
				bad("want a duration such as 30s (a number is seconds)")
			}
		case FieldFailures:
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				d.Failures = n
			} else {
				bad("want a whole number of failed polls, 1 or more")
			}
		case FieldTimeout, FieldMaxConns, FieldCloseAfterPoll:
			if m == nil {
				notFor()
				continue
			}
			c.modbusSetting(f, v, m, bad)
		default: // serial line settings
			if !rtu {
				notFor()
				continue
			}
			c.serialSetting(f, v, m.RTU, bad)
		}
	}
}

func (c *converter) modbusSetting(f, v string, m *config.ModbusDevice, bad func(string, ...any)) {
	switch f {
	case FieldTimeout:
		if dur, ok := parseDuration(v); ok && dur > 0 {
			m.Timeout = dur
		} else {
			bad("want a duration such as 1s or 800ms (a number is seconds)")
		}
	case FieldMaxConns:
		if n, err := strconv.Atoi(v); err == nil && n >= 1 {
			m.MaxConns = n
		} else {
			bad("want a whole number of connections, 1 or more")
		}
	case FieldCloseAfterPoll:
		if b, ok := parseBool(v); ok {
			m.CloseAfterPoll = b
		} else {
			bad("want true or false")
		}
	}
}

func (c *converter) serialSetting(f, v string, r *config.RTU, bad func(string, ...any)) {
	n, err := strconv.Atoi(v)
	switch f {
	case FieldBaud:
		if err == nil && n > 0 {
			r.Baud = n
		} else {
			bad("want a baud rate such as 9600 or 19200")
		}
	case FieldDataBits:
		if err == nil && n >= 5 && n <= 8 {
			r.DataBits = n
		} else {
			bad("want 5..8")
		}
	case FieldStopBits:
		if err == nil && (n == 1 || n == 2) {
			r.StopBits = n
		} else {
			bad("want 1 or 2")
		}
	case FieldParity:
		if p, ok := parities[normHeader(v)]; ok {
			r.Parity = p
		} else {
			bad("want N, E or O (none, even, odd)")
		}
	}
}

var parities = map[string]string{
	"n": "N", "none": "N", "无": "N", "无校验": "N",
	"e": "E", "even": "E", "偶": "E", "偶校验": "E",
	"o": "O", "odd": "O", "奇": "O", "奇校验": "O",
}

// parseDuration reads a Go duration (2s, 500ms, 1m30s) or a number of
// seconds, as a spreadsheet holds it.
func parseDuration(v string) (time.Duration, bool) {
	if d, err := time.ParseDuration(v); err == nil {
		return d, true
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1e6 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

func parseBool(v string) (bool, bool) {
	switch normHeader(v) {
	case "true", "yes", "y", "1", "是", "on":
		return true, true
	case "false", "no", "n", "0", "否", "off":
		return false, true
	}
	return false, false
}

// dateForm is a date as exports write it: 2027-03-31, 2027/3/31,
// 2027.3.31, 2027年3月31日 or 20270331, with a time of day after it or
// not (a datetime column).
var dateForm = regexp.MustCompile(`^(\d{4})(?:[-/.年](\d{1,2})[-/.月](\d{1,2})日?|(\d{2})(\d{2}))(?:[ T].*)?$`)

// parseDate reads a pm_due date and returns it as YYYY-MM-DD. A day-first
// or month-first date (31/03/2027, 03/31/2027) is refused: which it is
// cannot be told from 04/03/2027.
func parseDate(v string) (string, bool) {
	m := dateForm.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		return "", false
	}
	mo, day := m[2], m[3]
	if mo == "" {
		mo, day = m[4], m[5]
	}
	y, _ := strconv.Atoi(m[1])
	mn, _ := strconv.Atoi(mo)
	dn, _ := strconv.Atoi(day)
	t := time.Date(y, time.Month(mn), dn, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || int(t.Month()) != mn || t.Day() != dn {
		return "", false // 2027-02-30
	}
	return t.Format(time.DateOnly), true
}
