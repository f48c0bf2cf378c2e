package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/icugate/icugate/pipeline"
)

// The engine loop held up for 7 s (longer than the 5 s freshness window of
// every device, which kept answering on real sockets) turns no device
// offline: the gap is the gateway's own.
func TestLoopStallRaisesNoFalseOutage(t *testing.T) {
	site, path := testSite(t, "")
	startSim(t, site)
	g, _ := startGateway(t, site, path, t.TempDir())
	waitFor(t, "all devices seen and counts verified", 20*time.Second, func(s pipeline.Snapshot) bool {
		return s.Capacity.Hospital.Verified && settled(s)
	}, g)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := g.hub.Subscribe(ctx)
	if err := g.do(ctx, func(*pipeline.Engine) { time.Sleep(7 * time.Second) }); err != nil {
		t.Fatal(err)
	}
	watch := time.After(6 * time.Second)
	for {
		select {
		case tr := <-events:
			if tr.Type == pipeline.TransitionDevice && tr.To == pipeline.Offline.String() {
				t.Fatalf("device %s went offline after the loop stall: %s", tr.ID, tr.Cause)
			}
		case <-watch:
			if g.m == nil || testCounter(g.m.gaps) < 1 {
				t.Fatal("the stall was not counted in icugate_observation_gaps_total")
			}
			return
		}
	}
}

// testCounter reads a counter's value.
func testCounter(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
