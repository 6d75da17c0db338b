package identity

import "time"

// renewFraction of the remaining lifetime passes before renewal.
const renewFraction = 0.7

// renewAfter is how long after now an SVID valid until notAfter is
// renewed: 70 % of its remaining lifetime, give or take 10 % of that
// (r in [0, 1) picks where). Measuring from receipt rather than NotBefore
// ignores the issuer's backdating, so short lifetimes work too.
func renewAfter(now, notAfter time.Time, r float64) time.Duration {
	remaining := notAfter.Sub(now)
	if remaining <= 0 {
		return 0
	}
	return time.Duration(renewFraction * (0.9 + 0.2*r) * float64(remaining))
}

// retryAfter is the wait after the attempt-th consecutive failure
// (attempt ≥ 1): lo doubled per failure, capped at hi, then "equal
// jitter" — between half of that and all of it (r in [0, 1) picks where),
// so proxies that lost the service together do not return together.
func retryAfter(attempt int, lo, hi time.Duration, r float64) time.Duration {
	d := lo
	for i := 1; i < attempt && d < hi; i++ {
		d *= 2
	}
	if d > hi {
		d = hi
	}
	return d/2 + time.Duration(r*float64(d/2))
}

// capRetry keeps a retry's wait from running past what is left of the
// current certificate: at most half of its remaining lifetime, but not
// under lo, so that a proxy whose certificate is about to expire (or has)
// asks again every lo or so and recovers within about lo of the service's
// return. Without a certificate (notAfter zero) the wait is unchanged.
func capRetry(wait time.Duration, now, notAfter time.Time, lo time.Duration) time.Duration {
	if notAfter.IsZero() {
		return wait
	}
	return min(wait, max(lo, notAfter.Sub(now)/2))
}
