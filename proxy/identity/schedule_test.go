package identity

import (
	"testing"
	"time"
)

func TestRenewAfter(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		lifetime time.Duration
		r        float64
		want     time.Duration
	}{
		{24 * time.Hour, 0.5, time.Duration(0.7 * float64(24*time.Hour))},
		{24 * time.Hour, 0, time.Duration(0.63 * float64(24*time.Hour))},
		{24 * time.Hour, 0.999999, time.Duration(0.7 * (0.9 + 0.2*0.999999) * float64(24*time.Hour))},
		{2 * time.Second, 0.5, 1400 * time.Millisecond},
		{0, 0.5, 0},
		{-time.Hour, 0.5, 0},
	} {
		got := renewAfter(now, now.Add(tc.lifetime), tc.r)
		if d := got - tc.want; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("renewAfter(%v, r=%v) = %v, want %v", tc.lifetime, tc.r, got, tc.want)
		}
	}
	// Jitter stays within ±10 % of 70 %.
	for r := 0.0; r < 1; r += 0.01 {
		got := renewAfter(now, now.Add(100*time.Second), r)
		if got < 63*time.Second || got > 77*time.Second {
			t.Fatalf("r=%v: %v outside 63s–77s", r, got)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	lo, hi := time.Second, time.Minute
	for _, tc := range []struct {
		attempt int
		r       float64
		want    time.Duration
	}{
		{1, 0, 500 * time.Millisecond},
		{1, 0.999999, time.Second},
		{2, 0, time.Second},
		{3, 0.5, 3 * time.Second}, // 4s: 2s + 0.5·2s
		{6, 0, 16 * time.Second},  // 32s/2
		{7, 0, 30 * time.Second},  // capped at 60s, halved
		{100, 0.999999, time.Minute},
	} {
		got := retryAfter(tc.attempt, lo, hi, tc.r)
		if d := got - tc.want; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("retryAfter(%d, r=%v) = %v, want %v", tc.attempt, tc.r, got, tc.want)
		}
	}
}

func TestCapRetry(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	lo := time.Second
	for _, tc := range []struct {
		name     string
		wait     time.Duration
		notAfter time.Time
		want     time.Duration
	}{
		{"no certificate", 30 * time.Second, time.Time{}, 30 * time.Second},
		{"plenty left", 30 * time.Second, now.Add(time.Hour), 30 * time.Second},
		{"half of what is left", 30 * time.Second, now.Add(20 * time.Second), 10 * time.Second},
		{"about to expire", 30 * time.Second, now.Add(time.Second), time.Second},
		{"expired", 30 * time.Second, now.Add(-time.Minute), time.Second},
		{"short wait kept", 500 * time.Millisecond, now.Add(time.Second), 500 * time.Millisecond},
	} {
		if got := capRetry(tc.wait, now, tc.notAfter, lo); got != tc.want {
			t.Errorf("%s: capRetry = %v, want %v", tc.name, got, tc.want)
		}
	}
}
