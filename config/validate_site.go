package config

import (
	"errors"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// idPattern is what every id (hospital, unit, bed, pool, device) must look
// like: ids travel in MQTT topics, URLs and InfluxDB tags.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

const idRule = "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"

// validTargetYears are the years the national targets are set for.
var validTargetYears = []int{2025, 2027}

func (l *loader) at(line int, format string, args ...any) {
	l.c.add(l.d.file, line, format, args...)
}

// validate checks the site after defaults and profiles are in place.
func (l *loader) validate() {
	l.validateHospital()
	l.validateUnits()
	l.validateOutputs()
	l.validateDevices()
	l.validateKinds()
	l.validateAlerts()
}

func (l *loader) validateHospital() {
	s, d := l.site, l.d
	h := s.Hospital
	switch {
	case h.ID == "":
		l.at(d.line("hospital", "id"), "hospital.id is required")
	case !idPattern.MatchString(h.ID):
		l.at(d.line("hospital", "id"), "invalid hospital.id %q: %s", h.ID, idRule)
	}
	if h.Region != "" && !idPattern.MatchString(h.Region) {
		l.at(d.line("hospital", "region"), "invalid hospital.region %q: %s", h.Region, idRule)
	}
	if h.Level != LevelTertiary && h.Level != LevelSecondary {
		l.at(d.line("hospital", "level"), "hospital.level is %q: want tertiary or secondary", h.Level)
	}
	if h.TotalBeds <= 0 {
		l.at(d.line("hospital", "total_beds"), "hospital.total_beds must be the hospital's inpatient beds, more than 0 (got %d)", h.TotalBeds)
	}
	if st := h.Staffing; st != nil && (st.Doctors < 0 || st.Nurses < 0) {
		l.at(d.line("hospital", "staffing"), "hospital.staffing: doctors and nurses must not be negative")
	}
	if !slices.Contains(validTargetYears, s.TargetYear) {
		l.at(d.line("target_year"), "target_year %d: want 2025 or 2027", s.TargetYear)
	}
	l.nonNegative(s.Hold, "hold")
}

// nonNegative reports a negative duration at its key.
func (l *loader) nonNegative(v *time.Duration, path ...any) {
	if v != nil && *v < 0 {
		l.at(l.d.line(path...), "%s must not be negative (got %s)", pathString(path), *v)
	}
}

func pathString(path []any) string {
	out := ""
	for _, p := range path {
		switch p := p.(type) {
		case string:
			if out != "" {
				out += "."
			}
			out += p
		case int:
			out += "[" + strconv.Itoa(p) + "]"
		}
	}
	return out
}

func (l *loader) validateUnits() {
	s, d := l.site, l.d
	units := map[string]int{} // id -> index
	beds := map[string]string{}
	for i, u := range s.Units {
		switch {
		case u.ID == "":
			l.at(d.line("units", i), "unit %d has no id", i+1)
		case !idPattern.MatchString(u.ID):
			l.at(d.line("units", i, "id"), "invalid unit id %q: %s", u.ID, idRule)
		default:
			if j, dup := units[u.ID]; dup {
				l.at(d.line("units", i, "id"), "duplicate unit id %q (first at line %d)", u.ID, d.line("units", j, "id"))
			} else {
				units[u.ID] = i
			}
		}
		switch u.Class {
		case ClassGeneral, ClassSpecialty, ClassConvertible:
		case "":
			l.at(d.line("units", i), "unit %s has no class: want general, specialty or convertible", u.ID)
		default:
			l.at(d.line("units", i, "class"), "unit %s: invalid class %q: want general, specialty or convertible", u.ID, u.Class)
		}
		for j, b := range u.Beds {
			line := d.line("units", i, "beds", j)
			switch {
			case !idPattern.MatchString(b):
				l.at(line, "unit %s: invalid bed id %q: %s", u.ID, b, idRule)
			case beds[b] != "":
				l.at(line, "duplicate bed id %q (already a bed of unit %s)", b, beds[b])
			default:
				beds[b] = u.ID
			}
		}
	}
	pools := map[string]bool{}
	for i, p := range s.Pools {
		line := d.line("pools", i)
		switch {
		case !idPattern.MatchString(p.ID):
			l.at(line, "invalid pool id %q: %s", p.ID, idRule)
		case pools[p.ID]:
			l.at(line, "duplicate pool id %q", p.ID)
		case beds[p.ID] != "":
			l.at(line, "pool id %q is also a bed of unit %s: a device's at must name one place", p.ID, beds[p.ID])
		}
		pools[p.ID] = true
		if _, ok := units[p.Unit]; p.Unit != "" && !ok {
			l.at(d.line("pools", i, "unit"), "pool %s: unknown unit %q", p.ID, p.Unit)
		}
	}
}

func (l *loader) validateOutputs() {
	s, d := l.site, l.d
	if m := s.MQTT; m != nil {
		if m.Broker == "" {
			l.at(d.line("mqtt"), "mqtt.broker is required (e.g. tcp://127.0.0.1:1883)")
		} else if u, err := url.Parse(m.Broker); err != nil || u.Host == "" ||
			!slices.Contains([]string{"tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss"}, u.Scheme) {
			l.at(d.line("mqtt", "broker"), "mqtt.broker %q: want a URL such as tcp://host:1883 or ssl://host:8883", m.Broker)
		}
		if m.MaxMessageBytes < 0 {
			l.at(d.line("mqtt", "max_message_bytes"), "mqtt.max_message_bytes must not be negative")
		}
	}
	if db := s.InfluxDB; db != nil {
		if u, err := url.Parse(db.URL); db.URL == "" || err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			l.at(d.line("influxdb", "url"), "influxdb.url %q: want http://host:8086 or https://...", db.URL)
		}
		if db.Bucket == "" {
			l.at(d.line("influxdb"), "influxdb.bucket is required (InfluxDB 1.8: \"database/retention-policy\")")
		}
		if db.BatchSize < 0 {
			l.at(d.line("influxdb", "batch_size"), "influxdb.batch_size must not be negative")
		}
		l.nonNegative(&db.FlushInterval, "influxdb", "flush_interval")
	}
	l.nonNegative(&s.Report.Interval, "report", "interval")
	if s.Report.HTTPURL != "" {
		if u, err := url.Parse(s.Report.HTTPURL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			l.at(d.line("report", "http_url"), "report.http_url %q: want an http(s) URL", s.Report.HTTPURL)
		}
	}
	if s.Report.Part != "" && !idPattern.MatchString(s.Report.Part) {
		l.at(d.line("report", "part"), "invalid report.part %q: %s (it names a building or campus on the region's pages and in its topics)", s.Report.Part, idRule)
	}
	if d.has("report", "gateway_id") && !idPattern.MatchString(s.Report.GatewayID) {
		l.at(d.line("report", "gateway_id"), "invalid report.gateway_id %q: %s", s.Report.GatewayID, idRule)
	}
	if err := checkHostPort(s.HTTP.Listen); err != nil {
		l.at(d.line("http", "listen"), "http.listen %q: %v", s.HTTP.Listen, err)
	}
	for i, h := range s.HTTP.Hosts {
		if (len(h) > 253 || !hostNamePattern.MatchString(h)) && net.ParseIP(strings.Trim(h, "[]")) == nil {
			l.at(d.line("http", "hosts", i), "http.hosts %q: want a host name such as icugate.hospital.local, without scheme, port, path or wildcard", h)
		}
	}
	l.nonNegative(&s.HTTP.RequestTimeout, "http", "request_timeout")
	if t := s.HTTP.TLS; t != nil {
		if t.CertFile == "" {
			l.at(d.line("http", "tls"), "http.tls needs cert_file: the PEM certificate the gateway serves HTTPS with")
		}
		if t.KeyFile == "" {
			l.at(d.line("http", "tls"), "http.tls needs key_file: the PEM private key of cert_file")
		}
	}
	if (d.has("http", "public_health") || d.has("http", "public_metrics")) && !s.HTTP.ReadRequiresToken {
		key := "public_health"
		if d.has("http", "public_metrics") {
			key = "public_metrics"
		}
		l.at(d.line("http", key), "http.public_health and http.public_metrics only matter with read_requires_token: true; without it every read is public")
	}
	if s.HTTP.MaxEventClients < 0 {
		l.at(d.line("http", "max_event_clients"), "http.max_event_clients must not be negative (0 means the default, 256)")
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, s.Log.Level) {
		l.at(d.line("log", "level"), "log.level %q: want debug, info, warn or error", s.Log.Level)
	}
	if s.Log.Format != "text" && s.Log.Format != "json" {
		l.at(d.line("log", "format"), "log.format %q: want text or json", s.Log.Format)
	}
}

// hostNamePattern is a DNS host name: dot-separated labels of letters,
// digits, hyphens and underscores, not starting or ending with a hyphen,
// optionally ending with a dot.
var hostNamePattern = regexp.MustCompile(`^([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?$`)

// checkHostPort accepts host:port with a numeric port (host may be empty
// for all interfaces).
func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errHostPort()
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return errHostPort()
	}
	return nil
}

func errHostPort() error { return errors.New("want host:port with a port 1..65535") }
