package modbus

import (
	"container/heap"
	"context"
	"log/slog"
	"time"

	"github.com/icugate/icugate/pipeline"
)

// Scheduling: one heap of next-due devices per endpoint, served by as many
// workers as the endpoint has connections (MaxConns, usually 1). A worker
// takes the earliest due device, polls it on the worker's own connection,
// offers the observation and puts the device back at its next tick. Devices
// of one endpoint share a phase (startOffset of the endpoint), so one timer
// wake-up serves them all back to back on a connection that is already
// open; endpoints are spread over the interval. Compared with a goroutine
// and a ticker per device this saves, per poll, a timer, a goroutine
// wake-up and a hand-off of the pooled connection, which at 2,000 polls a
// second is most of what the driver costs beyond the round trip itself.

// schedule is a min-heap of devices by due time. Of devices due at the
// same time, units that timed out recently (suspect) go last, so that a
// dead or slow unit does not make its healthy neighbours wait for its
// timeout; the others keep the order in which they were put back (seq).
type schedule []*device

// Len, Less, Swap, Push and Pop implement heap.Interface.
func (s schedule) Len() int { return len(s) }
func (s schedule) Less(i, j int) bool {
	a, b := s[i], s[j]
	switch {
	case a.dueNs != b.dueNs:
		return a.dueNs < b.dueNs
	case a.suspect != b.suspect:
		return b.suspect
	}
	return a.seq < b.seq
}
func (s schedule) Swap(i, j int) { s[i], s[j] = s[j], s[i] }
func (s *schedule) Push(x any)   { *s = append(*s, x.(*device)) }
func (s *schedule) Pop() any {
	old := *s
	dv := old[len(old)-1]
	old[len(old)-1] = nil
	*s = old[:len(old)-1]
	return dv
}

// start puts every device of the endpoint on its first tick: start plus the
// endpoint's offset for the device's interval.
func (e *endpoint) start(now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.due = e.due[:0]
	for _, dv := range e.devices {
		dv.setDue(now.Add(startOffset(e.key, dv.interval)))
		e.seq++
		dv.seq = e.seq
		e.due = append(e.due, dv)
	}
	heap.Init(&e.due)
}

// next pops the earliest device if it is due at now; otherwise it returns
// how long to wait. With every device taken by other workers it waits for
// the shortest interval: those workers put their devices back and serve
// them themselves.
func (e *endpoint) next(now time.Time) (*device, time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.due) == 0 {
		return nil, e.minInterval
	}
	if wait := e.due[0].due.Sub(now); wait > 0 {
		return nil, wait
	}
	return heap.Pop(&e.due).(*device), 0
}

// suspectPolls is how many polls in a row a unit must answer (or fail
// otherwise than by a timeout) after a timeout before it is again polled
// in turn rather than after its neighbours: a unit that times out every
// few polls is kept at the end.
const suspectPolls = 8

// reschedule puts a polled device back at its next tick after now. Ticks
// missed while the poll (or its neighbours' polls) ran are skipped, not
// queued, and the device keeps its phase.
func (e *endpoint) reschedule(dv *device, now time.Time) {
	next := dv.due.Add(dv.interval)
	if !next.After(now) {
		missed := now.Sub(dv.due) / dv.interval
		next = dv.due.Add((missed + 1) * dv.interval)
	}
	suspect := dv.sinceTimeout < suspectPolls
	e.mu.Lock()
	dv.setDue(next)
	dv.suspect = suspect
	e.seq++
	dv.seq = e.seq
	heap.Push(&e.due, dv)
	e.mu.Unlock()
}

// work is one worker of an endpoint: it polls due devices on its own
// connection slot until ctx ends. Offering to the intake blocks this
// worker, so while the intake is full the endpoint's next polls wait
// (they would have nowhere to go); other endpoints are not affected.
func (e *endpoint) work(ctx context.Context, s *connSlot, in pipeline.Intake, log *slog.Logger) {
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	// One clock reading serves both putting a device back and taking
	// the next one.
	now := time.Now()
	for {
		dv, wait := e.next(now)
		if dv == nil {
			t.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			now = time.Now()
			continue
		}
		obs := dv.poll(ctx, s)
		if ctx.Err() != nil {
			return
		}
		dv.report(obs.Err, log)
		if err := in.Offer(ctx, obs); err != nil {
			return
		}
		now = time.Now()
		e.reschedule(dv, now)
	}
}
