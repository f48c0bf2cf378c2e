package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/drivers/modbus"
	"github.com/icugate/icugate/rules"
)

// runProbe looks at one device once, for commissioning:
//
//	icugate probe -c SITE.yaml -device ID [-orders] [-timeout D]   (Modbus device)
//	icugate probe -c SITE.yaml -device ID [-wait D]                (MQTT device)
//	icugate probe -address HOST:PORT -unit N -profile FILE [-rtu-over-tcp] [-orders]
//
// A Modbus device is read once: every value with its raw registers in
// hex, the decoded value, its unit and whether it is in its plausible
// range, then the serial and the state the profile's rules derive. An
// MQTT device is waited for: the probe subscribes to its topic on the
// site's broker and shows its next message the same way (see
// probe_mqtt.go). Exit status 0 only if the read worked (Modbus) or a live
// message decoded and the gateway would take it (MQTT); 1 for a problem
// with the device or the broker; 2 for a usage or configuration error.
func runProbe(args []string) int {
	return probe(args, os.Stdout, os.Stderr)
}

// probeUsage heads the flag list of icugate probe -h.
const probeUsage = `usage: icugate probe -c SITE.yaml -device ID [flags]
       icugate probe -address HOST:PORT -unit N -profile FILE [flags]   (Modbus only)

Modbus devices are read once. MQTT devices are waited for: the probe
subscribes to the device's topic with its own client id and a clean
session (the running gateway is not disturbed) and shows the next message,
decoded as the gateway decodes it. A retained message is shown, marked as
such, and the wait goes on for a live one.

Exit status: 0 the read worked (Modbus) or a live message decoded and the
gateway would take it (MQTT); 1 a problem with the device or the broker;
2 a usage or configuration error.

flags:
`

// modbusOnlyFlags are the flags that make no sense for an MQTT device.
var modbusOnlyFlags = []string{"address", "unit", "profile", "rtu-over-tcp", "timeout", "orders"}

// flagsFit says which flag given (set) does not fit the device's transport.
func flagsFit(set map[string]bool, dev *config.Device) error {
	if dev.MQTT != nil {
		for _, name := range modbusOnlyFlags {
			if set[name] {
				return fmt.Errorf("-%s is for Modbus devices; device %s is an MQTT device (bound the wait for its next message with -wait)", name, dev.ID)
			}
		}
		return nil
	}
	if set["wait"] {
		return fmt.Errorf("-wait is for MQTT devices; %s is a Modbus device (%s): bound its answer with -timeout", dev.ID, dev.Transport())
	}
	return nil
}

func probe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	site := fs.String("c", "", "site config file (with -device)")
	devID := fs.String("device", "", "device id in the site config")
	addr := fs.String("address", "", "Modbus: host:port of the device or converter (without -c)")
	unit := fs.Int("unit", 1, "Modbus unit id (without -c)")
	profFile := fs.String("profile", "", "Modbus: profile file (without -c)")
	rtuOverTCP := fs.Bool("rtu-over-tcp", false, "Modbus: RTU framing over raw TCP (serial converter), with -address")
	timeout := fs.Duration("timeout", 0, "Modbus: answer timeout (default: the device's, else 1s)")
	orders := fs.Bool("orders", false, "Modbus: show 32- and 64-bit values under all four word/byte orders")
	wait := fs.Duration("wait", 0, "MQTT: how long to wait for the device's next message (default 3 heartbeat intervals, at least 10s)")
	fs.Usage = func() {
		fmt.Fprint(stderr, probeUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *wait < 0 {
		fmt.Fprintln(stderr, "icugate probe: -wait must not be negative")
		return 2
	}
	s, dev, prof, err := probeTarget(*site, *devID, *addr, *unit, *profFile, *rtuOverTCP)
	if err == nil {
		err = flagsFit(set, dev)
	}
	if err != nil {
		fmt.Fprintln(stderr, "icugate probe:", err)
		return 2
	}
	if dev.MQTT != nil {
		return probeMQTT(s, dev, *wait, stdout, stderr)
	}
	if *timeout > 0 {
		dev.Modbus.Timeout = *timeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := modbus.ReadOnce(ctx, dev, prof)
	if err != nil {
		fmt.Fprintf(stderr, "icugate probe: %v (%s)\n", err, modbus.Reason(err))
		return 1
	}
	printReading(stdout, dev, prof, r, *orders)
	return 0
}

// probeTarget resolves the device and profile from a site (returned too)
// or, for a Modbus device, from flags (site nil).
func probeTarget(site, devID, addr string, unit int, profFile string, rtu bool) (*config.Site, *config.Device, *config.Profile, error) {
	if site != "" {
		if devID == "" {
			return nil, nil, nil, fmt.Errorf("-c needs -device ID")
		}
		s, err := config.Load(site)
		if err != nil {
			return nil, nil, nil, err
		}
		for i := range s.Devices {
			d := &s.Devices[i]
			if d.ID != devID {
				continue
			}
			if d.Modbus == nil && d.MQTT == nil {
				return nil, nil, nil, fmt.Errorf("device %s has no transport (modbus or mqtt)", devID)
			}
			return s, d, s.Profiles[d.Profile], nil
		}
		return nil, nil, nil, fmt.Errorf("device %s not in %s", devID, site)
	}
	if addr == "" || profFile == "" {
		return nil, nil, nil, fmt.Errorf("give -c SITE -device ID, or -address HOST:PORT -unit N -profile FILE")
	}
	if unit < 0 || unit > 255 {
		return nil, nil, nil, fmt.Errorf("-unit %d outside 0..255", unit)
	}
	prof, err := config.LoadProfile(profFile)
	if err != nil {
		return nil, nil, nil, err
	}
	if prof.Transport() != "modbus" {
		return nil, nil, nil, fmt.Errorf("profile %s is an MQTT profile: -address probes Modbus devices; probe an MQTT device with -c SITE -device ID", prof.Name)
	}
	m := &config.ModbusDevice{Address: addr, UnitID: unit}
	if rtu {
		m = &config.ModbusDevice{RTUOverTCP: addr, UnitID: unit}
	}
	return nil, &config.Device{ID: addr, Kind: prof.Kind, Profile: prof.Name, Modbus: m}, prof, nil
}

func printReading(w io.Writer, dev *config.Device, prof *config.Profile, r modbus.Reading, orders bool) {
	fmt.Fprintf(w, "device %s  %s %s unit %d  profile %s  %d requests\n\n",
		dev.ID, dev.Transport(), dev.Modbus.Endpoint(), dev.Modbus.UnitID, prof.Name, len(r.Requests))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VALUE\tTABLE:ADDR\tTYPE\tRAW\tDECODED\tUNIT\tRANGE")
	allIn := true
	for i, v := range r.Values {
		rng := "-"
		if pv := &prof.Values[i]; len(pv.Range) == 2 {
			rng = fmt.Sprintf("ok [%g,%g]", pv.Range[0], pv.Range[1])
			if !v.InRange {
				rng = fmt.Sprintf("OUTSIDE [%g,%g]: check byte/word order", pv.Range[0], pv.Range[1])
				allIn = false
			}
		}
		fmt.Fprintf(tw, "%s\t%s:%d\t%s\t%s\t%s\t%s\t%s\n", v.Name, v.Table, v.Address, typeOf(&prof.Values[i]),
			hexRegs(v.Raw), sampleString(&prof.Values[i], v.Sample), v.Unit, rng)
		if orders && len(v.Raw) >= 2 && len(v.Raw) <= 4 && prof.Values[i].Type != config.TypeString {
			for _, o := range []string{config.OrderABCD, config.OrderCDAB, config.OrderBADC, config.OrderDCBA} {
				s, err := modbus.DecodeAs(&prof.Values[i], v.Raw, o)
				if err != nil {
					continue
				}
				fmt.Fprintf(tw, "  as %s\t\t\t\t%s\t\t\n", o, sampleString(&prof.Values[i], s))
			}
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	for i, v := range r.Values {
		if warn := orderWarning(&prof.Values[i], v.Raw, v.Sample, v.InRange); warn != "" {
			fmt.Fprintf(w, "WARNING: %s = %s %s\n", v.Name, sampleString(&prof.Values[i], v.Sample), warn)
		}
	}
	printSerial(w, dev, prof, r.Serial)
	if !allIn {
		fmt.Fprintln(w, "state: none: a value is outside its plausible range, so the gateway records this poll as an error")
		return
	}
	printState(w, dev, prof, r.Samples, r.Serial)
}

// printSerial says whether the serial the device reported is the one the
// site expects; nothing when the profile reads no serial.
func printSerial(w io.Writer, dev *config.Device, prof *config.Profile, got string) {
	if prof.Serial == "" {
		return
	}
	switch {
	case dev.Serial == "":
		fmt.Fprintf(w, "serial: %q\n", got)
	case dev.Serial == got:
		fmt.Fprintf(w, "serial: %q (matches the site config)\n", got)
	case got == "" && prof.TrustEmptySerial:
		fmt.Fprintf(w, "serial: none reported; trusted all the same (profile %s: trust_empty_serial)\n", prof.Name)
	default:
		fmt.Fprintf(w, "serial: %q MISMATCH: the site config expects %q; the gateway will not trust this device\n", got, dev.Serial)
	}
}

// printState prints the state the profile's rules derive from samples and
// its cause, naming the values behind it as the gateway's transitions do;
// a device whose serial is not the configured one is in fault whatever
// the rules say.
func printState(w io.Writer, dev *config.Device, prof *config.Profile, samples []rules.Sample, serial string) {
	c, err := prof.Rules.Derive(samples)
	if err != nil {
		fmt.Fprintln(w, "state: rules failed:", err)
		return
	}
	cause := stateCause(prof.Rules, c, samples)
	if dev.Serial != "" && serial != dev.Serial && (serial != "" || !prof.TrustEmptySerial) {
		fmt.Fprintf(w, "state: fault (not trusted: serial %q, want %q); the rules alone give %s (%s)\n", serial, dev.Serial, c.State(), cause)
		return
	}
	fmt.Fprintf(w, "state: %s (%s)\n", c.State(), cause)
}

// stateCause says which rule decided c and the values it read, in the
// words of the gateway's device transitions.
func stateCause(set *rules.Set, c rules.Condition, samples []rules.Sample) string {
	because := func(what string, r rules.Rule) string {
		if why := set.Explain(r, samples); why != "" {
			return what + ": " + why
		}
		return what
	}
	switch {
	case c.Fault:
		return because("fault rule true", rules.FaultRule)
	case c.Maintenance:
		return because("maintenance rule true (device reports service mode)", rules.MaintenanceRule)
	case c.InUse:
		return because("in_use rule true", rules.InUseRule)
	}
	if _, _, inUse := set.HasRule(); !inUse {
		return "no in_use rule in the profile"
	}
	return because("in_use rule false", rules.InUseRule)
}

// implausible reports whether a decoded number looks like the wrong byte
// or word order rather than a measurement: NaN or infinite, or a float so
// close to zero (but not zero) or so large that no device reports it —
// the 2.78e-17 hours of a float read in the wrong order, which a range
// check starting at 0 lets through.
func implausible(v *config.Value, x float64) bool {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return true
	}
	if v.Type != config.TypeFloat32 && v.Type != config.TypeFloat64 {
		return false
	}
	a := math.Abs(x)
	return x != 0 && (a < 1e-6 || a > 1e15)
}

// orderWarning says, for a multi-register value that is implausible or
// outside its range under its configured order, which other orders give a
// plausible value in range; "" when the value looks right.
func orderWarning(v *config.Value, raw []uint16, s rules.Sample, inRange bool) string {
	if len(raw) < 2 || len(raw) > 4 || v.Type == config.TypeString {
		return ""
	}
	if inRange && !implausible(v, s.Num) {
		return ""
	}
	order := v.Order
	if order == "" {
		order = config.OrderABCD
	}
	var better []string
	for _, o := range []string{config.OrderABCD, config.OrderCDAB, config.OrderBADC, config.OrderDCBA} {
		if o == order {
			continue
		}
		alt, err := modbus.DecodeAs(v, raw, o)
		if err != nil || implausible(v, alt.Num) || (len(v.Range) == 2 && (alt.Num < v.Range[0] || alt.Num > v.Range[1])) {
			continue
		}
		better = append(better, fmt.Sprintf("%s gives %s", o, sampleString(v, alt)))
	}
	what := "looks implausible"
	if !inRange {
		what = "is outside its range"
	}
	if len(better) == 0 {
		return fmt.Sprintf("%s under order %s, and no other order gives a plausible value: check the address and type", what, order)
	}
	return fmt.Sprintf("%s under order %s; %s: set order: in the profile", what, order, strings.Join(better, "; "))
}

func typeOf(v *config.Value) string {
	t := v.Type
	if t == "" {
		t = "uint16"
		if v.Table == config.TableCoil || v.Table == config.TableDiscrete {
			t = "bool"
		}
	}
	if v.Order != "" && v.Registers() > 1 && t != config.TypeString {
		t += " " + v.Order
	}
	if v.Bit != nil {
		t += " bit " + strconv.Itoa(*v.Bit)
	}
	return t
}

func hexRegs(raw []uint16) string {
	parts := make([]string, len(raw))
	for i, r := range raw {
		parts[i] = fmt.Sprintf("%04X", r)
	}
	return strings.Join(parts, " ")
}

func sampleString(v *config.Value, s rules.Sample) string {
	if v.Type == config.TypeString {
		return strconv.Quote(s.Str)
	}
	return strconv.FormatFloat(s.Num, 'g', 10, 64)
}
