package config

import (
	"fmt"
	"strings"
)

// Summary describes the site in one line: units by class, beds, pools,
// devices by kind and by transport, and profiles. `icugate check` prints
// it for a valid config.
func (s *Site) Summary() string {
	classes := map[string]int{}
	beds := 0
	for _, u := range s.Units {
		classes[u.Class]++
		beds += len(u.Beds)
	}
	kinds := map[string]int{}
	transports := map[string]int{}
	for i := range s.Devices {
		kinds[s.Devices[i].Kind]++
		transports[s.Devices[i].Transport()]++
	}
	return fmt.Sprintf("hospital %s: %s (%s), %s, %s, %s (%s; %s), %s",
		s.Hospital.ID, plural(len(s.Units), "unit"), counts(classes), plural(beds, "bed"), plural(len(s.Pools), "pool"),
		plural(len(s.Devices), "device"), counts(kinds), counts(transports), plural(len(s.Profiles), "profile"))
}

// counts renders a tally as "3 monitor, 2 ventilator", keys sorted.
func counts(m map[string]int) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
