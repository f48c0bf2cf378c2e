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
	"errors"
	"fmt"
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
	// Region is the region id of the topics icu/v1/{region}/+/capacity.
	Region string `yaml:"region"`
	// Population of the region, for beds per 100,000 people.
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
}

// MQTT is the broker connection: the gateway's MQTT block plus the shared
// subscription group and the retained-message sweep.
type MQTT struct {
	config.MQTT `yaml:",inline"`
	// ShareGroup names the shared subscription $share/{group}/...; every
	// instance of one aggregator uses the same group. Default icuregion.
	ShareGroup string `yaml:"share_group"`
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
	c.KeysFile = rel(c.KeysFile)
	c.MQTT.UsernameFile = rel(c.MQTT.UsernameFile)
	c.MQTT.PasswordFile = rel(c.MQTT.PasswordFile)
	if c.InfluxDB != nil {
		c.InfluxDB.TokenFile = rel(c.InfluxDB.TokenFile)
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("region config %s: %w", path, err)
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
}

// Validate reports every problem of the config at once.
func (c *Config) Validate() error {
	var errs []error
	if err := report.CheckTopicPart("region", c.Region); err != nil {
		errs = append(errs, err)
	}
	if c.Population <= 0 {
		errs = append(errs, errors.New("population: must be a positive number of people"))
	}
	if c.KeysFile == "" {
		errs = append(errs, errors.New("keys_file: required (the hospitals' public keys)"))
	}
	if c.MQTT.Broker == "" {
		errs = append(errs, errors.New("mqtt.broker: required"))
	}
	if err := report.CheckTopicPart("mqtt.share_group", c.MQTT.ShareGroup); err != nil {
		errs = append(errs, err)
	}
	if db := c.InfluxDB; db != nil && (db.URL == "" || db.Bucket == "") {
		errs = append(errs, errors.New("influxdb: url and bucket are required when influxdb is set"))
	}
	return errors.Join(errs...)
}

// Filter is the shared subscription of the instance.
func (c *Config) Filter() string {
	return "$share/" + c.MQTT.ShareGroup + "/" + c.Topics()
}

// Topics is the plain topic filter of the region's reports.
func (c *Config) Topics() string { return "icu/v1/" + c.Region + "/+/capacity" }
