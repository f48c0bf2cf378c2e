package gateway

import (
	"path/filepath"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/icugate/icugate/internal/mosquittotest"
	"github.com/icugate/icugate/pipeline"
	"github.com/icugate/icugate/report"
)

// TestGatewayPublishesSignedReports: with a signing key and a broker, the
// gateway publishes retained, signed capacity reports that verify with the
// hospital's public key, whose counts match the served snapshot, and whose
// sequence keeps growing across a restart.
func TestGatewayPublishesSignedReports(t *testing.T) {
	broker := mosquittotest.Start(t, mosquittotest.Config{})
	keyDir := t.TempDir()
	if _, err := report.GenerateKeyFiles(keyDir); err != nil {
		t.Fatal(err)
	}
	privFile := filepath.Join(keyDir, report.PrivateKeyFile)
	pub, err := report.LoadPublicKey(filepath.Join(keyDir, report.PublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	site, path := testSite(t, "\nmqtt:\n  broker: "+broker.URL()+"\n  client_id: icugate-report-test\nreport:\n  key_file: "+privFile+"\n  interval: 2s\n")

	got := make(chan []byte, 100)
	opts := paho.NewClientOptions().AddBroker(broker.URL()).SetClientID("report-reader")
	c := paho.NewClient(opts)
	if tok := c.Connect(); tok.WaitTimeout(10*time.Second) && tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(100)
	topic := report.Topic(site.Hospital.Region, site.Hospital.ID)
	if tok := c.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) { got <- m.Payload() }); tok.WaitTimeout(10*time.Second) && tok.Error() != nil {
		t.Fatal(tok.Error())
	}

	startSim(t, site)
	data := t.TempDir()
	g, stop := startGateway(t, site, path, data)
	waitFor(t, "verified", 20*time.Second, func(s pipeline.Snapshot) bool { return s.Capacity.Hospital.Verified && settled(s) }, g)

	var last *report.Report
	deadline := time.After(20 * time.Second)
	for last == nil || !last.Verified {
		select {
		case b := <-got:
			r, err := report.Verify(b, pub)
			if err != nil {
				t.Fatalf("published report does not verify: %v", err)
			}
			if last != nil && r.Sequence == last.Sequence {
				continue // QoS 1 may deliver a message twice
			}
			if last != nil && r.Sequence < last.Sequence {
				t.Fatalf("sequence went from %d to %d", last.Sequence, r.Sequence)
			}
			last = r
		case <-deadline:
			t.Fatalf("no verified report within 20s (last %+v)", last)
		}
	}
	if snap := g.Snapshot(); last.Totals.BedsTotal != snap.Capacity.Hospital.BedsTotal {
		t.Errorf("report beds_total %d, snapshot %d", last.Totals.BedsTotal, snap.Capacity.Hospital.BedsTotal)
	}
	stop()
	// After a restart the sequence keeps growing.
	g2, _ := startGateway(t, site, path, data)
	_ = g2
	deadline = time.After(20 * time.Second)
	for {
		select {
		case b := <-got:
			r, err := report.Verify(b, pub)
			if err != nil {
				t.Fatal(err)
			}
			if r.Sequence <= last.Sequence {
				continue // a retained copy of an earlier report
			}
			return
		case <-deadline:
			t.Fatalf("no report after restart with a sequence above %d", last.Sequence)
		}
	}
}
