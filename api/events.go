package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

const eventsRoute = "/api/v1/events"

// maxBatch bounds how many queued transitions go out in one write.
const maxBatch = 256

// events streams transitions as server-sent events (GET /api/v1/events):
//
//	retry: <ms>               reconnection hint
//	event: site               the site's units, beds and pools (as GET
//	data: {...}               /api/v1/site), then
//	event: snapshot           the full snapshot, so a client can render
//	data: {...}               without a second request
//	event: transition         one per pipeline.Transition, in order
//	data: {...}
//	: heartbeat               a comment every Heartbeat, so proxies and
//	                          the client see the stream alive
//
// A stream never replays: after a reconnect the client gets a fresh
// snapshot, which is all it needs. Every write has its own deadline, so a
// client that stops reading is dropped instead of holding a goroutine.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	if r.URL.RawQuery != "" {
		writeError(w, http.StatusBadRequest, "unknown query parameter", r.URL.Path+": takes no parameters")
		return
	}
	rc := http.NewResponseController(w)
	ctx := r.Context()
	// Subscribe before taking the snapshot: a transition in between is
	// sent twice at worst (already in the snapshot, then as an event),
	// never lost.
	sub := s.backend.Subscribe(ctx)
	snap := s.backend.Snapshot()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Connection", "keep-alive")
	// Tell nginx-style proxies not to buffer the stream.
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	s.metrics.sseClients.Inc()
	defer s.metrics.sseClients.Dec()

	var buf bytes.Buffer
	send := func() bool {
		_ = rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
		_, err := w.Write(buf.Bytes())
		buf.Reset()
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			s.log.Debug("event stream closed", "remote", r.RemoteAddr, "err", err)
			return false
		}
		return true
	}
	fmt.Fprintf(&buf, "retry: %d\n\n", s.cfg.Retry.Milliseconds())
	writeEvent(&buf, "site", viewSite(s.backend.Site()))
	writeEvent(&buf, "snapshot", snap)
	if !send() {
		return
	}
	beat := time.NewTicker(s.cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			buf.WriteString(": heartbeat\n\n")
		case t, ok := <-sub:
			if !ok {
				// The backend stopped: end the stream; the client
				// reconnects and gets a fresh snapshot.
				return
			}
			writeEvent(&buf, "transition", t)
			s.metrics.sseEvents.Inc()
			// Send what else is queued (a burst, bounded) in one write.
			for more, n := true, 1; more && n < maxBatch; n++ {
				select {
				case t, ok := <-sub:
					if !ok {
						send()
						return
					}
					writeEvent(&buf, "transition", t)
					s.metrics.sseEvents.Inc()
				default:
					more = false
				}
			}
		}
		if !send() {
			return
		}
	}
}

// writeEvent appends one event. JSON has no raw newlines, so the data is
// one "data:" line.
func writeEvent(buf *bytes.Buffer, name string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": "encode " + name + ": " + err.Error()})
		name = "error"
	}
	fmt.Fprintf(buf, "event: %s\ndata: %s\n\n", name, b)
}
