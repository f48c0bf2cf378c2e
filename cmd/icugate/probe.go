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

// runProbe reads one device once:
//
//	icugate probe -c SITE.yaml -device ID [-orders]
//	icugate probe -address HOST:PORT -unit N -profile FILE [-rtu-over-tcp] [-orders]
//
// It prints every value with its raw registers in hex, the decoded value,
// its unit and whether it is in its plausible range, then the serial and
// the state the profile's rules derive. Exit status 0 only if the read
// worked.
func runProbe(args []string) int {
	return probe(args, os.Stdout, os.Stderr)
}

func probe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	site := fs.String("c", "", "site config file (with -device)")
	devID := fs.String("device", "", "device id in the site config")
	addr := fs.String("address", "", "host:port of the device or converter (without -c)")
	unit := fs.Int("unit", 1, "Modbus unit id (without -c)")
	profFile := fs.String("profile", "", "profile file (without -c)")
	rtuOverTCP := fs.Bool("rtu-over-tcp", false, "RTU framing over raw TCP (serial converter), with -address")
	timeout := fs.Duration("timeout", 0, "answer timeout (default: the device's, else 1s)")
	orders := fs.Bool("orders", false, "show 32- and 64-bit values under all four word/byte orders")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	dev, prof, err := probeTarget(*site, *devID, *addr, *unit, *profFile, *rtuOverTCP)
	if err != nil {
		fmt.Fprintln(stderr, "icugate probe:", err)
		return 2
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

// probeTarget resolves the device and profile from a site or from flags.
func probeTarget(site, devID, addr string, unit int, profFile string, rtu bool) (*config.Device, *config.Profile, error) {
	if site != "" {
		if devID == "" {
			return nil, nil, fmt.Errorf("-c needs -device ID")
		}
		s, err := config.Load(site)
		if err != nil {
			return nil, nil, err
		}
		for i := range s.Devices {
			d := &s.Devices[i]
			if d.ID != devID {
				continue
			}
			if d.Modbus == nil {
				return nil, nil, fmt.Errorf("device %s is not a modbus device (%s)", devID, d.Transport())
			}
			return d, s.Profiles[d.Profile], nil
		}
		return nil, nil, fmt.Errorf("device %s not in %s", devID, site)
	}
	if addr == "" || profFile == "" {
		return nil, nil, fmt.Errorf("give -c SITE -device ID, or -address HOST:PORT -unit N -profile FILE")
	}
	if unit < 0 || unit > 255 {
		return nil, nil, fmt.Errorf("-unit %d outside 0..255", unit)
	}
	prof, err := config.LoadProfile(profFile)
	if err != nil {
		return nil, nil, err
	}
	m := &config.ModbusDevice{Address: addr, UnitID: unit}
	if rtu {
		m = &config.ModbusDevice{RTUOverTCP: addr, UnitID: unit}
	}
	return &config.Device{ID: addr, Kind: prof.Kind, Profile: prof.Name, Modbus: m}, prof, nil
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
	if prof.Serial != "" {
		switch {
		case dev.Serial == "":
			fmt.Fprintf(w, "serial: %q\n", r.Serial)
		case dev.Serial == r.Serial:
			fmt.Fprintf(w, "serial: %q (matches the site config)\n", r.Serial)
		default:
			fmt.Fprintf(w, "serial: %q MISMATCH: the site config expects %q; the gateway will not trust this device\n", r.Serial, dev.Serial)
		}
	}
	if !allIn {
		fmt.Fprintln(w, "state: none: a value is outside its plausible range, so the gateway records this poll as an error")
		return
	}
	c, err := prof.Rules.Derive(r.Samples)
	if err != nil {
		fmt.Fprintln(w, "state: rules failed:", err)
		return
	}
	state := "standby"
	switch {
	case c.Fault:
		state = "fault"
	case c.Maintenance:
		state = "maintenance"
	case c.InUse:
		state = "in_use"
	}
	fmt.Fprintf(w, "state: %s (fault=%v maintenance=%v in_use=%v)\n", state, c.Fault, c.Maintenance, c.InUse)
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
