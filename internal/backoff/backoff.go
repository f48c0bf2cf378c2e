// Package backoff computes the wait before retrying something that failed
// (a dial, a write, a connection to a broker). Every retry loop in the
// gateway uses it, so they all grow, cap and jitter the same way.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Exponential is a capped exponential backoff with "equal jitter".
//
// The wait before retry number attempt (0 for the first retry) is drawn
// uniformly from [c - c/2, c], where the ceiling c is Min·2^attempt capped
// at Max. Half of the ceiling is kept so that a struggling peer is never
// retried at once; the other half is random so that callers that failed
// together (every gateway of a region when a server restarts, every device
// behind one switch) do not retry in lockstep. It is not "full jitter"
// (uniform in [0, c]): that can retry almost immediately.
//
// The zero value waits 0 for every attempt. Max wins over Min: when Min >
// Max every ceiling is Max. An Exponential is a plain value, safe for
// concurrent use; the caller keeps the attempt count.
type Exponential struct {
	// Min is the ceiling of the first retry's wait (attempt 0); zero or
	// less means no wait.
	Min time.Duration
	// Max caps every wait; zero or less means no wait.
	Max time.Duration
}

// Delay returns the wait before retry number attempt, counted from 0 for
// the first retry (a negative attempt counts as 0). The result is in
// [c - c/2, c] for the ceiling c described on Exponential, so it is never
// negative and never above Max.
func (e Exponential) Delay(attempt int) time.Duration {
	c := e.ceiling(attempt)
	half := c / 2
	return c - half + rand.N(half+1)
}

// ceiling is Min·2^attempt capped at Max, without overflowing however
// large attempt is.
func (e Exponential) ceiling(attempt int) time.Duration {
	if e.Min <= 0 || e.Max <= 0 {
		return 0
	}
	if e.Min >= e.Max {
		return e.Max
	}
	if attempt <= 0 {
		return e.Min
	}
	// Min·2^attempt > Max exactly when Min > Max>>attempt; checking that
	// first keeps the shift from overflowing. Max>>63 is 0 for any
	// Duration, so larger attempts are capped too.
	if attempt >= 63 || e.Min > e.Max>>attempt {
		return e.Max
	}
	return e.Min << attempt
}
