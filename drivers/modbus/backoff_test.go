package modbus

import (
	"testing"
	"time"
)

// TestBackoffGrowsAndCaps checks the exponential backoff with ±50% jitter
// used for reconnects and for units that keep timing out.
func TestBackoffGrowsAndCaps(t *testing.T) {
	base, limit := 100*time.Millisecond, 2*time.Second
	for n := 1; n <= 12; n++ {
		want := base << (n - 1)
		if want > limit {
			want = limit
		}
		for i := 0; i < 200; i++ {
			d := backoff(base, limit, n)
			if d < want/2 || d >= want*3/2 {
				t.Fatalf("attempt %d: %v outside [%v, %v)", n, d, want/2, want*3/2)
			}
		}
	}
}

// TestStartOffsetSpreads checks that devices start spread over their
// interval, on slot boundaries, and always at the same offset.
func TestStartOffsetSpreads(t *testing.T) {
	iv := time.Second
	seen := map[time.Duration]bool{}
	for i := 0; i < 1000; i++ {
		id := "dev-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		o := startOffset(id, iv)
		if o < 0 || o >= iv || o%(iv/offsetSlots) != 0 || o != startOffset(id, iv) {
			t.Fatalf("offset %v of %s", o, id)
		}
		seen[o] = true
	}
	if len(seen) < offsetSlots*9/10 {
		t.Errorf("1000 devices use only %d of %d start slots", len(seen), offsetSlots)
	}
}
