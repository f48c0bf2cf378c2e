package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/icugate/icugate/report"
)

// reportCheckEvery is how often the reporter looks at the snapshot to see
// whether a report is due (on a count change, at most every MinGap, and at
// least every report.interval).
const reportCheckEvery = time.Second

// The latest signed report is kept in the store until every transport has
// taken it: an outage of the broker or the authority's endpoint delays the
// report but never loses the latest one, also across a restart. Only the
// latest matters (the MQTT copy is retained and each report is complete),
// so a newer report replaces one still waiting.
var keyPendingReport = []byte("report.pending")

// mqttTransport publishes reports on the gateway's own broker connection
// (QoS 1, retained), the one the MQTT driver holds.
type mqttTransport struct{ g *Gateway }

func (t mqttTransport) Send(ctx context.Context, m report.Message) error {
	d := t.g.drivers.mqttDriver()
	if d == nil {
		return errors.New("no MQTT connection: set mqtt.broker in the site config")
	}
	return d.Publish(ctx, m.Topic, 1, true, m.Payload)
}

// runReporter signs and publishes capacity reports until ctx ends. It
// returns at once when the site configures no signing key.
func (g *Gateway) runReporter(ctx context.Context) {
	site := g.Site()
	if site.Report.KeyFile == "" {
		g.log.Info("no report.key_file: regional capacity reports are off")
		return
	}
	key, err := report.LoadPrivateKey(site.Report.KeyFile)
	if err != nil {
		g.log.Error("regional reports are off: cannot load the signing key", "file", site.Report.KeyFile, "err", err)
		return
	}
	var transports []report.Transport
	if site.MQTT != nil {
		transports = append(transports, mqttTransport{g: g})
	}
	if site.Report.HTTPURL != "" {
		transports = append(transports, &report.HTTPTransport{URL: site.Report.HTTPURL, Attempts: 1})
	}
	pub, err := report.NewPublisher(site, key)
	if err != nil {
		g.log.Error("regional reports are off", "err", err)
		return
	}
	pending, err := g.loadPendingReport()
	if err != nil {
		g.log.Error("reading the pending report", "err", err)
	}
	tick := time.NewTicker(reportCheckEvery)
	defer tick.Stop()
	backoff, nextTry := time.Second, time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if cur := g.Site(); cur != site {
			// A reload may change the hospital's figures or the interval:
			// report with the new config from now on (the sequence, kept
			// in the store, goes on growing).
			if np, err := report.NewPublisher(cur, key); err != nil {
				g.log.Error("reload: report settings rejected; keeping the previous ones", "err", err)
			} else {
				site, pub = cur, np
			}
		}
		if snap := g.snap.Load(); snap != nil && g.ready.Load() && pub.Due(snap) {
			seq, err := g.store.NextSequence("report")
			if err == nil {
				var m report.Message
				if m, err = pub.Prepare(snap, seq); err == nil {
					if err = g.savePendingReport(&m); err == nil {
						pub.MarkSent(snap)
						pending, nextTry, backoff = &m, time.Time{}, time.Second
					}
				}
			}
			if err != nil {
				g.log.Error("building the capacity report", "err", err)
			}
		}
		if pending == nil || time.Now().Before(nextTry) {
			continue
		}
		if err := sendAll(ctx, transports, *pending); err != nil {
			g.log.Warn("capacity report not delivered; retrying", "sequence", pending.Sequence, "retry_in", backoff, "err", err)
			nextTry = time.Now().Add(backoff)
			backoff = min(2*backoff, time.Minute)
			continue
		}
		g.m.reports.Inc()
		g.log.Debug("capacity report published", "sequence", pending.Sequence, "topic", pending.Topic)
		if err := g.clearPendingReport(pending.Sequence); err != nil {
			g.log.Error("clearing the delivered report", "err", err)
		}
		pending = nil
	}
}

func sendAll(ctx context.Context, ts []report.Transport, m report.Message) error {
	var errs []error
	for _, t := range ts {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := t.Send(sctx, m); err != nil {
			errs = append(errs, err)
		}
		cancel()
	}
	return errors.Join(errs...)
}

func (g *Gateway) savePendingReport(m *report.Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return g.store.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyPendingReport, b)
	})
}

func (g *Gateway) loadPendingReport() (*report.Message, error) {
	var m *report.Message
	err := g.store.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta).Get(keyPendingReport)
		if b == nil {
			return nil
		}
		m = &report.Message{}
		if err := json.Unmarshal(b, m); err != nil {
			return fmt.Errorf("pending report: %w", err)
		}
		return nil
	})
	return m, err
}

// clearPendingReport removes the pending report if it is still seq (a
// newer one may have replaced it meanwhile).
func (g *Gateway) clearPendingReport(seq uint64) error {
	return g.store.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		var m report.Message
		if raw := b.Get(keyPendingReport); raw != nil && json.Unmarshal(raw, &m) == nil && m.Sequence != seq {
			return nil
		}
		return b.Delete(keyPendingReport)
	})
}
