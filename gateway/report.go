package gateway

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/icugate/icugate/config"
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
	return t.g.publishMQTT(ctx, m.Topic, 1, true, m.Payload)
}

// reportSetupRetry is how often a reporter that could not start (signing
// key unreadable, bad settings) tries again without a reload, so that
// fixing the key file's permissions is enough.
const reportSetupRetry = 30 * time.Second

// undeliveredAfter is how long reports may fail before health says so:
// three report intervals, at least a minute (a broker restart is not an
// incident; a region that hears nothing for three intervals is).
func undeliveredAfter(interval time.Duration) time.Duration {
	return max(3*interval, time.Minute)
}

// reporter is the reporting set-up that a site config and a key give.
type reporter struct {
	site *config.Site
	key  ed25519.PrivateKey
	pub  *report.Publisher
}

// setupReporter loads the signing key and builds the publisher for site.
func setupReporter(site *config.Site) (*reporter, error) {
	key, err := report.LoadPrivateKey(site.Report.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("cannot load the signing key %s: %w", site.Report.KeyFile, err)
	}
	pub, err := report.NewPublisher(site, key)
	if err != nil {
		return nil, err
	}
	return &reporter{site: site, key: key, pub: pub}, nil
}

// runReporter signs and publishes capacity reports until ctx ends. With no
// report.key_file in the site it does nothing until a reload sets one.
// Reports that are configured but not working (the key cannot be loaded,
// or no report was delivered for undeliveredAfter) make the gateway
// degraded in /readyz with the reason, not only a log line: under systemd
// or Docker a gateway the region does not hear from must not look healthy.
func (g *Gateway) runReporter(ctx context.Context) {
	sender, err := report.NewSender(g.store, nil)
	if err != nil {
		g.log.Error("regional reports: the report left by the last run is lost", "err", err)
	}
	var (
		rep          *reporter
		seen         *config.Site // the site rep was last tried with
		nextSetup    time.Time
		failingSince time.Time
	)
	tick := time.NewTicker(reportCheckEvery)
	defer tick.Stop()
	defer g.health.set("reports", "")
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		if cur := g.Site(); cur != seen || (rep == nil && cur.Report.KeyFile != "" && !now.Before(nextSetup)) {
			seen = cur
			if cur.Report.KeyFile != "" {
				g.m.reportsConfigured.Set(1)
			} else {
				g.m.reportsConfigured.Set(0)
			}
			switch {
			case cur.Report.KeyFile == "":
				if rep != nil || g.health.has("reports") {
					g.log.Info("no report.key_file: regional capacity reports are off")
				}
				rep = nil
				g.health.set("reports", "")
			default:
				// A reload may change the hospital's figures, the interval
				// or the key: report with the new config from now on (the
				// sequence, kept in the store, goes on growing).
				nr, err := setupReporter(cur)
				switch {
				case err == nil:
					if rep == nil {
						g.log.Info("regional capacity reports on", "key_file", cur.Report.KeyFile)
					}
					rep = nr
					g.health.set("reports", "")
				case rep != nil:
					g.log.Error("reload: report settings rejected; keeping the previous ones", "err", err)
				default:
					nextSetup = now.Add(reportSetupRetry)
					reason := "regional reports are configured but off: " + err.Error()
					if !g.health.has("reports") {
						g.log.Error(reason)
					}
					g.health.set("reports", reason)
				}
			}
			if rep != nil {
				sender.SetTransports(reportTransports(g, rep.site))
				g.m.reportsOn.Set(1)
			} else {
				g.m.reportsOn.Set(0)
			}
		}
		if rep == nil {
			continue
		}
		if snap := g.snap.Load(); snap != nil && g.ready.Load() && rep.pub.Due(snap) {
			_, err := sender.Queue(func(seq uint64) (report.Message, error) { return rep.pub.Prepare(snap, seq) })
			if err != nil {
				g.log.Error("building the capacity report", "err", err)
			} else {
				rep.pub.MarkSent(snap)
			}
		}
		m, retryIn, err := sender.Try(ctx)
		switch {
		case m != nil:
			g.m.reports.Inc()
			g.m.reportDelivered.Set(float64(time.Now().Unix()))
			g.log.Debug("capacity report published", "sequence", m.Sequence, "topic", m.Topic)
			if err != nil {
				g.log.Error("capacity report published, but it stays queued", "err", err)
			}
			failingSince = time.Time{}
			g.health.set("reports", "")
		case err != nil:
			g.log.Warn("capacity report not delivered; retrying", "sequence", sender.Pending().Sequence, "retry_in", retryIn, "err", err)
			if failingSince.IsZero() {
				failingSince = now
			}
			if bound := undeliveredAfter(rep.site.Report.Interval); now.Sub(failingSince) >= bound {
				g.health.set("reports", fmt.Sprintf("no capacity report delivered for %s (report %d waits): %v",
					now.Sub(failingSince).Round(time.Second), sender.Pending().Sequence, err))
			}
		}
	}
}

// reportTransports are the ways a site's reports leave: the gateway's MQTT
// connection when the site has a broker, and HTTP when it names a URL.
func reportTransports(g *Gateway, site *config.Site) []report.Transport {
	var ts []report.Transport
	if site.MQTT != nil {
		ts = append(ts, mqttTransport{g: g})
	}
	if site.Report.HTTPURL != "" {
		ts = append(ts, &report.HTTPTransport{URL: site.Report.HTTPURL, Attempts: 1, OnAnswer: g.clockObserver("report")})
	}
	return ts
}
