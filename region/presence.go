package region

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/icugate/icugate/report"
)

// presenceBook keeps every registered gateway's last presence message
// (report.PresenceTopic: retained "online" on connect, "offline" as the
// last will or on a clean stop). Presence is not signed: it only explains
// a silence (gateway_down or no_report), it never puts counts in or takes
// them out. Only registered parts are kept, so its size is bounded by the
// registry. Safe for concurrent use.
type presenceBook struct {
	mu sync.Mutex
	m  map[partKey]Presence
}

func newPresenceBook() *presenceBook { return &presenceBook{m: map[partKey]Presence{}} }

// Presence outcomes, for icugate_region_presence_total.
const (
	presenceOnline       = "online"
	presenceOffline      = "offline"
	presenceUnregistered = "unregistered"
	presenceMalformed    = "malformed"
)

// record takes one presence message and says what became of it.
func (b *presenceBook) record(cfg *Config, reg *Registry, topic string, payload []byte, now time.Time) (string, error) {
	region, hospital, part, err := parseTopic(topic, kindPresence)
	if err != nil {
		return presenceMalformed, err
	}
	if region != cfg.Region {
		return presenceMalformed, fmt.Errorf("presence of region %q, this aggregator serves %q", region, cfg.Region)
	}
	state := strings.TrimSpace(string(payload))
	if state != report.PresenceOnline && state != report.PresenceOffline {
		if len(state) > 32 {
			state = state[:32] + "..."
		}
		return presenceMalformed, fmt.Errorf("presence %q of %s part %s: want online or offline", state, hospital, part)
	}
	if h, ok := reg.Hospital(hospital); !ok || !h.HasPart(part) {
		return presenceUnregistered, fmt.Errorf("presence of %s part %s, which the registry does not list", hospital, part)
	}
	b.mu.Lock()
	b.m[partKey{hospital, part}] = Presence{Hospital: hospital, Part: part, State: state, At: now.UTC()}
	b.mu.Unlock()
	return state, nil
}

// list returns every gateway's last presence.
func (b *presenceBook) list() []Presence {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Presence, 0, len(b.m))
	for _, p := range b.m {
		out = append(out, p)
	}
	return out
}

// prune forgets parts the registry no longer lists (after a reload).
func (b *presenceBook) prune(reg *Registry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.m {
		if h, ok := reg.Hospital(k.hospital); !ok || !h.HasPart(k.part) {
			delete(b.m, k)
		}
	}
}
