package region

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/report"
)

// History answers trend queries from the region_capacity points that
// InfluxSink wrote: every accepted report's figures, per part, at its
// as_of. A bucket's figure for a hospital is the sum over its parts of
// each part's last point in the bucket; a district's or the region's is
// the sum over its hospitals (the query of docs/reporting.md §6, per
// bucket). A hospital that did not report in a bucket is missing from
// that bucket's sum, as it is from the live totals while silent.
type History struct {
	client   *http.Client
	base     *url.URL
	db, rp   string
	user     string
	password string
	token    string
}

// ErrNoHistory: the instance has no influxdb block, so it keeps no
// history to query.
var ErrNoHistory = errors.New("no history: this instance has no influxdb configured (region.yaml influxdb block)")

// NewHistory reads from the InfluxDB 1.8 of cfg with InfluxQL over
// /query. The bucket is "db/rp" as for the writes; the token
// ("user:password" on 1.8) comes from token_file, else
// ICUGATE_INFLUXDB_TOKEN.
func NewHistory(cfg *config.InfluxDB) (*History, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("influxdb url %q: not a URL", cfg.URL)
	}
	h := &History{base: u, client: &http.Client{Timeout: 15 * time.Second}}
	h.db, h.rp, _ = strings.Cut(cfg.Bucket, "/")
	token := os.Getenv("ICUGATE_INFLUXDB_TOKEN")
	if cfg.TokenFile != "" {
		b, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("influxdb token_file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	if user, pw, ok := strings.Cut(token, ":"); ok {
		h.user, h.password = user, pw
	} else {
		h.token = token
	}
	if cfg.TLS != nil {
		tc, err := report.TLSConfig(cfg.TLS)
		if err != nil {
			return nil, fmt.Errorf("influxdb tls: %w", err)
		}
		h.client.Transport = &http.Transport{TLSClientConfig: tc}
	}
	return h, nil
}

// Trend is the answer to a TrendQuery: one series per region, district
// or hospital, buckets without any report left out.
type Trend struct {
	Metric      string        `json:"metric"`
	By          string        `json:"by"`
	District    string        `json:"district,omitempty"`
	Hospital    string        `json:"hospital,omitempty"`
	From        time.Time     `json:"from"`
	To          time.Time     `json:"to"`
	Step        string        `json:"step"`
	StepSeconds int64         `json:"step_seconds"`
	Series      []TrendSeries `json:"series"`
}

// TrendSeries is one area's or hospital's figures over time.
type TrendSeries struct {
	// Key is the district or hospital id, or the region id.
	Key  string `json:"key"`
	Name string `json:"name,omitempty"`
	// Population is the district's or region's (for per-100,000 views);
	// 0 for a hospital.
	Population int64        `json:"population,omitempty"`
	Points     []TrendPoint `json:"points"`
}

// TrendPoint is one bucket: its start and the summed figure.
type TrendPoint struct {
	T time.Time `json:"t"`
	V float64   `json:"v"`
}

// InfluxQL renders q as one InfluxQL statement. Ids were checked by
// ParseTrendQuery (validID), so quoting them is safe.
func (q TrendQuery) InfluxQL() string {
	m := trendMetrics[q.Metric]
	var where []string
	where = append(where, "unit='all'")
	switch m.classes {
	case "all":
		where = append(where, "class='all'")
	case "icu":
		where = append(where, "(class='general' OR class='specialty')")
	default:
		where = append(where, "class='"+m.classes+"'")
	}
	if q.District != "" {
		where = append(where, "district='"+q.District+"'")
	}
	if q.Hospital != "" {
		where = append(where, "hospital='"+q.Hospital+"'")
	}
	span := fmt.Sprintf("time >= %d AND time < %d", q.From.UnixNano(), q.To.UnixNano())
	step := fmt.Sprintf("%ds", int64(q.Step/time.Second))
	inner := fmt.Sprintf(`SELECT last(%q) AS v FROM %q WHERE %s AND %s GROUP BY time(%s), hospital, part, class, district`,
		m.field, Measurement, strings.Join(where, " AND "), span, step)
	group := "time(" + step + ")"
	if q.By != ByRegion {
		group += ", " + q.By
	}
	return fmt.Sprintf(`SELECT sum(v) AS v FROM (%s) WHERE %s GROUP BY %s fill(none)`, inner, span, group)
}

// Query runs q. It blocks until InfluxDB answers, ctx ends or 15 s pass.
func (h *History) Query(ctx context.Context, q TrendQuery) (*Trend, error) {
	u := *h.base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/query"
	v := url.Values{"db": {h.db}, "q": {q.InfluxQL()}, "epoch": {"s"}}
	if h.rp != "" {
		v.Set("rp", h.rp)
	}
	u.RawQuery = v.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if h.user != "" {
		req.SetBasicAuth(h.user, h.password)
	} else if h.token != "" {
		req.Header.Set("Authorization", "Token "+h.token)
	}
	res, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("influxdb query: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("influxdb query: %w", err)
	}
	var out struct {
		Results []struct {
			Series []struct {
				Tags   map[string]string `json:"tags"`
				Values [][]float64       `json:"values"`
			} `json:"series"`
			Error string `json:"error"`
		} `json:"results"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("influxdb query: status %d: %.200s", res.StatusCode, body)
	}
	if out.Error != "" || res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("influxdb query: status %d: %s", res.StatusCode, out.Error)
	}
	t := &Trend{Metric: q.Metric, By: q.By, District: q.District, Hospital: q.Hospital, From: q.From, To: q.To,
		Step: q.Step.String(), StepSeconds: int64(q.Step / time.Second), Series: []TrendSeries{}}
	for _, r := range out.Results {
		if r.Error != "" {
			return nil, fmt.Errorf("influxdb query: %s", r.Error)
		}
		for _, s := range r.Series {
			ts := TrendSeries{Key: s.Tags[q.By], Points: make([]TrendPoint, 0, len(s.Values))}
			for _, row := range s.Values {
				if len(row) == 2 {
					ts.Points = append(ts.Points, TrendPoint{T: time.Unix(int64(row[0]), 0).UTC(), V: row[1]})
				}
			}
			t.Series = append(t.Series, ts)
		}
	}
	sort.Slice(t.Series, func(i, j int) bool { return t.Series[i].Key < t.Series[j].Key })
	return t, nil
}

// name gives each series its district's or hospital's name and
// population from the view; the region series is keyed by region id.
func (t *Trend) name(v *View) {
	for i := range t.Series {
		s := &t.Series[i]
		switch t.By {
		case ByRegion:
			s.Key, s.Name, s.Population = v.Region, "whole region", v.Indicators.Population
		case ByDistrict:
			for _, d := range v.Districts {
				if d.ID == s.Key {
					s.Name, s.Population = d.Name, d.Indicators.Population
				}
			}
		case ByHospital:
			for _, h := range v.Hospitals {
				if h.ID == s.Key {
					s.Name = h.Name
				}
			}
		}
	}
}
