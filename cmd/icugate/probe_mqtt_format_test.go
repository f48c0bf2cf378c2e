package main

import (
	"strings"
	"testing"
	"time"

	"github.com/icugate/icugate/config"
)

// TestDeviceTimeLines: the skew line and its warnings, against a fixed
// arrival time.
func TestDeviceTimeLines(t *testing.T) {
	arrived := time.Date(2026, 12, 5, 7, 1, 3, 800_000_000, time.UTC)
	withTime := &config.Profile{TimePath: "ts"}
	tests := []struct {
		name       string
		prof       *config.Profile
		device     time.Time
		retained   bool
		line, warn string
	}{
		{"behind", withTime, arrived.Add(-1800 * time.Millisecond), false,
			"device timestamp 2026-12-05T07:01:02Z, 1.8 s behind the gateway clock", ""},
		{"in step", withTime, arrived.Add(-20 * time.Millisecond), false,
			"device timestamp 2026-12-05T07:01:03.78Z, in step with the gateway clock (within 0.1 s)", ""},
		{"slightly ahead", withTime, arrived.Add(1500 * time.Millisecond), false,
			"device timestamp 2026-12-05T07:01:05.3Z, 1.5 s ahead of the gateway clock", ""},
		{"ahead", withTime, arrived.Add(40 * time.Second), false,
			"device timestamp 2026-12-05T07:01:43.8Z, 40.0 s ahead of the gateway clock",
			"the device clock is 40.0 s ahead of the gateway clock: the gateway uses its own receipt time for such messages. Set the device's clock (NTP)"},
		{"beyond the future limit", withTime, arrived.Add(10 * time.Minute), false, "10m0s ahead",
			"the device clock is 10m0s ahead, beyond the gateway's limit (5m0s): the gateway drops its messages"},
		{"stale", withTime, arrived.Add(-31 * time.Second), false, "31.0 s behind",
			"the device timestamp is 31.0 s old, beyond the device's freshness window (30s): the gateway drops such a message as stale"},
		{"days old", withTime, arrived.Add(-50 * time.Hour), false, "50h behind", "50h old"},
		{"old retained message", withTime, arrived.Add(-2 * time.Hour), true, "2h0m0s behind",
			"this retained message is 2h0m0s old, beyond the device's freshness window (30s): the gateway ignores it"},
		{"profile without time_path", &config.Profile{}, time.Time{}, false,
			"device timestamp: none (the profile has no time_path): the gateway stamps each message with its arrival time, and ignores retained ones", ""},
		{"none in the payload", withTime, time.Time{}, false, "device timestamp: none usable at ts", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line, warn := deviceTimeLines(tt.prof, tt.device, arrived, tt.retained, 30*time.Second, 5*time.Minute)
			if !strings.Contains(line, tt.line) {
				t.Errorf("line %q, want it to contain %q", line, tt.line)
			}
			if (tt.warn == "") != (warn == "") || !strings.Contains(warn, tt.warn) {
				t.Errorf("warning %q, want %q", warn, tt.warn)
			}
		})
	}
}

// TestShownPayload: payloads are shown indented, cut on a character
// boundary with a note, and quoted when they are not text.
func TestShownPayload(t *testing.T) {
	long := strings.Repeat("é", 3000) // 6000 bytes of two-byte runes
	tests := []struct {
		name, payload, want string
	}{
		{"json", `{"a":1}`, `  {"a":1}`},
		{"lines are indented", "{\n\"a\": 1\n}\n", "  {\n  \"a\": 1\n  }"},
		{"empty", "", "  (empty)"},
		{"control bytes", "a\x1bb", `  (not text; shown quoted) "a\x1bb"`},
		{"cut on a character", long, "  " + strings.Repeat("é", 2048) + "\n  … (truncated: first 4096 of 6000 bytes shown)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := shownPayload([]byte(tt.payload)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
