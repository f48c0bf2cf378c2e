package api

import (
	"context"
	"errors"
	"sync"

	"github.com/icugate/icugate/pipeline"
)

// errStreamsFull refuses an event stream beyond Config.MaxEventClients.
var errStreamsFull = errors.New("too many event streams")

// eventHub fans the backend's transitions out to event-stream clients.
//
// It holds one backend subscription however many clients listen (the
// gateway buffers 1,024 transitions per subscription, about 180 KB) and
// encodes each transition once for all of them. Each client has a queue of
// at most Config.EventBuffer encoded events, which costs nothing while
// empty. A client whose queue overflows has fallen behind (a stalled
// network, a suspended laptop): it is disconnected and counted rather than
// allowed to hold memory or to make the hub wait. Its EventSource
// reconnects and starts again from a fresh snapshot, which is all a
// dashboard needs. The hub never blocks on a client.
//
// The subscription starts with the first client and ends with the last,
// so an idle hub has no goroutine and nothing to stop.
type eventHub struct {
	backend Backend
	metrics *metrics
	max     int // clients at most
	queue   int // queued events per client at most

	mu  sync.Mutex
	n   int     // clients, over all subscriptions
	cur *hubSub // the subscription new clients join; nil when none
}

// hubSub is one backend subscription and the clients it feeds. A client
// stays with the subscription it joined, so that it never sees the
// transitions of two subscriptions interleaved.
type hubSub struct {
	cancel  context.CancelFunc
	clients map[*streamClient]struct{} // guarded by eventHub.mu
}

// streamClient is one event stream's queue, filled by the hub's pump and
// emptied by the stream's handler.
type streamClient struct {
	sub *hubSub
	// wake has room for one signal: there is something to take.
	wake chan struct{}

	mu      sync.Mutex
	pending [][]byte // encoded events, shared between clients: read only
	spare   [][]byte // the slice taken last, reused
	end     streamEnd
}

// streamEnd is why a stream ends, if it does.
type streamEnd int

const (
	streamOpen   streamEnd = iota
	streamLagged           // fell more than the queue behind
	streamClosed           // the backend ended the subscription
)

func newEventHub(b Backend, m *metrics, maxClients, queue int) *eventHub {
	return &eventHub{backend: b, metrics: m, max: maxClients, queue: queue}
}

// join adds a client, subscribing to the backend if it is the first. Call
// it before taking the snapshot the client starts from: a transition in
// between is then sent twice at worst (in the snapshot and as an event),
// never lost.
func (h *eventHub) join() (*streamClient, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n >= h.max {
		return nil, errStreamsFull
	}
	if h.cur == nil {
		ctx, cancel := context.WithCancel(context.Background())
		sub := &hubSub{cancel: cancel, clients: map[*streamClient]struct{}{}}
		go h.pump(sub, h.backend.Subscribe(ctx))
		h.cur = sub
	}
	c := &streamClient{sub: h.cur, wake: make(chan struct{}, 1)}
	h.cur.clients[c] = struct{}{}
	h.n++
	return c, nil
}

// leave removes a client; the last one out ends the subscription.
func (h *eventHub) leave(c *streamClient) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(c)
}

func (h *eventHub) removeLocked(c *streamClient) {
	sub := c.sub
	if _, ok := sub.clients[c]; !ok {
		return
	}
	delete(sub.clients, c)
	h.n--
	if len(sub.clients) == 0 && h.cur == sub {
		sub.cancel()
		h.cur = nil
	}
}

// clients is how many streams are open.
func (h *eventHub) clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// pump delivers one subscription's transitions until the backend closes
// it (after cancel, or when the gateway stops: then its clients' streams
// end, and they reconnect).
func (h *eventHub) pump(sub *hubSub, ch <-chan pipeline.Transition) {
	for t := range ch {
		ev := eventFrame("transition", t)
		h.mu.Lock()
		for c := range sub.clients {
			if !c.push(ev, h.queue) {
				h.metrics.sseLagged.Inc()
				h.removeLocked(c)
			}
		}
		h.mu.Unlock()
	}
	h.mu.Lock()
	for c := range sub.clients {
		c.stop(streamClosed)
		h.removeLocked(c)
	}
	if h.cur == sub {
		h.cur = nil
	}
	h.mu.Unlock()
	sub.cancel()
}

// push queues ev; false when the queue is full, and then the client is
// marked lagged and its queue dropped.
func (c *streamClient) push(ev []byte, limit int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) >= limit {
		c.pending = nil
		c.end = streamLagged
		c.signal()
		return false
	}
	c.pending = append(c.pending, ev)
	c.signal()
	return true
}

func (c *streamClient) stop(why streamEnd) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.end = why
	c.signal()
}

func (c *streamClient) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// take returns the queued events (valid until the next take) and whether
// and why the stream ends.
func (c *streamClient) take() ([][]byte, streamEnd) {
	c.mu.Lock()
	defer c.mu.Unlock()
	evs := c.pending
	clear(c.spare)
	c.pending, c.spare = c.spare[:0], evs
	return evs, c.end
}
