package loadgen

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// distributions draw durations between about 1µs and 60s in several shapes.
var distributions = map[string]func(r *rand.Rand) time.Duration{
	"uniform-µs":  func(r *rand.Rand) time.Duration { return time.Duration(1000 + r.Int64N(999_000)) },
	"uniform-all": func(r *rand.Rand) time.Duration { return time.Duration(1000 + r.Int64N(60e9)) },
	"log-uniform": func(r *rand.Rand) time.Duration {
		return time.Duration(math.Exp(math.Log(1e3) + r.Float64()*math.Log(6e7)))
	},
	"exponential": func(r *rand.Rand) time.Duration { return time.Duration(1000 + r.ExpFloat64()*200e3) },
	"lognormal":   func(r *rand.Rand) time.Duration { return time.Duration(math.Exp(11 + 2*r.NormFloat64())) },
	"bimodal": func(r *rand.Rand) time.Duration {
		if r.IntN(100) == 0 {
			return time.Duration(200e6 + r.Int64N(10e6)) // rare 200ms stalls
		}
		return time.Duration(50e3 + r.Int64N(20e3))
	},
	"constant": func(*rand.Rand) time.Duration { return 123456 * time.Nanosecond },
	"extremes": func(r *rand.Rand) time.Duration {
		return []time.Duration{time.Microsecond, 60 * time.Second}[r.IntN(2)]
	},
}

var testPercentiles = []float64{0, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100}

// TestHistogramAccuracy compares every percentile with the exact order
// statistic of the sorted samples, for random distributions and sizes.
func TestHistogramAccuracy(t *testing.T) {
	for name, draw := range distributions {
		t.Run(name, func(t *testing.T) {
			for seed := range uint64(5) {
				r := rand.New(rand.NewPCG(seed, 42))
				n := 1 + r.IntN(20000)
				var h Histogram
				samples := make([]time.Duration, n)
				var sum time.Duration
				for i := range samples {
					samples[i] = draw(r)
					sum += samples[i]
					h.Record(samples[i])
				}
				slices.Sort(samples)
				if h.Count() != uint64(n) {
					t.Fatalf("Count = %d, want %d", h.Count(), n)
				}
				for _, p := range testPercentiles {
					want := samples[rankOf(p, uint64(n))-1]
					got := h.Percentile(p)
					if rel := math.Abs(float64(got-want)) / float64(want); rel > 0.01 {
						t.Errorf("seed %d n %d: p%v = %v, want %v (error %.2f%%)", seed, n, p, got, want, 100*rel)
					}
				}
				if h.Min() != samples[0] || h.Max() != samples[n-1] {
					t.Errorf("Min, Max = %v, %v, want %v, %v", h.Min(), h.Max(), samples[0], samples[n-1])
				}
				if want := sum / time.Duration(n); h.Mean() != want {
					t.Errorf("Mean = %v, want %v", h.Mean(), want)
				}
			}
		})
	}
}

// TestHistogramBuckets checks the bucket layout itself: each value maps to a
// bucket whose midpoint is within 0.4%, and indexes never decrease.
func TestHistogramBuckets(t *testing.T) {
	prev := -1
	for v := int64(0); v <= maxValue; v = v + 1 + v/97 {
		i := bucketOf(v)
		if i < prev || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d after %d", v, i, prev)
		}
		prev = i
		if mid := bucketMid(i); math.Abs(float64(mid-v)) > float64(v)/256+0.5 {
			t.Fatalf("bucketMid(bucketOf(%d)) = %d", v, mid)
		}
	}
	if got := bucketOf(maxValue); got != numBuckets-1 {
		t.Errorf("bucketOf(max) = %d, want %d", got, numBuckets-1)
	}
}

func TestRankOf(t *testing.T) {
	for _, c := range []struct {
		p    float64
		n    uint64
		want uint64
	}{{99.9, 1000, 999}, {99.99, 10000, 9999}, {50, 1000, 500}, {50, 1, 1}, {0.001, 10, 1}, {99.5, 3, 3}, {90, 7, 7}, {10, 7, 1}} {
		if got := rankOf(c.p, c.n); got != c.want {
			t.Errorf("rankOf(%v, %d) = %d, want %d", c.p, c.n, got, c.want)
		}
	}
}

func TestHistogramEdges(t *testing.T) {
	var h Histogram
	if h.Percentile(50) != 0 || h.Min() != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Error("empty histogram should report zeros")
	}
	h.Record(-5)
	h.Record(time.Hour) // beyond the bucket range: clamped, Max still exact
	if h.Min() != 0 || h.Max() != time.Hour || h.Percentile(100) != time.Hour {
		t.Errorf("Min %v Max %v p100 %v", h.Min(), h.Max(), h.Percentile(100))
	}
	h.Reset()
	if h.Count() != 0 || h.Max() != 0 {
		t.Error("Reset left values behind")
	}
}

// TestHistogramMergeConcurrent records from many goroutines into a few
// shared histograms, merges them, and compares with a single histogram.
func TestHistogramMergeConcurrent(t *testing.T) {
	const workers, each = 8, 5000
	var shards [3]Histogram
	var want Histogram
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for range each {
				d := distributions["lognormal"](r)
				shards[w%len(shards)].Record(d)
				want.Record(d)
			}
		})
	}
	wg.Wait()
	var got Histogram
	for i := range shards {
		got.Merge(&shards[i])
	}
	if got.Count() != workers*each || got.Count() != want.Count() {
		t.Fatalf("Count = %d, want %d", got.Count(), workers*each)
	}
	for _, p := range testPercentiles {
		if got.Percentile(p) != want.Percentile(p) {
			t.Errorf("p%v: merged %v, direct %v", p, got.Percentile(p), want.Percentile(p))
		}
	}
	if got.Mean() != want.Mean() || got.Min() != want.Min() || got.Max() != want.Max() {
		t.Error("merged mean, min or max differ")
	}
}

func TestHistogramRecordAllocs(t *testing.T) {
	h := new(Histogram)
	d := time.Duration(1)
	if n := testing.AllocsPerRun(1000, func() { d = d*3 + 7; h.Record(d % time.Minute) }); n != 0 {
		t.Errorf("Record allocates %v times", n)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	h := new(Histogram)
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i) * 997)
	}
}
