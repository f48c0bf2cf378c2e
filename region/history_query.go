package region

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// A trend is asked for with query parameters; this file reads them. Every
// refusal names its parameter, so a client (or the commission's analyst
// with curl) sees what to change.

// Limits of a trend request: enough for a year of daily points or a week
// of 5-minute points, small enough that one request cannot make InfluxDB
// scan or return the whole history.
const (
	// MaxTrendRange is the longest from..to.
	MaxTrendRange = 400 * 24 * time.Hour
	// MinTrendStep is the shortest step: below a report interval or two a
	// bucket may hold no report of a part and its sum would dip.
	MinTrendStep = 5 * time.Minute
	// MaxTrendStep is the longest step.
	MaxTrendStep = 31 * 24 * time.Hour
	// MaxTrendPoints bounds (to - from) / step: the points of one series.
	MaxTrendPoints = 2000
	// MaxTrendValues bounds the points of all series of one answer
	// (by=hospital: hospitals x points), about 5 MB of JSON.
	MaxTrendValues = 100_000
	// DefaultTrendRange is from's default (to - 7 days).
	DefaultTrendRange = 7 * 24 * time.Hour
)

// Trend metrics: report fields summed over hospitals. icu_beds and
// icu_beds_equipped are general + specialty beds (the policy's ICU beds).
var trendMetrics = map[string]struct{ field, classes string }{
	"beds_total":        {"beds_total", "all"},
	"beds_equipped":     {"beds_equipped", "all"},
	"beds_occupied":     {"beds_occupied", "all"},
	"beds_available":    {"beds_available", "all"},
	"beds_degraded":     {"beds_degraded", "all"},
	"convertible_ready": {"convertible_ready", "all"},
	"icu_beds":          {"beds_total", "icu"},
	"icu_beds_equipped": {"beds_equipped", "icu"},
	"convertible_beds":  {"beds_total", "convertible"},
}

// TrendMetrics lists the metric names a trend accepts.
func TrendMetrics() []string {
	out := make([]string, 0, len(trendMetrics))
	for k := range trendMetrics {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Trend groupings.
const (
	ByRegion   = "region"
	ByDistrict = "district"
	ByHospital = "hospital"
)

// TrendQuery is a parsed trend request.
type TrendQuery struct {
	Metric string
	// By is region, district or hospital: one series for the region, one
	// per district, one per hospital.
	By string
	// District and Hospital, when set, keep only that district's or
	// hospital's reports.
	District, Hospital string
	From, To           time.Time
	Step               time.Duration
}

// Points is how many buckets the query spans.
func (q TrendQuery) Points() int {
	return int((q.To.Sub(q.From) + q.Step - 1) / q.Step)
}

// ParamError is a request refused for one of its parameters (HTTP 400).
type ParamError struct {
	Param string
	Msg   string
}

func (e *ParamError) Error() string { return e.Param + ": " + e.Msg }

func paramErr(p, format string, a ...any) error {
	return &ParamError{Param: p, Msg: fmt.Sprintf(format, a...)}
}

// ParseTrendQuery reads a trend request's raw query at time now:
// metric (default icu_beds_equipped), by (region, district, hospital;
// default district), district, hospital, from and to (RFC 3339, or a
// duration before now such as 7d, 24h; default now-7d .. now), step (a
// duration, 5m to 31d; default range/200 rounded up to a whole minute,
// at least 5m). Unknown or repeated parameters are refused: an answer to
// a question that was not asked would be read as the answer.
func ParseTrendQuery(raw string, now time.Time) (TrendQuery, error) {
	q := TrendQuery{Metric: "icu_beds_equipped", By: ByDistrict, To: now.UTC()}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, paramErr("query", "malformed: %v", err)
	}
	get := func(name string) (string, bool, error) {
		vs, ok := vals[name]
		if !ok {
			return "", false, nil
		}
		if len(vs) != 1 {
			return "", false, paramErr(name, "given %d times: give it once", len(vs))
		}
		if len(vs[0]) > 64 {
			return "", false, paramErr(name, "longer than 64 bytes")
		}
		return vs[0], true, nil
	}
	for name := range vals {
		switch name {
		case "metric", "by", "district", "hospital", "from", "to", "step":
		case "":
			return q, paramErr("query", "a parameter without a name")
		default:
			return q, paramErr(fmt.Sprintf("%.64s", name), "unknown parameter (metric, by, district, hospital, from, to, step)")
		}
	}
	if v, ok, err := get("metric"); err != nil {
		return q, err
	} else if ok {
		if _, known := trendMetrics[v]; !known {
			return q, paramErr("metric", "%q: want one of %s", v, strings.Join(TrendMetrics(), ", "))
		}
		q.Metric = v
	}
	if v, ok, err := get("by"); err != nil {
		return q, err
	} else if ok {
		if v != ByRegion && v != ByDistrict && v != ByHospital {
			return q, paramErr("by", "%q: want region, district or hospital", v)
		}
		q.By = v
	}
	for _, p := range []struct {
		name string
		dst  *string
	}{{"district", &q.District}, {"hospital", &q.Hospital}} {
		v, ok, err := get(p.name)
		if err != nil {
			return q, err
		}
		if ok {
			if !validID(v) {
				return q, paramErr(p.name, "%q: not an id (letters, digits, _ - .)", v)
			}
			*p.dst = v
		}
	}
	if v, ok, err := get("to"); err != nil {
		return q, err
	} else if ok {
		if q.To, err = parseInstant(v, now); err != nil {
			return q, paramErr("to", "%v", err)
		}
	}
	q.From = q.To.Add(-DefaultTrendRange)
	if v, ok, err := get("from"); err != nil {
		return q, err
	} else if ok {
		if q.From, err = parseInstant(v, now); err != nil {
			return q, paramErr("from", "%v", err)
		}
	}
	if !q.From.Before(q.To) {
		return q, paramErr("from", "%s is not before to %s", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	if d := q.To.Sub(q.From); d > MaxTrendRange {
		return q, paramErr("from", "range %s is longer than %d days: ask for less", d, MaxTrendRange/(24*time.Hour))
	}
	q.Step = max(MinTrendStep, (q.To.Sub(q.From)/200 + time.Minute - 1).Truncate(time.Minute))
	if v, ok, err := get("step"); err != nil {
		return q, err
	} else if ok {
		d, err := parseDuration(v)
		if err != nil {
			return q, paramErr("step", "%v", err)
		}
		if d < MinTrendStep || d > MaxTrendStep || d%time.Second != 0 {
			return q, paramErr("step", "%s: want whole seconds from %s to %s", v, MinTrendStep, MaxTrendStep)
		}
		q.Step = d
	}
	if n := q.Points(); n > MaxTrendPoints {
		return q, paramErr("step", "%s over %s gives %d points, more than %d: take a longer step or a shorter range", q.Step, q.To.Sub(q.From), n, MaxTrendPoints)
	}
	return q, nil
}

// parseInstant reads RFC 3339 or a duration before now ("7d", "36h").
func parseInstant(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		if t.Year() < 2000 || t.Year() > 9999 {
			return time.Time{}, fmt.Errorf("%q: year out of range", v)
		}
		return t.UTC(), nil
	}
	d, err := parseDuration(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2026-01-31T00:00:00Z) or a duration before now (7d, 24h)", v)
	}
	if d > 20*365*24*time.Hour {
		return time.Time{}, fmt.Errorf("%q: too far back", v)
	}
	return now.UTC().Add(-d), nil
}

// parseDuration reads a Go duration, or whole days ("7d"). Negative and
// zero durations are refused.
func parseDuration(v string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(v, "d"); ok && n != "" && !strings.ContainsAny(n, "hmsuµn.") {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err != nil || fmt.Sprint(days) != n || days <= 0 || days > 10000 {
			return 0, fmt.Errorf("%q: want a positive number of days", v)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, fmt.Errorf("%q: not a duration (5m, 1h, 1d)", v)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q: not positive", v)
	}
	return d, nil
}

// validID: the characters of district, hospital and part ids (they go
// into an InfluxQL string literal, so nothing else is let through).
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
