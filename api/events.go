package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

const eventsRoute = "/api/v1/events"

// streamsRetryAfter is the Retry-After of a refused event stream.
const streamsRetryAfter = 10 * time.Second

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
// snapshot, which is all it needs. Transitions reach streams through the
// server's eventHub: a client that falls more than Config.EventBuffer
// transitions behind is disconnected (it reconnects), and beyond
// Config.MaxEventClients streams a new one is refused with 503 and
// Retry-After. Every write has its own deadline, so a client that stops
// reading is dropped instead of holding a goroutine.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	if r.URL.RawQuery != "" {
		writeError(w, http.StatusBadRequest, "unknown query parameter", r.URL.Path+": takes no parameters")
		return
	}
	c, err := s.streams.join()
	if err != nil {
		s.metrics.sseRefused.Inc()
		w.Header().Set("Retry-After", strconv.Itoa(int(streamsRetryAfter.Seconds())))
		writeError(w, http.StatusServiceUnavailable, "too many event streams",
			fmt.Sprintf("%d event streams are open, the most this gateway serves (http.max_event_clients); retry later", s.cfg.MaxEventClients))
		return
	}
	defer s.streams.leave(c)
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

	out := streamWriter{w: w, rc: http.NewResponseController(w), timeout: s.cfg.WriteTimeout}
	out.start()
	out.write(fmt.Appendf(nil, "retry: %d\n\n", s.cfg.Retry.Milliseconds()))
	out.write(eventFrame("site", viewSite(s.backend.Site())))
	out.write(eventFrame("snapshot", snap))
	if !s.sent(r, out.flush()) {
		return
	}
	beat := time.NewTicker(s.cfg.Heartbeat)
	defer beat.Stop()
	ctx := r.Context()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			out.start()
			out.write(heartbeat)
		case <-c.wake:
			evs, end := c.take()
			if end == streamLagged {
				s.log.Debug("event stream dropped: client fell behind", "remote", r.RemoteAddr)
				out.drop()
				return
			}
			out.start()
			for _, ev := range evs {
				out.write(ev)
			}
			s.metrics.sseEvents.Add(float64(len(evs)))
			if end == streamClosed {
				// The backend stopped: end the stream; the client
				// reconnects and gets a fresh snapshot.
				out.flush()
				return
			}
		}
		if !s.sent(r, out.flush()) {
			return
		}
	}
}

var heartbeat = []byte(": heartbeat\n\n")

func (s *Server) sent(r *http.Request, err error) bool {
	if err != nil {
		s.log.Debug("event stream closed", "remote", r.RemoteAddr, "err", err)
		return false
	}
	return true
}

// streamWriter writes an event stream in batches, each with a deadline of
// its own, and keeps the first error.
type streamWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	err     error
}

func (o *streamWriter) start() {
	// Not supported by test recorders; harmless then.
	_ = o.rc.SetWriteDeadline(time.Now().Add(o.timeout))
}

func (o *streamWriter) write(b []byte) {
	if o.err == nil {
		_, o.err = o.w.Write(b)
	}
}

// drop closes the connection rather than end the response: a client this
// far behind is sent nothing more, and its socket's buffers are freed.
// Where the connection cannot be taken (HTTP/2, tests), the response just
// ends.
func (o *streamWriter) drop() {
	if conn, _, err := o.rc.Hijack(); err == nil {
		_ = conn.Close()
	}
}

func (o *streamWriter) flush() error {
	if o.err == nil {
		o.err = o.rc.Flush()
	}
	return o.err
}

// eventFrame encodes one event. JSON has no raw newlines, so the data is
// one "data:" line.
func eventFrame(name string, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": "encode " + name + ": " + err.Error()})
		name = "error"
	}
	out := make([]byte, 0, len(b)+len(name)+17)
	out = append(append(append(out, "event: "...), name...), "\ndata: "...)
	return append(append(out, b...), "\n\n"...)
}
