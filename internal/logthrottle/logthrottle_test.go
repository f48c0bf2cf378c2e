package logthrottle

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// call is one Allow at a time offset from the start, and what it returns.
type call struct {
	at         time.Duration
	key        string
	ok         bool
	suppressed int
}

func TestLimiter(t *testing.T) {
	for _, c := range []struct {
		name     string
		lines    int
		interval time.Duration
		calls    []call
	}{
		{"one per interval", 1, 10 * time.Second, []call{
			{0, "a", true, 0},
			{time.Second, "a", false, 0},
			{9 * time.Second, "a", false, 0},
			{10 * time.Second, "a", true, 2}, // the interval is over: the count rides on this line
			{11 * time.Second, "a", false, 0},
			{25 * time.Second, "a", true, 1},
			{60 * time.Second, "a", true, 0}, // nothing held back since
		}},
		{"keys are independent", 1, 10 * time.Second, []call{
			{0, "a", true, 0},
			{0, "b", true, 0},
			{time.Second, "a", false, 0},
			{time.Second, "a", false, 0},
			{time.Second, "b", false, 0},
			{2 * time.Second, "c", true, 0},
			{10 * time.Second, "b", true, 1},
			{10 * time.Second, "a", true, 2},
		}},
		{"n per window", 2, time.Minute, []call{
			{0, "", true, 0},
			{time.Second, "", true, 0},
			{2 * time.Second, "", false, 0},
			{3 * time.Second, "", false, 0},
			{time.Minute, "", true, 2},
			{time.Minute + time.Second, "", true, 0},
			{time.Minute + 2*time.Second, "", false, 0},
			{2 * time.Minute, "", true, 1},
		}},
		{"the window starts at the first line after a quiet spell", 2, time.Minute, []call{
			{0, "", true, 0},
			{90 * time.Second, "", true, 0},
			{100 * time.Second, "", true, 0},
			{110 * time.Second, "", false, 0},
			{149 * time.Second, "", false, 0},
			{150 * time.Second, "", true, 2},
		}},
		{"clock stepped back starts a new interval", 1, time.Hour, []call{
			{time.Hour, "a", true, 0},
			{time.Hour + time.Second, "a", false, 0},
			{0, "a", true, 1},
			{time.Second, "a", false, 0},
		}},
		{"lines below 1 means 1", 0, time.Minute, []call{
			{0, "a", true, 0},
			{time.Second, "a", false, 0},
			{time.Minute, "a", true, 1},
		}},
		{"zero interval lets everything through", 1, 0, []call{
			{0, "a", true, 0},
			{0, "a", true, 0},
			{0, "a", true, 0},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
			now := t0
			l := New(c.lines, c.interval, func() time.Time { return now })
			for i, k := range c.calls {
				now = t0.Add(k.at)
				if ok, s := l.Allow(k.key); ok != k.ok || s != k.suppressed {
					t.Fatalf("call %d (%v, key %q): allowed=%v suppressed=%d, want %v %d", i, k.at, k.key, ok, s, k.ok, k.suppressed)
				}
			}
		})
	}
}

// TestLimiterCountsEveryLine checks that, under concurrent callers, the
// lines allowed plus the suppressed counts they carry account for every
// call: the log is a sample, but it says exactly how much it left out.
func TestLimiterCountsEveryLine(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	l := New(3, time.Second, clock)
	const callers, each = 8, 500
	var wg sync.WaitGroup
	counted := make([]int, callers)
	for g := range callers {
		wg.Go(func() {
			for i := range each {
				if i%50 == 0 {
					mu.Lock()
					now = now.Add(300 * time.Millisecond)
					mu.Unlock()
				}
				if ok, s := l.Allow(fmt.Sprint("k", i%2)); ok {
					counted[g] += 1 + s
				}
			}
		})
	}
	wg.Wait()
	// Whatever is still held is reported by the next line of each key.
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	total := 0
	for _, key := range []string{"k0", "k1"} {
		ok, s := l.Allow(key)
		if !ok {
			t.Fatalf("key %s refused after an hour", key)
		}
		total += s
	}
	for _, n := range counted {
		total += n
	}
	if total != callers*each {
		t.Errorf("lines allowed plus suppressed = %d, want %d calls", total, callers*each)
	}
}

func TestNewDefaultsToWallClock(t *testing.T) {
	l := New(1, time.Hour, nil)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("first line refused")
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("second line within the hour allowed")
	}
}
