package backoff

import (
	"math"
	"testing"
	"time"
)

const ms = time.Millisecond

// TestCeiling checks growth, the cap, attempt 0, overflow at huge attempt
// counts and misuse (Min above Max, zero and negative bounds).
func TestCeiling(t *testing.T) {
	grow := Exponential{Min: 100 * ms, Max: 2 * time.Second}
	huge := Exponential{Min: 1, Max: math.MaxInt64}
	for _, c := range []struct {
		name    string
		e       Exponential
		attempt int
		want    time.Duration
	}{
		{"attempt 0 is Min", grow, 0, 100 * ms},
		{"negative attempt counts as 0", grow, -5, 100 * ms},
		{"doubles", grow, 1, 200 * ms},
		{"doubles again", grow, 4, 1600 * ms},
		{"capped", grow, 5, 2 * time.Second},
		{"stays capped", grow, 40, 2 * time.Second},
		{"exactly Max", Exponential{Min: 250 * ms, Max: time.Second}, 2, time.Second},
		{"attempt 62 fits", huge, 62, 1 << 62},
		{"attempt 63 would overflow", huge, 63, math.MaxInt64},
		{"attempt 64", huge, 64, math.MaxInt64},
		{"attempt MaxInt", huge, math.MaxInt, math.MaxInt64},
		{"large Min near overflow", Exponential{Min: math.MaxInt64 / 3, Max: math.MaxInt64}, 2, math.MaxInt64},
		{"Min above Max: Max wins", Exponential{Min: 10 * time.Second, Max: time.Second}, 0, time.Second},
		{"Min above Max, later attempt", Exponential{Min: 10 * time.Second, Max: time.Second}, 3, time.Second},
		{"zero value", Exponential{}, 3, 0},
		{"zero Min", Exponential{Max: time.Second}, 3, 0},
		{"zero Max", Exponential{Min: time.Second}, 3, 0},
		{"negative Min", Exponential{Min: -time.Second, Max: time.Second}, 3, 0},
		{"negative Max", Exponential{Min: time.Second, Max: -time.Second}, 0, 0},
	} {
		if got := c.e.ceiling(c.attempt); got != c.want {
			t.Errorf("%s: %+v attempt %d: ceiling %v, want %v", c.name, c.e, c.attempt, got, c.want)
		}
	}
}

// TestDelayEqualJitter checks over many draws that every delay lies in
// [c - c/2, c] and that the draws spread over that range rather than
// sitting at one end.
func TestDelayEqualJitter(t *testing.T) {
	for _, c := range []struct {
		name    string
		e       Exponential
		attempt int
	}{
		{"first retry", Exponential{Min: 100 * ms, Max: 2 * time.Second}, 0},
		{"growing", Exponential{Min: 100 * ms, Max: 2 * time.Second}, 3},
		{"capped", Exponential{Min: 100 * ms, Max: 2 * time.Second}, 30},
		{"odd nanoseconds", Exponential{Min: 7, Max: 1001}, 4},
		{"huge attempt, huge cap", Exponential{Min: time.Second, Max: math.MaxInt64}, math.MaxInt},
		{"Min above Max", Exponential{Min: time.Minute, Max: time.Second}, 0},
	} {
		ceil := c.e.ceiling(c.attempt)
		lo := ceil - ceil/2
		seenMin, seenMax := time.Duration(math.MaxInt64), time.Duration(0)
		for range 2000 {
			d := c.e.Delay(c.attempt)
			if d < lo || d > ceil {
				t.Fatalf("%s: delay %v outside [%v, %v]", c.name, d, lo, ceil)
			}
			seenMin, seenMax = min(seenMin, d), max(seenMax, d)
		}
		// 2000 uniform draws all missing the lowest or highest tenth of
		// the range happens with probability about 2·0.9^2000.
		if spread := ceil - lo; seenMin > lo+spread/10 || seenMax < ceil-spread/10 {
			t.Errorf("%s: draws in [%v, %v], want them spread over [%v, %v]", c.name, seenMin, seenMax, lo, ceil)
		}
	}
}

// TestDelayDegenerate checks the waits that have no room for jitter.
func TestDelayDegenerate(t *testing.T) {
	for _, c := range []struct {
		e    Exponential
		want time.Duration
	}{
		{Exponential{}, 0},
		{Exponential{Min: -time.Second, Max: time.Second}, 0},
		{Exponential{Min: 1, Max: 1}, 1},
	} {
		for range 100 {
			if d := c.e.Delay(0); d != c.want {
				t.Fatalf("%+v: delay %v, want %v", c.e, d, c.want)
			}
		}
	}
}
