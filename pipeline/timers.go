package pipeline

import "time"

// timerKind says what a timer fires for.
type timerKind uint8

const (
	// timerFresh fires when a device's last valid answer may have expired.
	// Entries are lazy: a device refreshed since the entry was pushed is
	// re-pushed at its real deadline instead of expiring, so a steady
	// stream of answers costs nothing here.
	timerFresh timerKind = iota
	// timerHold fires when a bed's pending state change is due. Entries
	// for cancelled or restarted changes are dropped when they fire.
	timerHold
)

type timer struct {
	at   time.Time
	kind timerKind
	idx  int32
}

// timerHeap is a binary min-heap of timers ordered by time, then kind, then
// index, so that simultaneous timers fire in a deterministic order.
type timerHeap []timer

func (h timerHeap) less(i, j int) bool {
	a, b := &h[i], &h[j]
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	return a.idx < b.idx
}

func (h *timerHeap) push(t timer) {
	*h = append(*h, t)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

// pop removes and returns the earliest timer; the heap must not be empty.
func (h *timerHeap) pop() timer {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	*h = s[:n]
	h.down(0)
	return top
}

func (h timerHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
