package gateway

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/icugate/icugate/pipeline"
)

// subscriberBuffer is how many transitions a slow subscriber (an SSE
// client on a bad network) may lag before events to it are dropped. The
// engine never waits for a subscriber.
const subscriberBuffer = 1024

// hub fans transitions out to subscribers (the SSE endpoint). Publishing
// never blocks: a subscriber whose buffer is full misses the event, and the
// miss is counted.
type hub struct {
	mu      sync.Mutex
	subs    map[chan pipeline.Transition]struct{}
	dropped atomic.Uint64
}

func newHub() *hub {
	return &hub{subs: map[chan pipeline.Transition]struct{}{}}
}

// Subscribe returns a channel of transitions, closed when ctx ends.
func (h *hub) Subscribe(ctx context.Context) <-chan pipeline.Transition {
	ch := make(chan pipeline.Transition, subscriberBuffer)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	go func() {
		<-ctx.Done()
		h.mu.Lock()
		delete(h.subs, ch)
		close(ch)
		h.mu.Unlock()
	}()
	return ch
}

// publish hands t to every subscriber that has room.
func (h *hub) publish(ts []pipeline.Transition) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		for _, t := range ts {
			select {
			case ch <- t:
			default:
				h.dropped.Add(1)
			}
		}
	}
}
