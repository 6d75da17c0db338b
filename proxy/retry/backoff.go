package retry

import (
	"math/rand/v2"
	"time"
)

// Backoff defaults (Envoy's).
const (
	DefaultBackoffBase = 25 * time.Millisecond
	DefaultBackoffMax  = 250 * time.Millisecond
)

// Backoff returns how long to wait before retrying after the attempt-th
// attempt (the first is 1): a random duration in [0, min(250ms,
// 25ms × (2^attempt − 1))]. src is the randomness (nil: the runtime's
// generator; an injected one is used without a lock).
func Backoff(attempt int, src rand.Source) time.Duration {
	return BackoffWith(attempt, DefaultBackoffBase, DefaultBackoffMax, src)
}

// BackoffWith is Backoff with another base and cap.
func BackoffWith(attempt int, base, maxWait time.Duration, src rand.Source) time.Duration {
	if attempt < 1 || base <= 0 {
		return 0
	}
	upper := maxWait
	if attempt < 32 {
		if u := base * (1<<attempt - 1); u/(1<<attempt-1) == base && u < upper {
			upper = u
		}
	}
	if upper <= 0 {
		return 0
	}
	var x uint64
	if src == nil {
		x = rand.Uint64()
	} else {
		x = src.Uint64()
	}
	return time.Duration(x % (uint64(upper) + 1))
}
