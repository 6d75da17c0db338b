package retry

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

type constSource uint64

func (c constSource) Uint64() uint64 { return uint64(c) }

func TestBackoffBounds(t *testing.T) {
	tests := []struct {
		attempt int
		upper   time.Duration
	}{
		{0, 0},
		{1, 25 * time.Millisecond},
		{2, 75 * time.Millisecond},
		{3, 175 * time.Millisecond},
		{4, 250 * time.Millisecond},
		{40, 250 * time.Millisecond},
		{math.MaxInt, 250 * time.Millisecond},
	}
	for _, tt := range tests {
		// The largest draw maps to the upper bound exactly.
		if got := Backoff(tt.attempt, constSource(uint64(tt.upper))); got != tt.upper {
			t.Errorf("Backoff(%d) with the top draw = %v, want %v", tt.attempt, got, tt.upper)
		}
		src := rand.NewPCG(uint64(tt.attempt), 7)
		for range 1000 {
			if got := Backoff(tt.attempt, src); got < 0 || got > tt.upper {
				t.Fatalf("Backoff(%d) = %v outside [0, %v]", tt.attempt, got, tt.upper)
			}
		}
	}
}

func TestBackoffJitterSpreads(t *testing.T) {
	src := rand.NewPCG(1, 1)
	var sum time.Duration
	const n = 10000
	for range n {
		sum += Backoff(4, src)
	}
	if mean := sum / n; mean < 115*time.Millisecond || mean > 135*time.Millisecond {
		t.Fatalf("mean backoff %v, want about 125ms", mean)
	}
}
