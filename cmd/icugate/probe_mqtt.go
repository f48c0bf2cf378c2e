package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/drivers/mqtt"
	"github.com/icugate/icugate/rules"
)

// maxShownPayload is how much of a payload the probe prints: status
// messages are a few hundred bytes, and a runaway one must not flood the
// terminal.
const maxShownPayload = 4096

// aheadTolerance is how far a device clock may run ahead before the probe
// warns: clocks synchronised by NTP agree far better, and the gateway
// stamps a message from a clock that is ahead with its own receipt time.
const aheadTolerance = 2 * time.Second

// probeMQTT waits for the next message of an MQTT device and shows it.
// A retained message the broker replays on subscribe is shown as such
// and the wait goes on: only a live message shows that the device
// publishes now. Exit status 0 when a live message decoded and the gateway
// would take it; 1 for no message, a broker problem, or a message the
// gateway would drop; 2 when the site's MQTT settings cannot be used.
func probeMQTT(site *config.Site, dev *config.Device, wait time.Duration, stdout, stderr io.Writer) int {
	var p *mqtt.Probe
	p, err := mqtt.NewProbe(site, dev.ID, mqtt.ProbeOptions{
		Wait: wait,
		OnRetained: func(m mqtt.ProbeMessage) {
			fmt.Fprintln(stdout, "RETAINED message: kept by the broker and replayed to every new subscriber; it was")
			fmt.Fprintln(stdout, "published at some earlier time, possibly long ago, so it is not proof that the device")
			fmt.Fprintf(stdout, "publishes now. Still waiting for a live message.\n")
			printMQTTMessage(stdout, p, m)
			fmt.Fprintln(stdout)
		},
	})
	if err != nil {
		fmt.Fprintln(stderr, "icugate probe:", err)
		return 2
	}
	prof := p.Profile()
	fmt.Fprintf(stdout, "device %s  mqtt %s  topic %s  profile %s\n", dev.ID, p.Broker(), p.Topic(), prof.Name)
	fmt.Fprintf(stdout, "client id %s (clean session; the running gateway keeps its own)\n", p.ClientID())
	fmt.Fprintf(stdout, "waiting up to %s for the next message\n\n", p.Wait())

	// The wait is bounded by the probe; this only stops a connection that
	// hangs past its own timeouts.
	ctx, cancel := context.WithTimeout(context.Background(), p.Wait()+time.Minute)
	defer cancel()
	m, err := p.Receive(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "icugate probe:", err)
		return 1
	}
	fmt.Fprintln(stdout, "LIVE message:")
	printMQTTMessage(stdout, p, m)
	if r := m.Rejection; r != nil {
		fmt.Fprintf(stderr, "icugate probe: device %s: the gateway would drop this message (%s)\n", dev.ID, r)
		return 1
	}
	return 0
}

// printMQTTMessage shows one message: where and when it arrived, its
// payload, every value, serial, timestamp, the gateway's verdict and the
// state the rules derive.
func printMQTTMessage(w io.Writer, p *mqtt.Probe, m mqtt.ProbeMessage) {
	dev, prof := p.Device(), p.Profile()
	fmt.Fprintf(w, "topic %s  arrived %s  %d bytes\n", m.Topic, m.Received.Format("2006-01-02T15:04:05.000Z07:00"), len(m.Payload))
	fmt.Fprintln(w, "payload:")
	fmt.Fprintln(w, shownPayload(m.Payload))
	if m.Values != nil {
		fmt.Fprintln(w)
		printMQTTValues(w, prof, m.Values)
		fmt.Fprintln(w)
	}
	if m.Decoded() {
		printSerial(w, dev, prof, m.Serial)
	}
	line, warn := deviceTimeLines(prof, m.DeviceTime, m.Received, m.Retained, dev.FreshnessWindow(), mqtt.DefaultMaxFutureSkew)
	fmt.Fprintln(w, line)
	if warn != "" {
		fmt.Fprintln(w, "WARNING:", warn)
	}
	if r := m.Rejection; r != nil {
		fmt.Fprintf(w, "gateway: would DROP this message: %s\n", r)
	} else {
		fmt.Fprintln(w, "gateway: would take this message")
	}
	if m.Decoded() {
		printState(w, dev, prof, m.Samples, m.Serial)
	} else {
		fmt.Fprintln(w, "state: none: the message does not decode")
	}
}

// printMQTTValues is the table of values: the JSON found at each path,
// the decoded value and its range check, or why it does not decode.
func printMQTTValues(w io.Writer, prof *config.Profile, values []mqtt.ProbeValue) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VALUE\tPATH\tTYPE\tJSON\tDECODED\tUNIT\tRANGE")
	for i, v := range values {
		pv := &prof.Values[i]
		typ := pv.Type
		if typ == "" {
			typ = "number"
		}
		rng := "-"
		if len(pv.Range) == 2 {
			rng = fmt.Sprintf("ok [%g,%g]", pv.Range[0], pv.Range[1])
		}
		decoded, jsonv := "", v.JSON
		switch {
		case v.Skipped:
			decoded, jsonv, rng = "(clinical: not collected by this site)", "-", "-"
		case v.Err != nil:
			decoded = "ERROR " + v.Reason + ": " + v.Err.Error()
			if v.Reason == mqtt.ReasonOutOfRange {
				rng = fmt.Sprintf("OUTSIDE [%g,%g]", pv.Range[0], pv.Range[1])
			} else {
				rng = "-"
			}
		default:
			decoded = mqttSampleString(pv, v.Sample)
		}
		if jsonv == "" {
			jsonv = "(absent)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Name, pv.Path, typ, jsonv, decoded, orDash(pv.Unit), rng)
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// mqttSampleString shows a decoded value as the rules see it: bools as
// true/false, strings quoted, numbers in full.
func mqttSampleString(v *config.Value, s rules.Sample) string {
	if v.Type == config.TypeBool || v.Bit != nil {
		return strconv.FormatBool(s.Num != 0)
	}
	return sampleString(v, s)
}

// shownPayload is the payload as text, indented, cut at maxShownPayload
// bytes (on a character boundary) with a note saying so; a payload that
// is not UTF-8 text is shown quoted.
func shownPayload(b []byte) string {
	shown, note := b, ""
	if len(b) > maxShownPayload {
		cut := maxShownPayload
		for cut > maxShownPayload-utf8.UTFMax && !utf8.RuneStart(b[cut]) {
			cut--
		}
		shown = b[:cut]
		note = fmt.Sprintf("\n  … (truncated: first %d of %d bytes shown)", cut, len(b))
	}
	if len(b) == 0 {
		return "  (empty)"
	}
	text := string(shown)
	if !utf8.ValidString(text) || strings.ContainsFunc(text, func(r rune) bool { return r < ' ' && r != '\n' && r != '\r' && r != '\t' }) {
		return "  (not text; shown quoted) " + strconv.Quote(text) + note
	}
	return "  " + strings.ReplaceAll(strings.TrimRight(text, "\r\n"), "\n", "\n  ") + note
}

// deviceTimeLines describes the payload's own timestamp against the
// arrival time, and warns when the gateway would refuse or re-stamp the
// message for it: older than the freshness window (stale), ahead by more
// than maxFuture (refused), ahead by more than aheadTolerance (stamped
// with the gateway's receipt time). For a live message the difference is
// clock offset plus the time the message took through the broker
// (normally milliseconds); for a retained one it is mostly its age.
func deviceTimeLines(prof *config.Profile, device, arrived time.Time, retained bool, fresh, maxFuture time.Duration) (line, warn string) {
	if prof.TimePath == "" {
		return "device timestamp: none (the profile has no time_path): the gateway stamps each message with its arrival time, and ignores retained ones", ""
	}
	if device.IsZero() {
		return fmt.Sprintf("device timestamp: none usable at %s: the gateway stamps the message with its arrival time (and ignores it if retained)", prof.TimePath), ""
	}
	lag := arrived.Sub(device)
	line = fmt.Sprintf("device timestamp %s, %s", device.UTC().Format(time.RFC3339Nano), describeSkew(lag))
	switch {
	case lag > fresh && retained:
		warn = fmt.Sprintf("this retained message is %s old, beyond the device's freshness window (%s): the gateway ignores it", formatSeconds(lag), fresh)
	case lag > fresh:
		warn = fmt.Sprintf("the device timestamp is %s old, beyond the device's freshness window (%s): the gateway drops such a message as stale. If the device publishes now, its clock is behind: check its time (NTP)", formatSeconds(lag), fresh)
	case -lag > maxFuture:
		warn = fmt.Sprintf("the device clock is %s ahead, beyond the gateway's limit (%s): the gateway drops its messages. Set the device's clock (NTP)", formatSeconds(-lag), maxFuture)
	case -lag > aheadTolerance:
		warn = fmt.Sprintf("the device clock is %s ahead of the gateway clock: the gateway uses its own receipt time for such messages. Set the device's clock (NTP)", formatSeconds(-lag))
	}
	return line, warn
}

// describeSkew says how far the device timestamp is behind (lag > 0) or
// ahead of the gateway clock at arrival.
func describeSkew(lag time.Duration) string {
	switch {
	case lag.Abs() < 50*time.Millisecond:
		return "in step with the gateway clock (within 0.1 s)"
	case lag > 0:
		return formatSeconds(lag) + " behind the gateway clock"
	default:
		return formatSeconds(-lag) + " ahead of the gateway clock"
	}
}

// formatSeconds writes a positive duration for people: "1.8 s" under a
// minute, "4m12s" up to a day, then whole hours ("3h0m0s" reads badly
// past that, "52h" does not).
func formatSeconds(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.FormatFloat(math.Round(d.Seconds()*10)/10, 'f', 1, 64) + " s"
	case d < 24*time.Hour:
		return d.Round(time.Second).String()
	default:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
}
