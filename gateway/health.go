package gateway

import (
	"sort"
	"sync"
)

// health collects, by source, why the gateway is degraded: each part that
// can fail while the gateway keeps running (the outbox, InfluxDB, the state
// store) sets or clears its own reason, and /readyz lists them all.
type health struct {
	mu      sync.Mutex
	reasons map[string]string // source → plain sentence
}

func newHealth() *health { return &health{reasons: map[string]string{}} }

// set records source's reason; an empty reason clears it.
func (h *health) set(source, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if reason == "" {
		delete(h.reasons, source)
		return
	}
	h.reasons[source] = reason
}

// has reports whether source has a reason set.
func (h *health) has(source string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.reasons[source]
	return ok
}

// bySource returns a copy of the reasons by source.
func (h *health) bySource() map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]string, len(h.reasons))
	for k, v := range h.reasons {
		out[k] = v
	}
	return out
}

// list returns the reasons as "source: reason", sorted by source so the
// answer is stable.
func (h *health) list() []string {
	by := h.bySource()
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+": "+by[k])
	}
	return out
}
