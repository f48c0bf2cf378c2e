package mqtt

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/icugate/icugate/rules"
)

// ProbeMessage is one message a probe received, decoded as the gateway
// decodes it, with the gateway's verdict on it.
type ProbeMessage struct {
	Topic string
	// Received is when the message arrived, by the local clock.
	Received time.Time
	// Retained is set for the message the broker kept and replays to every
	// new subscriber: it was published at some earlier time, possibly long
	// ago, and says nothing about whether the device publishes now.
	Retained bool
	// Payload is the message as received.
	Payload []byte
	// Values are the profile's values, in profile order, each decoded on
	// its own so that every problem shows, not only the first (the gateway
	// stops at the first). Nil when the payload is not a JSON object.
	Values []ProbeValue
	// Samples are the decoded values as the state rules take them; nil
	// when the gateway could not decode the message.
	Samples []rules.Sample
	// Serial is the device's serial, when its profile names one.
	Serial string
	// DeviceTime is the payload's own timestamp (the profile's time_path);
	// zero when the profile or the payload has none, or it does not parse.
	DeviceTime time.Time
	// Rejection is why the gateway would drop the message; nil when it
	// would take it.
	Rejection *Rejection
}

// Decoded reports whether the gateway decodes the message's values (it may
// still drop it for its timestamp: see Rejection).
func (m *ProbeMessage) Decoded() bool { return m.Samples != nil }

// ProbeValue is one profile value as found in a message.
type ProbeValue struct {
	Name string
	// JSON is the value at the profile's path as received (long strings
	// shortened); "" when the path is absent.
	JSON string
	// Sample is the decoded value, valid when Err is nil and not Skipped.
	Sample rules.Sample
	// Err is why the value does not decode (absent, wrong type, NaN,
	// outside its range), and Reason its drop reason; nil when it decodes.
	Err    error
	Reason string
	// Skipped marks a clinical value of a site that does not collect them
	// (clinical: false): neither read nor shown, as in the gateway.
	Skipped bool
}

// Rejection is why the gateway would drop a message.
type Rejection struct {
	// Reason is the reason label of icugate_mqtt_messages_dropped_total
	// (ReasonNotJSON, ReasonWrongType, ReasonStale, ...).
	Reason string
	// Field is what in the payload it concerns: a profile value as
	// "name (path)", or the profile's time_path; "" for the whole payload.
	Field string
	Err   error
}

func (r *Rejection) Error() string {
	if r.Field == "" {
		return r.Reason + ": " + r.Err.Error()
	}
	return r.Reason + " at " + r.Field + ": " + r.Err.Error()
}

// inspect decodes one received message for the probe: each value on its
// own for display, then the whole message through the gateway's own path
// (observe: size limit, decoder, timestamp checks) for the verdict.
func (p *Probe) inspect(msg paho.Message, at time.Time) ProbeMessage {
	payload := msg.Payload()
	m := ProbeMessage{Topic: msg.Topic(), Received: at, Retained: msg.Retained(), Payload: bytes.Clone(payload)}
	var tv jval
	m.Values, tv = p.inspectValues(payload)
	if dec, b := p.inspects.decode(payload); b == nil {
		m.Samples, m.Serial = dec.values, dec.serial
	}
	if tv.kind != kindAbsent {
		if t, err := parseTime(tv); err == nil {
			m.DeviceTime = t
		}
	}
	if _, b, _ := p.verdict.observe(msg, at); b != nil {
		m.Rejection = p.rejection(b, m.Values)
	}
	return m
}

// inspectValues decodes each profile value of payload on its own, and
// returns them with the JSON value at the profile's time_path. Nil values
// when the payload is not a JSON object.
func (p *Probe) inspectValues(payload []byte) ([]ProbeValue, jval) {
	d := p.inspects
	n := len(d.profile.Values)
	if !utf8.Valid(payload) {
		return nil, jval{}
	}
	found := make([]jval, n+1)
	if kind, err := scanJSON(payload, d.root, found); err != nil || kind != kindObject {
		return nil, jval{}
	}
	out := make([]ProbeValue, n)
	for i := range d.profile.Values {
		v := &d.profile.Values[i]
		pv := &out[i]
		pv.Name = v.Name
		if d.skip[i] {
			pv.Skipped = true
			continue
		}
		pv.JSON = jsonText(found[i])
		if found[i].kind == kindAbsent {
			pv.Reason, pv.Err = ReasonMissingValue, fmt.Errorf("path %q not in payload", v.Path)
			continue
		}
		s, b := sample(v, found[i])
		if b != nil {
			// The table shows the name beside the error already.
			pv.Reason, pv.Err = b.reason, errors.New(strings.TrimPrefix(b.err.Error(), "value "+v.Name+": "))
			continue
		}
		pv.Sample = s
	}
	if !d.hasTime {
		return out, jval{}
	}
	return out, found[n]
}

// rejection is the gateway's refusal b, with the field it concerns named
// apart from its message. The decoder checks values in profile order and
// refuses at the first bad one, which is the first value inspectValues
// found bad.
func (p *Probe) rejection(b *badMessage, values []ProbeValue) *Rejection {
	r := &Rejection{Reason: b.reason, Err: b.err}
	switch b.reason {
	case ReasonMissingValue, ReasonWrongType, ReasonNaN, ReasonOutOfRange:
		for i, v := range values {
			if v.Err != nil {
				r.Field = v.Name + " (" + p.prof.Values[i].Path + ")"
				r.Err = v.Err // the same words without the value's name
				break
			}
		}
	case ReasonBadTime:
		r.Field = "time_path " + p.prof.TimePath
		r.Err = errors.New(strings.TrimPrefix(b.err.Error(), "time "+p.prof.TimePath+": "))
	case ReasonStale, ReasonFutureTime:
		r.Field = "time_path " + p.prof.TimePath
	}
	return r
}

// maxJSONText bounds a string value shown in a probe's table.
const maxJSONText = 64

// jsonText renders a scanned JSON value for display.
func jsonText(v jval) string {
	switch v.kind {
	case kindNull:
		return "null"
	case kindBool:
		return strconv.FormatBool(v.num != 0)
	case kindNumber:
		return strconv.FormatFloat(v.num, 'g', -1, 64)
	case kindString:
		s := v.str
		if len(s) > maxJSONText {
			cut := maxJSONText
			for cut > 0 && !utf8.RuneStart(s[cut]) {
				cut--
			}
			return strconv.Quote(s[:cut]) + "…"
		}
		return strconv.Quote(s)
	case kindObject:
		return "{…}"
	case kindArray:
		return "[…]"
	}
	return ""
}
