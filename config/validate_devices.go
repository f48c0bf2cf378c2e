package config

import (
	"slices"
	"strings"
)

// endpointKey identifies one Modbus slave: the shared connection and the
// unit id on it.
type endpointKey struct {
	endpoint string
	unitID   int
}

func (l *loader) validateDevices() {
	s, d := l.site, l.d
	places := map[string]bool{}
	for _, u := range s.Units {
		for _, b := range u.Beds {
			places[b] = true
		}
	}
	for _, p := range s.Pools {
		places[p.ID] = true
	}
	ids := map[string]int{}
	slaves := map[endpointKey]int{}
	endpoints := map[string]int{} // endpoint -> first device on it
	topics := map[string]int{}
	mqttWithoutBroker := false
	for i := range s.Devices {
		dev := &s.Devices[i]
		if _, ok := dev.PMDueDate(); dev.PMDue != "" && !ok {
			l.at(d.line("devices", i, "pm_due"), "device %s: pm_due %q: want a date such as 2027-03-31", dev.ID, dev.PMDue)
		}
		switch {
		case dev.ID == "":
			l.at(d.line("devices", i), "device %d has no id", i+1)
		case !idPattern.MatchString(dev.ID):
			l.at(d.line("devices", i, "id"), "invalid device id %q: %s", dev.ID, idRule)
		default:
			if j, dup := ids[dev.ID]; dup {
				l.at(d.line("devices", i, "id"), "duplicate device id %q (first at line %d)", dev.ID, d.line("devices", j, "id"))
			} else {
				ids[dev.ID] = i
			}
		}
		switch {
		case dev.At == "":
			l.at(d.line("devices", i), "device %s has no at: name the bed or pool it is at", dev.ID)
		case !places[dev.At]:
			l.at(d.line("devices", i, "at"), "device %s: at %q is neither a bed nor a pool", dev.ID, dev.At)
		}
		l.nonNegative(dev.Freshness, "devices", i, "freshness")
		if dev.Failures < 0 {
			l.at(d.line("devices", i, "failures"), "device %s: failures must not be negative", dev.ID)
		}
		l.checkDeviceProfile(i)
		switch {
		case dev.Modbus == nil && dev.MQTT == nil:
			l.at(d.line("devices", i), "device %s has no transport: give exactly one of modbus or mqtt", dev.ID)
		case dev.Modbus != nil && dev.MQTT != nil:
			l.at(d.line("devices", i, "mqtt"), "device %s has both modbus and mqtt: give exactly one", dev.ID)
		case dev.Modbus != nil:
			l.checkModbus(i, slaves, endpoints)
		default:
			l.checkMQTT(i, topics)
			if s.MQTT == nil && !mqttWithoutBroker {
				mqttWithoutBroker = true
				l.at(d.line("devices", i, "mqtt"), "device %s uses mqtt but the site has no mqtt: broker block", dev.ID)
			}
		}
	}
}

// checkDeviceProfile checks the device against its profile: presence,
// kind, transport and serial.
func (l *loader) checkDeviceProfile(i int) {
	dev, d := &l.site.Devices[i], l.d
	if dev.Profile == "" {
		l.at(d.line("devices", i), "device %s has no profile", dev.ID)
		return
	}
	p := l.site.Profiles[dev.Profile]
	if p == nil {
		return // missing or unreadable: already reported
	}
	if dev.Kind != p.Kind && p.Kind != "" {
		l.at(d.line("devices", i, "kind"), "device %s is a %s but profile %s (%s) describes a %s", dev.ID, dev.Kind, dev.Profile, p.File, p.Kind)
	}
	want := "modbus"
	if dev.MQTT != nil {
		want = "mqtt"
	}
	if (dev.MQTT == nil) != (dev.Modbus == nil) && p.Transport() != want {
		l.at(d.line("devices", i, want), "device %s has a %s block but profile %s reads %s values", dev.ID, want, dev.Profile, p.Transport())
	}
	if dev.Serial != "" && p.Serial == "" {
		l.at(d.line("devices", i, "serial"), "device %s: serial is set but profile %s reads no serial to check it against", dev.ID, dev.Profile)
	}
}

func (l *loader) checkModbus(i int, slaves map[endpointKey]int, endpoints map[string]int) {
	s, d := l.site, l.d
	dev := &s.Devices[i]
	m := dev.Modbus
	p := func(k ...any) int { return d.line(append([]any{"devices", i, "modbus"}, k...)...) }
	n := 0
	if m.Address != "" {
		n++
		if err := checkHostPort(m.Address); err != nil {
			l.at(p("address"), "device %s: modbus address %q: %v", dev.ID, m.Address, err)
		}
	}
	if m.RTUOverTCP != "" {
		n++
		if err := checkHostPort(m.RTUOverTCP); err != nil {
			l.at(p("rtu_over_tcp"), "device %s: rtu_over_tcp %q: %v", dev.ID, m.RTUOverTCP, err)
		}
	}
	if m.RTU != nil {
		n++
		l.checkRTU(i)
	}
	if n != 1 {
		l.at(p(), "device %s: modbus needs exactly one of address, rtu or rtu_over_tcp (got %d)", dev.ID, n)
		return
	}
	if m.UnitID < 0 || m.UnitID > 247 {
		l.at(p("unit_id"), "device %s: unit_id %d outside 0..247", dev.ID, m.UnitID)
	}
	l.nonNegative(&m.Interval, "devices", i, "modbus", "interval")
	l.nonNegative(&m.Timeout, "devices", i, "modbus", "timeout")
	if m.MaxConns < 0 {
		l.at(p("max_conns"), "device %s: max_conns must not be negative", dev.ID)
	}
	key := endpointKey{dev.Transport() + " " + m.Endpoint(), m.UnitID}
	if j, dup := slaves[key]; dup {
		l.at(p(), "device %s: %s unit_id %d is already device %s (line %d): give each device on a shared address its own unit_id",
			dev.ID, m.Endpoint(), m.UnitID, s.Devices[j].ID, d.line("devices", j))
	} else {
		slaves[key] = i
	}
	// Devices on one endpoint share its connection, so they must agree on
	// how it is made.
	if j, ok := endpoints[m.Endpoint()]; ok {
		o := &s.Devices[j]
		switch {
		case o.Transport() != dev.Transport():
			l.at(p(), "device %s: %s is used as %s here but as %s by device %s", dev.ID, m.Endpoint(), dev.Transport(), o.Transport(), o.ID)
		case o.Modbus.MaxConns != m.MaxConns:
			l.at(p(), "device %s: max_conns %d differs from device %s (%d) on the same endpoint %s", dev.ID, m.MaxConns, o.ID, o.Modbus.MaxConns, m.Endpoint())
		case m.RTU != nil && *m.RTU != *o.Modbus.RTU:
			l.at(p("rtu"), "device %s: serial settings differ from device %s on the same line %s", dev.ID, o.ID, m.Endpoint())
		}
	} else {
		endpoints[m.Endpoint()] = i
	}
}

func (l *loader) checkRTU(i int) {
	dev, d := &l.site.Devices[i], l.d
	r := dev.Modbus.RTU
	p := func(k string) int { return d.line("devices", i, "modbus", "rtu", k) }
	if r.Device == "" {
		l.at(p("device"), "device %s: rtu.device is required (e.g. /dev/ttyUSB0)", dev.ID)
	}
	if r.Baud <= 0 {
		l.at(p("baud"), "device %s: rtu.baud must be positive", dev.ID)
	}
	if r.DataBits < 5 || r.DataBits > 8 {
		l.at(p("data_bits"), "device %s: rtu.data_bits %d outside 5..8", dev.ID, r.DataBits)
	}
	if !slices.Contains([]string{"N", "E", "O"}, r.Parity) {
		l.at(p("parity"), "device %s: rtu.parity %q: want N, E or O", dev.ID, r.Parity)
	}
	if r.StopBits != 1 && r.StopBits != 2 {
		l.at(p("stop_bits"), "device %s: rtu.stop_bits %d: want 1 or 2", dev.ID, r.StopBits)
	}
}

func (l *loader) checkMQTT(i int, topics map[string]int) {
	s, d := l.site, l.d
	dev := &s.Devices[i]
	m := dev.MQTT
	line := d.line("devices", i, "mqtt")
	l.nonNegative(&m.Interval, "devices", i, "mqtt", "interval")
	switch {
	case m.Topic == "":
		if s.Profiles[dev.Profile] != nil {
			l.at(line, "device %s: mqtt topic is required (profile %s has no topic pattern)", dev.ID, dev.Profile)
		}
		return
	case strings.ContainsAny(m.Topic, "+#"):
		l.at(d.line("devices", i, "mqtt", "topic"), "device %s: topic %q must not contain MQTT wildcards", dev.ID, m.Topic)
	}
	if j, dup := topics[m.Topic]; dup {
		l.at(line, "device %s: topic %q is already device %s's (line %d)", dev.ID, m.Topic, s.Devices[j].ID, d.line("devices", j))
	} else {
		topics[m.Topic] = i
	}
}

// validateKinds checks that every kind a unit names exists, and that each
// unit's beds can be equipped at all by the devices of the site.
func (l *loader) validateKinds() {
	s, d := l.site, l.d
	known := map[string]bool{}
	for _, p := range s.Profiles {
		known[p.Kind] = true
	}
	have := map[string]int{}
	// A device whose profile is missing or broken has no kind (unless it
	// gives one); it could be any kind, and its profile is already
	// reported, so a shortfall it could make up is not reported as well.
	unknown := 0
	for _, dev := range s.Devices {
		if dev.Kind == "" {
			unknown++
			continue
		}
		have[dev.Kind]++
	}
	for i, u := range s.Units {
		for j, k := range u.Occupancy {
			if !known[k] {
				l.at(d.line("units", i, "occupancy", j), "unit %s: occupancy names kind %q that no profile of this site has", u.ID, k)
			}
		}
		for j, k := range u.Requires {
			if !known[k] && have[k] == 0 && unknown == 0 {
				l.at(d.line("units", i, "requires", j), "unit %s: its beds can never be equipped: requires kind %q that no device or profile of this site has", u.ID, k)
			}
		}
		if len(u.Beds) == 0 {
			continue
		}
		need := map[string]int{}
		for _, k := range u.RequiredKinds() {
			need[k]++
		}
		for _, k := range sortedKeys(need) {
			if have[k]+unknown >= need[k] || (len(u.Requires) > 0 && !known[k] && have[k] == 0) {
				continue // enough devices (maybe), or already reported above
			}
			l.at(d.line("units", i), "unit %s: its beds can never be equipped: each needs %s, and the site has %s",
				u.ID, count(need[k], k), count(have[k], k))
		}
	}
}

func count(n int, kind string) string {
	if n == 0 {
		return "no " + kind
	}
	return plural(n, kind)
}
