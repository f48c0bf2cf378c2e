package modbus

import (
	"testing"
	"time"
)

// TestBackoffGrowsAndCaps checks the reconnect and unit backoff: the first
// failure waits about base, each further one doubles it up to limit, and
// the jitter keeps every wait within the upper half and never above limit.
func TestBackoffGrowsAndCaps(t *testing.T) {
	base, limit := 100*time.Millisecond, 2*time.Second
	for n := 1; n <= 12; n++ {
		want := base << (n - 1)
		if want > limit {
			want = limit
		}
		for i := 0; i < 200; i++ {
			d := backoff(base, limit, n)
			if d < want-want/2 || d > want {
				t.Fatalf("attempt %d: %v outside [%v, %v]", n, d, want-want/2, want)
			}
		}
	}
}

// TestStartOffsetSpreads checks that endpoints start spread over their
// interval, on slot boundaries, and always at the same offset.
func TestStartOffsetSpreads(t *testing.T) {
	for _, iv := range []time.Duration{time.Second, 10 * time.Second, 250 * time.Millisecond} {
		slots := int(iv / StartSlot)
		seen := map[time.Duration]bool{}
		for i := 0; i < 1000; i++ {
			key := "10.0.0." + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ":502"
			o := startOffset(key, iv)
			if o < 0 || o >= iv || o%StartSlot != 0 || o != startOffset(key, iv) {
				t.Fatalf("interval %v: offset %v of %s", iv, o, key)
			}
			seen[o] = true
		}
		if len(seen) < slots*9/10 {
			t.Errorf("interval %v: 1000 endpoints use only %d of %d start slots", iv, len(seen), slots)
		}
	}
	if o := startOffset("x", 50*time.Millisecond); o != 0 {
		t.Errorf("interval shorter than a slot: offset %v, want 0", o)
	}
}
