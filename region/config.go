// Package region is the regional aggregator behind cmd/icuregion: it
// receives every hospital's signed capacity report over MQTT (a shared
// subscription, so several instances split the load), verifies each
// against the hospital's registered public key, refuses forgeries,
// replays and stale reports, notices hospitals that stop reporting, and
// computes the regional totals and the per-100,000-population indicators
// of PRODUCT §1. It writes accepted reports to InfluxDB and serves a JSON
// API and a small HTML page.
package region

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/report"
)

// Defaults of Config.
const (
	DefaultInterval      = time.Minute
	DefaultSilentAfter   = 3
	DefaultMaxAge        = 10 * time.Minute
	DefaultMaxSkew       = time.Minute
	DefaultShareGroup    = "icuregion"
	DefaultSweepInterval = time.Minute
	DefaultListen        = "127.0.0.1:8090"
	DefaultQueue         = 1024
)

// Config is one aggregator instance's configuration (configs/region/).
type Config struct {
	// File is where the config was loaded from.
	File string `yaml:"-"`
	// Region is the region id of the topics icu/v1/{region}/...
	Region string `yaml:"region"`
	// Districts are the counties and cities of the region, each with its
	// population: the unit the policy's per-100,000 targets are judged
	// at. Every hospital of the keys file names its district.
	Districts []District `yaml:"districts"`
	// Population of the region, for beds per 100,000 people. With
	// districts it may be left out (it is their sum); when given it must
	// equal their sum, a cross-check against a mistyped district.
	Population int64 `yaml:"population"`
	// TargetYear picks the targets: 15 ICU and 10 convertible beds per
	// 100,000 before 2027, 18 and 12 from 2027.
	TargetYear int `yaml:"target_year"`
	// Interval is the report interval assumed for a report that states
	// none. Default 1m.
	Interval time.Duration `yaml:"interval"`
	// SilentAfter is how many report intervals without a report make a
	// hospital silent. Default 3.
	SilentAfter int `yaml:"silent_after"`
	// MaxAge rejects reports whose as_of is older (stale). Default 10m.
	MaxAge time.Duration `yaml:"max_age"`
	// MaxSkew rejects reports whose as_of is further in the future.
	// Default 1m.
	MaxSkew time.Duration `yaml:"max_skew"`
	// KeysFile lists the hospitals and their public keys (reloaded on
	// SIGHUP). Relative to the config file.
	KeysFile string           `yaml:"keys_file"`
	MQTT     MQTT             `yaml:"mqtt"`
	InfluxDB *config.InfluxDB `yaml:"influxdb"`
	HTTP     HTTP             `yaml:"http"`
	// Alerts, when set, sends one alert per silent or partial hospital
	// to the receivers (the gateway's receiver types: webhook, email,
	// alertmanager, mqtt).
	Alerts *Alerts `yaml:"alerts"`
}

// District is one county or city of the region.
type District struct {
	// ID is how the keys file names the district (e.g. D01, 341702).
	ID string `yaml:"id"`
	// Name is shown on the page (e.g. 东至县).
	Name string `yaml:"name"`
	// Population is the number of people living in the district.
	Population int64 `yaml:"population"`
}

// Alerts configures the aggregator's alerts about hospitals that do not
// report (docs/reporting.md §5).
type Alerts struct {
	// For is how long a hospital must be silent or partial before its
	// alert fires (the silence itself already waited silent_after report
	// intervals). Default 2m; 0 takes the default, a negative value fires
	// at once.
	For time.Duration `yaml:"for"`
	// Repeat re-sends a firing alert this often; 0: never.
	Repeat time.Duration `yaml:"repeat"`
	// SendResolved sends a resolved notification when the hospital
	// reports again in full. Default true.
	SendResolved *bool `yaml:"send_resolved"`
	// Receivers are where alerts go, configured exactly like a gateway's
	// alerts.receivers (name, type, url, secret_file, ...). File paths are
	// relative to the region config.
	Receivers []config.AlertReceiver `yaml:"receivers"`
}

// resolved reports whether resolved notifications are sent.
func (a *Alerts) resolved() bool { return a.SendResolved == nil || *a.SendResolved }

// MQTT is the broker connection: the gateway's MQTT block plus the shared
// subscription group and the retained-message sweep.
type MQTT struct {
	config.MQTT `yaml:",inline"`
	// ShareGroup names the shared subscription $share/{group}/...; every
	// instance of one aggregator uses the same group. Default icuregion.
	ShareGroup string `yaml:"share_group"`
	// Shared false subscribes to the reports plainly instead of through
	// the shared subscription: every instance then receives every report
	// and shows the whole region at once, not its share. That is the
	// high-availability deployment on a NATS cluster (docs/reporting.md
	// §6); a single Mosquitto keeps the default. Default true.
	Shared *bool `yaml:"shared"`
	// Failover lists further brokers of the same cluster (tcp://host:port),
	// tried in order after broker when the connection is lost or refused:
	// the other nodes of a NATS cluster. Empty: broker only.
	Failover []string `yaml:"failover"`
	// SweepInterval is how often the instance reads every hospital's
	// retained latest report (besides at every connect); 0 takes the
	// default 1m, a negative value sweeps only at connect.
	SweepInterval time.Duration `yaml:"sweep_interval"`
	// Queue bounds the messages waiting for verification. Default 1024.
	Queue int `yaml:"queue"`
}

// HTTP is the API listener; an empty Listen takes 127.0.0.1:8090, "-"
// disables it.
type HTTP struct {
	Listen string `yaml:"listen"`
}

// LoadConfig reads a region config strictly (an unknown key is an error
// with its line), applies defaults and validates it.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("region config: %w", err)
	}
	return ParseConfig(data, path)
}

// ParseConfig is LoadConfig of data read from path (paths in it are
// relative to path's directory). Every problem is reported at once, each
// as "file:line: field: message".
func ParseConfig(data []byte, path string) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("region config %s: %w", path, err)
	}
	c.File = path
	dir := filepath.Dir(path)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	relTLS := func(t *config.TLS) {
		if t != nil {
			t.CAFile, t.CertFile, t.KeyFile = rel(t.CAFile), rel(t.CertFile), rel(t.KeyFile)
		}
	}
	c.KeysFile = rel(c.KeysFile)
	c.MQTT.UsernameFile = rel(c.MQTT.UsernameFile)
	c.MQTT.PasswordFile = rel(c.MQTT.PasswordFile)
	relTLS(c.MQTT.TLS)
	if c.InfluxDB != nil {
		c.InfluxDB.TokenFile = rel(c.InfluxDB.TokenFile)
		relTLS(c.InfluxDB.TLS)
	}
	if a := c.Alerts; a != nil {
		for i := range a.Receivers {
			r := &a.Receivers[i]
			r.SecretFile, r.UsernameFile, r.PasswordFile = rel(r.SecretFile), rel(r.UsernameFile), rel(r.PasswordFile)
			relTLS(r.TLS)
		}
	}
	c.ApplyDefaults()
	if ps := c.problems(); len(ps) > 0 {
		return nil, fmt.Errorf("region config %s:\n%w", path, ps.errIn(path, parseNode(data)))
	}
	return &c, nil
}

// ApplyDefaults fills unset fields.
func (c *Config) ApplyDefaults() {
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.SilentAfter <= 0 {
		c.SilentAfter = DefaultSilentAfter
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.MaxSkew <= 0 {
		c.MaxSkew = DefaultMaxSkew
	}
	if c.MQTT.ShareGroup == "" {
		c.MQTT.ShareGroup = DefaultShareGroup
	}
	if c.MQTT.SweepInterval == 0 {
		c.MQTT.SweepInterval = DefaultSweepInterval
	}
	if c.MQTT.Queue <= 0 {
		c.MQTT.Queue = DefaultQueue
	}
	if c.MQTT.ClientID == "" {
		host, _ := os.Hostname()
		c.MQTT.ClientID = fmt.Sprintf("icuregion-%s-%s-%d", c.Region, host, os.Getpid())
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = DefaultListen
	}
	if c.TargetYear == 0 {
		c.TargetYear = 2025
	}
	if c.Population == 0 && len(c.Districts) > 0 {
		// The region is its districts; a bad district population is
		// reported by Validate and left out here.
		for _, d := range c.Districts {
			if d.Population > 0 && d.Population <= maxPopulation {
				c.Population += d.Population
			}
		}
	}
	if a := c.Alerts; a != nil {
		if a.For == 0 {
			a.For = config.DefaultAlertFor
		}
		for i := range a.Receivers {
			if a.Receivers[i].Timeout <= 0 {
				a.Receivers[i].Timeout = config.DefaultReceiverTimeout
			}
		}
	}
}

// Validate reports every problem of the config at once.
func (c *Config) Validate() error { return c.problems().err() }

func (c *Config) problems() problems {
	var ps problems
	if err := report.CheckTopicPart("region", c.Region); err != nil {
		ps.add(err.Error(), "region")
	}
	sum := c.checkDistricts(&ps)
	switch {
	case len(c.Districts) == 0 && c.Population <= 0:
		ps.add("must be a positive number of people (or list districts with their populations)", "population")
	case c.Population < 0 || c.Population > maxPopulation:
		ps.addf([]any{"population"}, "%d: must be a positive number of people (at most %d)", c.Population, int64(maxPopulation))
	case len(c.Districts) > 0 && c.Population != sum:
		ps.addf([]any{"population"}, "%d, but the districts' populations sum to %d: correct one of them, or leave population out (it is then the sum)", c.Population, sum)
	}
	if c.KeysFile == "" {
		ps.add("required (the hospitals' public keys)", "keys_file")
	}
	if c.MQTT.Broker == "" {
		ps.add("required", "mqtt", "broker")
	}
	if err := report.CheckTopicPart("mqtt.share_group", c.MQTT.ShareGroup); err != nil {
		ps.add(err.Error(), "mqtt", "share_group")
	}
	for i, b := range c.MQTT.Failover {
		if u, err := url.Parse(b); err != nil || u.Host == "" || u.Scheme == "" {
			ps.addf([]any{"mqtt", "failover", i}, "%q: want a broker URL such as tcp://host:1883 or ssl://host:8883", b)
		}
	}
	if db := c.InfluxDB; db != nil && (db.URL == "" || db.Bucket == "") {
		ps.add("url and bucket are required when influxdb is set", "influxdb")
	}
	if a := c.Alerts; a != nil {
		c.checkAlerts(&ps)
	}
	return ps
}

// checkDistricts checks the district list and returns the sum of the
// valid populations.
func (c *Config) checkDistricts(ps *problems) int64 {
	var sum int64
	seen := make(map[string]int, len(c.Districts))
	for i, d := range c.Districts {
		at := []any{"districts", i}
		if err := report.CheckPartID("district id", d.ID); err != nil {
			ps.add(err.Error(), append(at, "id")...)
		} else if prev, dup := seen[d.ID]; dup {
			ps.addf(append(at, "id"), "district %s is already districts[%d]", d.ID, prev)
		} else {
			seen[d.ID] = i
		}
		// The bound keeps sums and per-100,000 products far from
		// overflowing (the world has fewer than 10^10 people).
		if d.Population <= 0 || d.Population > maxPopulation {
			ps.addf(append(at, "population"), "district %s: population %d: must be a positive number of people (at most %d)", d.ID, d.Population, int64(maxPopulation))
			continue
		}
		sum += d.Population
	}
	return sum
}

// maxPopulation bounds a population.
const maxPopulation = 10_000_000_000

func (c *Config) checkAlerts(ps *problems) {
	names := map[string]bool{}
	if len(c.Alerts.Receivers) == 0 {
		ps.add("list at least one receiver (or remove alerts)", "alerts", "receivers")
	}
	for i, r := range c.Alerts.Receivers {
		at := []any{"alerts", "receivers", i}
		switch {
		case r.Name == "":
			ps.add("a receiver needs a name", append(at, "name")...)
		case names[r.Name]:
			ps.addf(append(at, "name"), "duplicate receiver name %q", r.Name)
		}
		names[r.Name] = true
		switch r.Type {
		case config.ReceiverWebhook, config.ReceiverEmail, config.ReceiverAlertmanager, config.ReceiverMQTT:
		default:
			ps.addf(append(at, "type"), "receiver %s: type %q: want webhook, email, alertmanager or mqtt", r.Name, r.Type)
		}
	}
}

// Shared reports whether the instance subscribes to the reports through
// the shared subscription (mqtt.shared, default true).
func (c *Config) Shared() bool { return c.MQTT.Shared == nil || *c.MQTT.Shared }

// Filters are the report subscriptions of the instance: the hospitals'
// own topics and the per-part topics of several-gateway hospitals, shared
// unless mqtt.shared is false.
func (c *Config) Filters() []string {
	if !c.Shared() {
		return c.Topics()
	}
	out := make([]string, 0, 2)
	for _, t := range c.Topics() {
		out = append(out, "$share/"+c.MQTT.ShareGroup+"/"+t)
	}
	return out
}

// Topics are the plain topic filters of the region's reports:
// icu/v1/{region}/+/capacity (a hospital's only gateway, part main) and
// icu/v1/{region}/+/+/capacity (one part of a hospital).
func (c *Config) Topics() []string {
	return []string{"icu/v1/" + c.Region + "/+/capacity", "icu/v1/" + c.Region + "/+/+/capacity"}
}

// PresenceTopics are the gateways' presence topics (report.PresenceTopic),
// which every instance reads with a plain subscription.
func (c *Config) PresenceTopics() []string {
	return []string{"icu/v1/" + c.Region + "/+/gateway", "icu/v1/" + c.Region + "/+/+/gateway"}
}
