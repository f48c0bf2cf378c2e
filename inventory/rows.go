package inventory

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/icugate/icugate/config"
)

// idPattern is config's rule for device ids (validate_site.go): ids
// travel in MQTT topics, URLs and InfluxDB tags. Checked here to report it
// at its cell; the site check that follows applies config's own.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// excelNumber is how Excel shows a long number in a cell formatted as a
// number: a serial or asset number rewritten, its digits lost.
var excelNumber = regexp.MustCompile(`^\d(\.\d+)?[eE]\+\d+$`)

// converter turns rows into devices, checking each and every one.
type converter struct {
	m    *Mapping
	vals valueMaps
	x    *siteIndex
	cols columns
	ps   *problems
	// first row of each asset id, serial, Modbus slave and topic
	ids, serials, slaves, topics map[string]int
	// others' serials, slaves and topics -> device id
	otherSerials, otherSlaves, otherTopics map[string]string

	devices []config.Device
	rows    []int // row of each device
	skipped map[string]int
	// unreadSerial counts rows whose serial the profile cannot read
	// (kept for duplicate checks only), per profile.
	unreadSerial map[string]int
	mqttRow      int // first MQTT row, when the site has no broker
}

func newConverter(m *Mapping, x *siteIndex, cols columns, ps *problems) *converter {
	c := &converter{
		m: m, vals: m.valueMaps(x.kinds), x: x, cols: cols, ps: ps,
		ids: map[string]int{}, serials: map[string]int{}, slaves: map[string]int{}, topics: map[string]int{},
		otherSerials: map[string]string{}, otherSlaves: map[string]string{}, otherTopics: map[string]string{},
		skipped: map[string]int{}, unreadSerial: map[string]int{},
	}
	for _, d := range x.others {
		if d.Serial != "" {
			c.otherSerials[d.Serial] = d.ID
		}
		if d.Modbus != nil {
			c.otherSlaves[slaveKey(d.Transport(), d.Modbus.Endpoint(), d.Modbus.UnitID)] = d.ID
		}
		if d.MQTT != nil && d.MQTT.Topic != "" {
			c.otherTopics[d.MQTT.Topic] = d.ID
		}
	}
	return c
}

func slaveKey(transport, endpoint string, unit int) string {
	return transport + " " + endpoint + " " + strconv.Itoa(unit)
}

// convert checks one row and, when it is good, adds its device. Every
// cell is checked, so that a row with three mistakes shows three problems.
func (c *converter) convert(r Row) {
	get := func(f string) (string, string) { return c.cols.cell(c.m, r, f) }
	// Rows of devices the hospital no longer uses, or of kinds the
	// gateway does not read, are skipped before anything else is checked.
	if st, _ := get(FieldStatus); c.vals.skip[normValue(st)] {
		c.skipped["status "+st]++
		return
	}
	kindVal, kindCol := get(FieldKind)
	kind := c.vals.kinds[normValue(kindVal)]
	if kindVal != "" && kind == "skip" {
		c.skipped["kind "+kindVal]++
		return
	}
	bad := len(c.ps.list)
	d := config.Device{ID: c.assetID(r, get)}
	if kindVal != "" && kind == "" {
		c.ps.add(r.Num, kindCol, "unknown kind %q: the site's profiles have kinds %s; map it under kinds: in the mapping file (or to skip)", kindVal, c.x.kindHint)
	}
	d.Profile = c.profile(r, get)
	p := c.x.profiles[d.Profile]
	switch {
	case p != nil && kind != "" && p.Kind != kind:
		c.ps.add(r.Num, kindCol, "kind %s, but profile %s describes a %s", kind, d.Profile, p.Kind)
	case p != nil:
		kind = p.Kind
	}
	d.Kind = kind
	d.At = c.location(r, get)
	d.Serial = c.serial(r, get, p, d.Profile)
	if v, col := get(FieldPMDue); v != "" {
		if date, ok := parseDate(v); ok {
			d.PMDue = date
		} else {
			c.ps.add(r.Num, col, "pm_due %q: want a date such as 2027-03-31 (or 2027/3/31, 2027年3月31日)", v)
		}
	}
	c.transport(r, get, &d, p)
	c.settings(r, get, &d)
	if len(c.ps.list) == bad {
		c.devices = append(c.devices, d)
		c.rows = append(c.rows, r.Num)
	}
}

// assetID checks the asset id, which becomes the device id.
func (c *converter) assetID(r Row, get func(string) (string, string)) string {
	id, col := get(FieldAssetID)
	switch {
	case id == "":
		c.ps.add(r.Num, col, "no asset id: every device needs one (it becomes the device id)")
	case excelNumber.MatchString(id):
		c.ps.add(r.Num, col, "%q is a number Excel rewrote: format the column as text in Excel and export again", id)
	case !idPattern.MatchString(id):
		c.ps.add(r.Num, col, "asset id %q cannot be a device id: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", id)
	case c.ids[id] != 0:
		c.ps.add(r.Num, col, "asset id %s: duplicate of row %d", id, c.ids[id])
	case c.x.otherIn[id] != "":
		c.ps.add(r.Num, col, "asset id %s is already a device in %s: remove it there, or from the export", id, c.x.otherIn[id])
	default:
		c.ids[id] = r.Num
	}
	return id
}

// location maps the row's location to a bed or pool of the site.
func (c *converter) location(r Row, get func(string) (string, string)) string {
	loc, col := get(FieldLocation)
	at := c.m.location(loc)
	switch {
	case loc == "":
		c.ps.add(r.Num, col, "no location: name the bed or pool the device is at")
	case c.x.places[at] == "" && at != loc:
		c.ps.add(r.Num, col, "location %q maps to %q, which is neither a bed nor a pool of %s", loc, at, c.x.site.File)
	case c.x.places[at] == "":
		c.ps.add(r.Num, col, "bed or pool %q does not exist in %s (it has %s); map CMMS locations under locations: in the mapping file", loc, c.x.site.File, c.x.placeHint)
	default:
		return at
	}
	return ""
}

// serial checks the serial for duplicates and returns what the device
// gets: the serial, or "" when its profile reads none. The gateway checks
// a serial against what the device reports; with a profile that reads
// none it could not, and the site check refuses such a serial.
func (c *converter) serial(r Row, get func(string) (string, string), p *config.Profile, prof string) string {
	serial, col := get(FieldSerial)
	switch {
	case serial == "":
	case excelNumber.MatchString(serial):
		c.ps.add(r.Num, col, "%q is a number Excel rewrote: format the column as text in Excel and export again", serial)
	case c.serials[serial] != 0:
		c.ps.add(r.Num, col, "serial %s: duplicate of row %d", serial, c.serials[serial])
	case c.otherSerials[serial] != "":
		o := c.otherSerials[serial]
		c.ps.add(r.Num, col, "serial %s is already device %s's (in %s)", serial, o, c.x.otherIn[o])
	default:
		c.serials[serial] = r.Num
		if p != nil && p.Serial == "" {
			c.unreadSerial[prof]++
			return ""
		}
		return serial
	}
	return ""
}

// profile finds the row's profile: its profile cell, else its vendor and
// model through the mapping's rules, else through the profiles' own.
func (c *converter) profile(r Row, get func(string) (string, string)) string {
	if v, col := get(FieldProfile); v != "" {
		if _, ok := c.x.profiles[v]; !ok {
			c.ps.add(r.Num, col, "unknown profile %q: %s has %s", v, c.x.site.ProfilesDir, c.x.profileHint)
		}
		return v
	}
	vendor, vCol := get(FieldVendor)
	model, mCol := get(FieldModel)
	if vendor == "" || model == "" {
		col := vCol
		if vendor != "" {
			col = mCol
		}
		c.ps.add(r.Num, col, "no profile, and no vendor and model to find one by: fill in the profile, or vendor and model")
		return ""
	}
	for _, rule := range c.m.rules() {
		if normHeader(rule.Vendor) == normHeader(vendor) && (rule.Model == "*" || modelKey(rule.Vendor, rule.Model) == modelKey(vendor, model)) {
			if _, ok := c.x.profiles[rule.Profile]; !ok {
				c.ps.add(r.Num, mCol, "vendor %s model %s maps to profile %q, which %s does not have (it has %s)", vendor, model, rule.Profile, c.x.site.ProfilesDir, c.x.profileHint)
			}
			return rule.Profile
		}
	}
	switch names := c.x.byModel[modelKey(vendor, model)]; len(names) {
	case 1:
		return names[0]
	case 0:
		c.ps.add(r.Num, mCol, "no profile for vendor %q model %q: map them under profiles: in the mapping file (profiles: %s)", vendor, model, c.x.profileHint)
	default:
		c.ps.add(r.Num, mCol, "vendor %q model %q fits profiles %s: name one in the profile column or under profiles: in the mapping file", vendor, model, strings.Join(sortedStrings(names), " and "))
	}
	return ""
}

func (m *Mapping) rules() []ProfileRule {
	if m == nil {
		return nil
	}
	return m.Profiles
}

func itoa(n int) string { return strconv.Itoa(n) }
