package report

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/pipeline"
)

// Message is one signed report ready to send.
type Message struct {
	Hospital string
	// Part is the gateway's part of the hospital (MainPart for a
	// hospital's only gateway).
	Part     string
	Sequence uint64
	// Topic is the MQTT topic: PartTopic of the hospital and part.
	Topic string
	// Payload is the signed envelope.
	Payload []byte
}

// Transport delivers one message. Send blocks until the peer acknowledged
// the message (MQTT PUBACK, HTTP 2xx) or ctx ends, and returns nil only
// then. The Publisher calls it from the caller's goroutine, one message at
// a time. The gateway may instead put messages into its durable outbox and
// deliver them with the same transports later.
type Transport interface {
	Send(ctx context.Context, m Message) error
}

// Topic is the MQTT topic of a hospital's capacity report when the
// hospital has one gateway (its part MainPart).
func Topic(region, hospital string) string {
	return "icu/v1/" + region + "/" + hospital + "/capacity"
}

// MainPart is the part id of a hospital's only gateway, and of the gateway
// of a several-part hospital that keeps the hospital's own topics (so an
// existing gateway needs no change when its hospital adds a building).
const MainPart = "main"

// PartTopic is the MQTT topic of one part's capacity report: every gateway
// of a hospital has its own retained topic, so that the gateways of one
// hospital never overwrite each other's latest report. Part MainPart (or
// "") keeps the hospital's topic, Topic(region, hospital).
func PartTopic(region, hospital, part string) string {
	if part == "" || part == MainPart {
		return Topic(region, hospital)
	}
	return "icu/v1/" + region + "/" + hospital + "/" + part + "/capacity"
}

// PresenceTopic is where a gateway announces itself on the broker:
// retained "online" on connect, "offline" as its last will and on a clean
// stop (drivers/mqtt). One per part, like the report topic; the aggregator
// reads it to tell a gateway that is down from one that is up but sends
// no report.
func PresenceTopic(region, hospital, part string) string {
	if part == "" || part == MainPart {
		return "icu/v1/" + region + "/" + hospital + "/gateway"
	}
	return "icu/v1/" + region + "/" + hospital + "/" + part + "/gateway"
}

// Presence payloads on PresenceTopic.
const (
	PresenceOnline  = "online"
	PresenceOffline = "offline"
)

// CheckTopicPart reports whether s may be a region or hospital id in a
// topic: non-empty, without '/', '+', '#' or NUL.
func CheckTopicPart(what, s string) error {
	if s == "" || strings.ContainsAny(s, "/+#\x00") || strings.HasPrefix(s, "$") {
		return fmt.Errorf("%s %q cannot be an MQTT topic level (empty, or contains / + # NUL, or starts with $)", what, s)
	}
	return nil
}

// MaxPartID is the longest part id.
const MaxPartID = 64

// CheckPartID reports whether s may be a part id: 1 to 64 letters, digits,
// '_', '-' or '.', starting with a letter or digit. Stricter than a topic
// level, because it names a building on pages and in alerts.
func CheckPartID(what, s string) error {
	ok := s != "" && len(s) <= MaxPartID
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		ok = alnum || i > 0 && (c == '_' || c == '-' || c == '.')
	}
	if !ok {
		return fmt.Errorf("%s %q: want 1 to %d letters, digits, '_', '-' or '.', starting with a letter or digit", what, s, MaxPartID)
	}
	return nil
}

// Publisher decides when to publish and signs reports: when a count
// changed since the last report sent or when the report interval elapsed
// since then. Bed counts already carry the hold time; device counts do
// not, so changes are published at most once per MinGap: a device that
// flaps between in_use and standby cannot make a report storm. It is not
// safe for concurrent use.
type Publisher struct {
	site       *config.Site
	key        ed25519.PrivateKey
	transports []Transport
	interval   time.Duration
	// MinGap is the least time between two reports; default 5s (never
	// more than the interval).
	MinGap time.Duration

	sent   bool
	lastAt time.Time
	last   []byte // fingerprint of the counts last sent
}

// NewPublisher makes a publisher for site, signing with key and sending
// through transports (none: Publish only signs).
func NewPublisher(site *config.Site, key ed25519.PrivateKey, transports ...Transport) (*Publisher, error) {
	if site == nil {
		return nil, errors.New("report: nil site")
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("report: hospital %s: no Ed25519 signing key", site.Hospital.ID)
	}
	if err := CheckTopicPart("region", site.Hospital.Region); err != nil {
		return nil, fmt.Errorf("report: hospital.region: %w", err)
	}
	if err := CheckTopicPart("hospital id", site.Hospital.ID); err != nil {
		return nil, fmt.Errorf("report: hospital.id: %w", err)
	}
	if part := site.Report.Part; part != "" {
		if err := CheckPartID("report.part", part); err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
	}
	iv := site.Report.Interval
	if iv <= 0 {
		iv = config.DefaultReportInterval
	}
	return &Publisher{site: site, key: key, transports: transports, interval: iv, MinGap: min(DefaultMinGap, iv)}, nil
}

// DefaultMinGap is Publisher.MinGap's default.
const DefaultMinGap = 5 * time.Second

// Due reports whether snap should be published: nothing sent yet, the
// interval elapsed, or a count changed and MinGap elapsed (by the
// snapshot's clock).
func (p *Publisher) Due(snap *pipeline.Snapshot) bool {
	if !p.sent || !snap.AsOf.Before(p.lastAt.Add(p.interval)) {
		return true
	}
	if snap.AsOf.Before(p.lastAt.Add(p.MinGap)) {
		return false
	}
	fp, err := fingerprint(snap, p.site)
	return err != nil || !bytes.Equal(fp, p.last)
}

// Offer publishes snap when it is Due, taking the sequence from next
// (which the caller keeps durable; it is called only when publishing). It
// reports whether a report was sent.
func (p *Publisher) Offer(ctx context.Context, snap *pipeline.Snapshot, next func() (uint64, error)) (bool, error) {
	if !p.Due(snap) {
		return false, nil
	}
	seq, err := next()
	if err != nil {
		return false, fmt.Errorf("report: hospital %s: next sequence: %w", p.site.Hospital.ID, err)
	}
	if _, err := p.Publish(ctx, snap, seq); err != nil {
		return false, err
	}
	return true, nil
}

// Prepare builds and signs the report of snap with sequence seq.
func (p *Publisher) Prepare(snap *pipeline.Snapshot, seq uint64) (Message, error) {
	r, err := Build(snap, p.site, seq)
	if err != nil {
		return Message{}, err
	}
	payload, err := Sign(r, p.key)
	if err != nil {
		return Message{}, err
	}
	part := p.site.Report.Part
	if part == "" {
		part = MainPart
	}
	return Message{
		Hospital: r.Hospital.ID, Part: part, Sequence: seq,
		Topic: PartTopic(r.Hospital.Region, r.Hospital.ID, part), Payload: payload,
	}, nil
}

// Publish signs snap's report with sequence seq and sends it through every
// transport. Only when all succeed does it count as sent for Due; on an
// error the next Due is true again and the caller publishes with a new
// sequence (gaps are allowed: the aggregator needs only increase).
func (p *Publisher) Publish(ctx context.Context, snap *pipeline.Snapshot, seq uint64) (Message, error) {
	m, err := p.Prepare(snap, seq)
	if err != nil {
		return Message{}, err
	}
	var errs []error
	for _, t := range p.transports {
		if err := t.Send(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return m, fmt.Errorf("report: hospital %s sequence %d: %w", m.Hospital, seq, err)
	}
	p.MarkSent(snap)
	return m, nil
}

// MarkSent records snap as sent, for callers that deliver Prepare's
// message themselves (through the outbox).
func (p *Publisher) MarkSent(snap *pipeline.Snapshot) {
	fp, err := fingerprint(snap, p.site)
	if err != nil {
		return
	}
	p.sent, p.lastAt, p.last = true, snap.AsOf, fp
}

// fingerprint is the report of snap without sequence and time: what
// "a count changed" compares.
func fingerprint(snap *pipeline.Snapshot, site *config.Site) ([]byte, error) {
	r, err := Build(snap, site, 1)
	if err != nil {
		return nil, err
	}
	r.AsOf = time.Time{}
	return json.Marshal(r)
}
