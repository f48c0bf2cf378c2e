package region

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/influxdata/influxdb-client-go/v2/api/write"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/report"
)

// Measurement is the InfluxDB measurement of accepted reports.
const Measurement = "region_capacity"

// Sink stores accepted reports. Write blocks until the report is stored
// or ctx ends; the MQTT message is acknowledged only after it returns.
type Sink interface {
	Write(ctx context.Context, r *report.Report, o Origin) error
}

// Origin is where an accepted report belongs, from the registry (never
// from the report): the part of its hospital it came from and the
// hospital's district ("" when the region has no districts).
type Origin struct {
	Part     string
	District string
}

// InfluxSink writes each accepted report as points of region_capacity:
// one for the part's hospital-wide counts (unit "all"), one per class and
// one per unit, timestamped with the report's as_of, so a redelivered or
// swept report rewrites the same points (writes are idempotent across
// instances). Each part of a several-gateway hospital is its own series
// (tag part); a hospital's figure is the sum of its parts' last points.
type InfluxSink struct {
	client influxdb2.Client
	write  api.WriteAPIBlocking
}

// NewInfluxSink connects the blocking write API to cfg. The token comes
// from token_file, else ICUGATE_INFLUXDB_TOKEN.
func NewInfluxSink(cfg *config.InfluxDB) (*InfluxSink, error) {
	token := os.Getenv("ICUGATE_INFLUXDB_TOKEN")
	if cfg.TokenFile != "" {
		b, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("influxdb token_file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	opts := influxdb2.DefaultOptions().SetHTTPRequestTimeout(10)
	if cfg.TLS != nil {
		tc, err := report.TLSConfig(cfg.TLS)
		if err != nil {
			return nil, fmt.Errorf("influxdb tls: %w", err)
		}
		opts.SetTLSConfig(tc)
	}
	c := influxdb2.NewClientWithOptions(cfg.URL, token, opts)
	return &InfluxSink{client: c, write: c.WriteAPIBlocking(cfg.Org, cfg.Bucket)}, nil
}

// Write implements Sink.
func (s *InfluxSink) Write(ctx context.Context, r *report.Report, o Origin) error {
	pts := Points(r, o)
	if err := s.write.WritePoint(ctx, pts...); err != nil {
		return fmt.Errorf("influxdb write hospital %s sequence %d: %w", r.Hospital.ID, r.Sequence, err)
	}
	return nil
}

// Close releases the client.
func (s *InfluxSink) Close() error {
	s.client.Close()
	return nil
}

// Points renders a report of origin o as region_capacity points. Tags are
// low-cardinality ids (region, district, hospital, part, level, unit,
// class); counts, flags and the sequence are fields.
func Points(r *report.Report, o Origin) []*write.Point {
	part := o.Part
	if part == "" {
		part = report.MainPart
	}
	pt := func(c *report.Counts, unit string) *write.Point {
		p := influxdb2.NewPointWithMeasurement(Measurement).
			AddTag("region", r.Hospital.Region).
			AddTag("hospital", r.Hospital.ID).
			AddTag("part", part).
			AddTag("level", r.Hospital.Level).
			AddTag("unit", unit).
			AddTag("class", c.Class).
			AddField("beds_total", c.BedsTotal).
			AddField("beds_equipped", c.BedsEquipped).
			AddField("beds_occupied", c.BedsOccupied).
			AddField("beds_available", c.BedsAvailable).
			AddField("beds_degraded", c.BedsDegraded).
			AddField("convertible_ready", c.ConvertibleReady).
			AddField("verified", c.Verified).
			AddField("coverage", c.Evidence.Coverage).
			AddField("sequence", int64(r.Sequence)).
			SetTime(r.AsOf.UTC().Truncate(time.Nanosecond))
		if o.District != "" {
			p.AddTag("district", o.District)
		}
		for k, d := range c.Devices {
			p.AddField(k+"_total", d.Total).AddField(k+"_in_use", d.InUse).AddField(k+"_standby", d.Standby)
		}
		return p
	}
	out := []*write.Point{pt(&r.Totals, "all")}
	for i := range r.Classes {
		c := &r.Classes[i]
		p := pt(c, "all")
		out = append(out, p)
	}
	for i := range r.Units {
		out = append(out, pt(&r.Units[i], r.Units[i].Unit))
	}
	return out
}
