// Package benchsim holds what the two benchmark harnesses,
// cmd/icusim/bench (the Modbus driver alone) and cmd/icusim/gatebench (the
// whole gateway), share: the histogram of how late polls come, and
// starting the simulator child on ports the harness has just released.
package benchsim

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/icugate/icugate/config"
	"github.com/icugate/icugate/simulator"
)

// Lateness is measured in Step buckets up to Max; the last bucket holds
// everything later.
const (
	Step    = 100 * time.Microsecond
	Buckets = 20001
	Max     = Step * (Buckets - 1) // 2 s
)

// Lateness histograms how late a device's polls come: the gap between a
// device's consecutive polls minus its interval (an early poll counts as
// on time). Add is safe for concurrent use and does not allocate, so that
// a benchmark's own bookkeeping stays out of what it measures.
type Lateness struct {
	counts []atomic.Int64
}

// NewLateness returns an empty histogram.
func NewLateness() *Lateness {
	return &Lateness{counts: make([]atomic.Int64, Buckets)}
}

// Add counts one poll that came gap after the previous one of a device
// polled every interval.
func (l *Lateness) Add(gap, interval time.Duration) {
	l.counts[bucket(gap-interval)].Add(1)
}

func bucket(late time.Duration) int {
	return int(min(max(late, 0)/Step, Buckets-1))
}

// Reset empties the histogram (between measuring windows).
func (l *Lateness) Reset() {
	for i := range l.counts {
		l.counts[i].Store(0)
	}
}

// Sparse returns the non-empty buckets as [bucket, count] pairs, in
// bucket order: what a simulator shard reports, so that the histograms of
// several shards can be merged by concatenation.
func (l *Lateness) Sparse() [][2]int64 {
	var out [][2]int64
	for i := range l.counts {
		if n := l.counts[i].Load(); n > 0 {
			out = append(out, [2]int64{int64(i), n})
		}
	}
	return out
}

// Percentiles returns the p50, p99 and maximum lateness counted so far.
func (l *Lateness) Percentiles() (p50, p99, pmax time.Duration) {
	return SparsePercentiles(l.Sparse())
}

// SparsePercentiles returns the p50, p99 and maximum of a histogram given
// as [bucket, count] pairs in any order, a bucket possibly repeated (the
// concatenated reports of several shards). Pairs outside the histogram are
// ignored. Each figure is its bucket's lower bound; an empty histogram
// gives zeros.
func SparsePercentiles(pairs [][2]int64) (p50, p99, pmax time.Duration) {
	counts := make([]int64, Buckets)
	var total int64
	for _, p := range pairs {
		if p[0] >= 0 && p[0] < Buckets && p[1] > 0 {
			counts[p[0]] += p[1]
			total += p[1]
		}
	}
	var seen int64
	var has50, has99 bool
	for i, n := range counts {
		if n == 0 {
			continue
		}
		seen += n
		d := time.Duration(i) * Step
		if !has50 && seen*2 >= total {
			p50, has50 = d, true
		}
		if !has99 && seen*100 >= total*99 {
			p99, has99 = d, true
		}
		pmax = d
	}
	return p50, p99, pmax
}

// StartSimulator builds and starts a simulator for site. The harness
// reserves the devices' ports, then frees them for its simulator child; a
// freed port may linger for a moment, so a failed start is retried every
// retry until ctx ends.
func StartSimulator(ctx context.Context, site *config.Site, opts simulator.Options, retry time.Duration) (*simulator.Simulator, error) {
	t := time.NewTicker(retry)
	defer t.Stop()
	for {
		sim, err := simulator.New(site, opts)
		if err != nil {
			return nil, err // a config error: trying again will not help
		}
		if err = sim.Start(); err == nil {
			return sim, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (last attempt: %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}
