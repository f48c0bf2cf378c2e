package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/icugate/icugate/report"
)

// reportCheckEvery is how often the reporter looks at the snapshot to see
// whether a report is due (on a count change, at most every MinGap, and at
// least every report.interval).
const reportCheckEvery = time.Second

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
	sender, err := report.NewSender(g.store, transports)
	if err != nil {
		g.log.Error("regional reports: the report left by the last run is lost", "err", err)
	}
	tick := time.NewTicker(reportCheckEvery)
	defer tick.Stop()
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
			_, err := sender.Queue(func(seq uint64) (report.Message, error) { return pub.Prepare(snap, seq) })
			if err != nil {
				g.log.Error("building the capacity report", "err", err)
			} else {
				pub.MarkSent(snap)
			}
		}
		m, retryIn, err := sender.Try(ctx)
		switch {
		case m != nil:
			g.m.reports.Inc()
			g.log.Debug("capacity report published", "sequence", m.Sequence, "topic", m.Topic)
			if err != nil {
				g.log.Error("capacity report published, but it stays queued", "err", err)
			}
		case err != nil:
			g.log.Warn("capacity report not delivered; retrying", "sequence", sender.Pending().Sequence, "retry_in", retryIn, "err", err)
		}
	}
}
