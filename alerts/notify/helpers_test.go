package notify

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// firingAt is a ventilator-offline notification as the alerts package
// makes it, started at start.
func firingAt(start time.Time, alertID string) Notification {
	return Notification{
		ID:        "h1:" + alertID + ":fire:" + start.Format("20060102T150405"),
		AlertID:   alertID,
		Status:    StatusFiring,
		Rule:      "vent-offline",
		Condition: "device_offline",
		Severity:  "critical",
		Hospital:  "h1",
		Device:    "vent-a2",
		Kind:      "ventilator",
		Bed:       "icu-a-2",
		Unit:      "icu-a",
		Cause:     "no valid answer for 6s: dial tcp 10.0.0.5:502: connection refused",
		Summary: Text{
			EN: "Ventilator vent-a2 (bed icu-a-2, unit ICU A) is offline",
			ZH: "ICU A icu-a-2床 呼吸机 vent-a2离线",
		},
		Description: Text{
			EN: "Ventilator vent-a2 (bed icu-a-2, unit ICU A) is offline since 2026-03-01 08:00:00 (2m0s). Cause: no valid answer for 6s. Rule vent-offline, severity critical.",
			ZH: "ICU A icu-a-2床 呼吸机 vent-a2离线，自 2026-03-01 08:00:00 起（持续 2m0s）。原因：6 秒无有效应答。规则 vent-offline，级别 critical。",
		},
		StartsAt: start.UTC(),
		At:       start.Add(2 * time.Minute).UTC(),
	}
}

// resolvedAt is n's resolve notice, ended at end.
func resolvedAt(n Notification, end time.Time) Notification {
	n.ID = "h1:" + n.AlertID + ":resolve:" + end.Format("20060102T150405")
	n.Status = StatusResolved
	n.EndsAt, n.At = end.UTC(), end.UTC()
	n.Summary = Text{EN: "Resolved: " + n.Summary.EN, ZH: "已恢复：" + n.Summary.ZH}
	n.Description = Text{EN: n.Summary.EN + " — no longer: now online.", ZH: n.Summary.ZH + " —— 已结束，当前：在线。"}
	return n
}

// writeFile writes content to a file of mode 0600 in a temporary
// directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
