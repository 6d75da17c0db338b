package stats

import (
	"math"
	"slices"

	dto "github.com/prometheus/client_model/go"
)

// Bucket is a cumulative histogram bucket: Count observations were at
// most UpperBound.
type Bucket struct {
	UpperBound float64
	Count      float64
}

// Histogram is a cumulative histogram, buckets by increasing bound.
type Histogram []Bucket

// addDTO adds a Prometheus histogram's buckets to h.
func (h Histogram) addDTO(m *dto.Histogram) Histogram {
	inf := false
	for _, b := range m.GetBucket() {
		h = h.add(b.GetUpperBound(), float64(b.GetCumulativeCount()))
		inf = inf || math.IsInf(b.GetUpperBound(), 1)
	}
	if !inf {
		// The +Inf bucket may be left implicit: the sample count.
		h = h.add(math.Inf(1), float64(m.GetSampleCount()))
	}
	return h
}

// add adds count to the bucket with bound ub, creating it in order.
func (h Histogram) add(ub, count float64) Histogram {
	i, found := slices.BinarySearchFunc(h, ub, func(b Bucket, ub float64) int {
		switch {
		case b.UpperBound < ub:
			return -1
		case b.UpperBound > ub:
			return 1
		}
		return 0
	})
	if found {
		h[i].Count += count
		return h
	}
	return slices.Insert(h, i, Bucket{UpperBound: ub, Count: count})
}

// sub is h minus before, bucket by bucket (a counter reset, a bucket
// smaller than before, takes h's value).
func (h Histogram) sub(before Histogram) Histogram {
	out := slices.Clone(h)
	for i := range out {
		for _, b := range before {
			if b.UpperBound == out[i].UpperBound && b.Count <= out[i].Count {
				out[i].Count -= b.Count
			}
		}
	}
	return out
}

// Total is the number of observations.
func (h Histogram) Total() float64 {
	if len(h) == 0 {
		return 0
	}
	return h[len(h)-1].Count
}

// Quantile estimates the q-quantile (0 ≤ q ≤ 1) as Prometheus's
// histogram_quantile does: linear interpolation within the bucket the
// rank falls in, the first bucket starting at 0, and the highest finite
// bound when the rank falls in the +Inf bucket. NaN without observations.
func (h Histogram) Quantile(q float64) float64 {
	total := h.Total()
	if total == 0 || len(h) == 0 || math.IsNaN(q) {
		return math.NaN()
	}
	rank := q * total
	i, _ := slices.BinarySearchFunc(h, rank, func(b Bucket, r float64) int {
		if b.Count < r {
			return -1
		}
		return 1
	})
	if i >= len(h) {
		i = len(h) - 1
	}
	if math.IsInf(h[i].UpperBound, 1) {
		if i == 0 {
			return math.NaN()
		}
		return h[i-1].UpperBound
	}
	lower, below := 0.0, 0.0
	if i > 0 {
		lower, below = h[i-1].UpperBound, h[i-1].Count
	}
	inBucket := h[i].Count - below
	if inBucket <= 0 {
		return h[i].UpperBound
	}
	return lower + (h[i].UpperBound-lower)*(rank-below)/inBucket
}
