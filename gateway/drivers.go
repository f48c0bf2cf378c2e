package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/drivers/modbus"
	"github.com/icugate/icugate/drivers/mqtt"
	"github.com/icugate/icugate/pipeline"
)

// driverSet runs the transports of a site as independent groups: one
// Modbus driver per endpoint (a converter, terminal server or serial bus)
// and one MQTT driver. A reload restarts only the groups whose
// configuration changed, so a device whose address changed reconnects
// while every other device keeps polling.
type driverSet struct {
	log    *slog.Logger
	reg    prometheus.Registerer
	in     pipeline.Intake
	mqttOp mqtt.Options
	// base is the context every driver group runs under (Run's).
	base context.Context

	mu     sync.Mutex
	groups map[string]*runningGroup
	wg     sync.WaitGroup
}

type runningGroup struct {
	fingerprint string
	cancel      context.CancelFunc
	done        chan struct{}
	metrics     *trackingRegisterer
	// mqtt is set for the MQTT group, so reports can be published on the
	// gateway's own broker connection.
	mqtt *mqtt.Driver
}

// group is one unit of restart: its key, what it is configured from, and
// how to build it.
type group struct {
	key         string
	fingerprint string
	build       func(reg prometheus.Registerer) (pipeline.Driver, error)
}

// groupsOf splits a site into driver groups.
func groupsOf(site *config.Site, mqttOpts mqtt.Options, log *slog.Logger) ([]group, error) {
	byEndpoint := map[string][]*config.Device{}
	var hasMQTT bool
	for i := range site.Devices {
		d := &site.Devices[i]
		switch {
		case d.Modbus != nil:
			k := "modbus " + d.Transport() + " " + d.Modbus.Endpoint()
			byEndpoint[k] = append(byEndpoint[k], d)
		case d.MQTT != nil:
			hasMQTT = true
		}
	}
	var out []group
	keys := make([]string, 0, len(byEndpoint))
	for k := range byEndpoint {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		devs := byEndpoint[k]
		fp, err := fingerprint(site, devs, nil)
		if err != nil {
			return nil, err
		}
		key := k
		out = append(out, group{key: key, fingerprint: fp, build: func(reg prometheus.Registerer) (pipeline.Driver, error) {
			return modbus.New(site, modbus.Options{
				Logger:     log,
				Registerer: reg,
				Devices: func(d *config.Device) bool {
					return d.Modbus != nil && "modbus "+d.Transport()+" "+d.Modbus.Endpoint() == key
				},
			})
		}})
	}
	if site.MQTT != nil && (hasMQTT || site.MQTT.Broker != "") {
		var devs []*config.Device
		for i := range site.Devices {
			if site.Devices[i].MQTT != nil {
				devs = append(devs, &site.Devices[i])
			}
		}
		fp, err := fingerprint(site, devs, site.MQTT)
		if err != nil {
			return nil, err
		}
		out = append(out, group{key: "mqtt", fingerprint: fp, build: func(reg prometheus.Registerer) (pipeline.Driver, error) {
			o := mqttOpts
			o.Logger = log
			o.Registerer = reg
			return mqtt.New(site, o)
		}})
	}
	return out, nil
}

// fingerprint is what a group is configured from: its devices (with their
// places excluded, since a move changes no connection), their profiles and
// the broker settings. Equal fingerprints mean the group can keep running.
// It is the SHA-256 of their JSON: the JSON itself, kept for every group
// until the next reload, cost kilobytes per device.
func fingerprint(site *config.Site, devs []*config.Device, broker *config.MQTT) (string, error) {
	type dev struct {
		D config.Device
		P *config.Profile
	}
	var all []dev
	for _, d := range devs {
		c := *d
		c.At = ""
		all = append(all, dev{D: c, P: site.Profiles[d.Profile]})
	}
	// The report part names the MQTT presence topic (and the default
	// client id): a changed part needs a new broker session.
	part := ""
	if broker != nil {
		part = site.Report.Part
	}
	b, err := json.Marshal(struct {
		Devices  []dev
		Broker   *config.MQTT
		Hospital config.Hospital
		Part     string
	}{all, broker, site.Hospital, part})
	if err != nil {
		return "", fmt.Errorf("fingerprint: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// apply makes the running groups match the site: groups whose fingerprint
// changed or that are gone are stopped, new or changed ones started.
func (s *driverSet) apply(site *config.Site) error {
	groups, err := groupsOf(site, s.mqttOp, s.log)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups == nil {
		s.groups = map[string]*runningGroup{}
	}
	want := map[string]bool{}
	for _, g := range groups {
		want[g.key] = true
	}
	for k, rg := range s.groups {
		if !want[k] {
			s.stopLocked(k, rg)
		}
	}
	for _, g := range groups {
		if rg, ok := s.groups[g.key]; ok {
			if rg.fingerprint == g.fingerprint {
				continue
			}
			s.log.Info("restarting driver group after config change", "group", g.key)
			s.stopLocked(g.key, rg)
		}
		if err := s.startLocked(s.base, g); err != nil {
			return err
		}
	}
	return nil
}

func (s *driverSet) startLocked(ctx context.Context, g group) error {
	tr := &trackingRegisterer{reg: s.reg}
	var reg prometheus.Registerer
	if s.reg != nil {
		reg = tr
		if strings.HasPrefix(g.key, "modbus ") {
			// Every Modbus group registers the same metric names; the
			// endpoint label keeps their series apart.
			reg = prometheus.WrapRegistererWith(prometheus.Labels{"endpoint": strings.TrimPrefix(g.key, "modbus ")}, tr)
		}
	}
	drv, err := g.build(reg)
	if err != nil {
		tr.unregisterAll()
		return fmt.Errorf("driver %s: %w", g.key, err)
	}
	gctx, cancel := context.WithCancel(ctx)
	rg := &runningGroup{fingerprint: g.fingerprint, cancel: cancel, done: make(chan struct{}), metrics: tr}
	if m, ok := drv.(*mqtt.Driver); ok {
		rg.mqtt = m
	}
	s.groups[g.key] = rg
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(rg.done)
		if err := drv.Run(gctx, s.in); err != nil && gctx.Err() == nil {
			s.log.Error("driver stopped", "group", g.key, "err", err)
		}
	}()
	return nil
}

func (s *driverSet) stopLocked(key string, rg *runningGroup) {
	rg.cancel()
	<-rg.done
	rg.metrics.unregisterAll()
	delete(s.groups, key)
}

// mqttDriver returns the running MQTT driver, or nil.
func (s *driverSet) mqttDriver() *mqtt.Driver {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rg := s.groups["mqtt"]; rg != nil {
		return rg.mqtt
	}
	return nil
}

// stop stops every group and waits for them.
func (s *driverSet) stop() {
	s.mu.Lock()
	for k, rg := range s.groups {
		s.stopLocked(k, rg)
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// trackingRegisterer remembers what a driver registered, so that a
// restarted driver can register the same metrics again.
type trackingRegisterer struct {
	reg prometheus.Registerer
	mu  sync.Mutex
	cs  []prometheus.Collector
}

func (t *trackingRegisterer) Register(c prometheus.Collector) error {
	if err := t.reg.Register(c); err != nil {
		return err
	}
	t.mu.Lock()
	t.cs = append(t.cs, c)
	t.mu.Unlock()
	return nil
}

func (t *trackingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := t.Register(c); err != nil {
			panic(err)
		}
	}
}

func (t *trackingRegisterer) Unregister(c prometheus.Collector) bool { return t.reg.Unregister(c) }

func (t *trackingRegisterer) unregisterAll() {
	if t == nil || t.reg == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.cs {
		t.reg.Unregister(c)
	}
	t.cs = nil
}
