package gateway

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/icugate/icugate/pipeline"
)

// The engine loop held up for 7 s (longer than the 5 s freshness window of
// every device), as when the whole process is stopped or the host
// suspended, turns no device offline once the devices answer again: the
// gap is the gateway's own, excused and counted.
func TestLoopStallRaisesNoFalseOutage(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		site, path := smallSite(t, dir, nil, "")
		h := startLoop(t, site, path, dir, loopOptions{})
		events := h.g.hub.Subscribe(t.Context())
		allStandby(t, h, site)
		h.sync(t)

		if err := h.g.do(context.Background(), func(*pipeline.Engine) { time.Sleep(7 * time.Second) }); err != nil {
			t.Fatal(err)
		}
		// The loop turns on its tick before anything else arrives; then
		// the devices answer every second, as they did before.
		time.Sleep(tickEvery)
		for range 6 {
			allStandby(t, h, site)
			time.Sleep(time.Second)
		}
		s := h.sync(t)
		for {
			select {
			case tr := <-events:
				if tr.Type == pipeline.TransitionDevice && tr.To == pipeline.Offline.String() {
					t.Errorf("device %s went offline after the loop stall: %s", tr.ID, tr.Cause)
				}
				continue
			default:
			}
			break
		}
		for _, d := range s.Devices {
			if d.State != pipeline.Standby {
				t.Errorf("%s = %v after the stall, want standby", d.ID, d.State)
			}
		}
		if got := testCounter(h.g.m.gaps); got != 1 {
			t.Errorf("icugate_observation_gaps_total = %v after one stall, want 1", got)
		}
	})
}

// A loop that turns on time counts no gap.
func TestLoopOnTimeCountsNoGap(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		site, path := smallSite(t, dir, nil, "")
		h := startLoop(t, site, path, dir, loopOptions{})
		for range 10 {
			allStandby(t, h, site)
			time.Sleep(time.Second)
		}
		h.sync(t)
		if got := testCounter(h.g.m.gaps); got != 0 {
			t.Errorf("icugate_observation_gaps_total = %v without a stall, want 0", got)
		}
	})
}

// testCounter reads a counter's value.
func testCounter(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
