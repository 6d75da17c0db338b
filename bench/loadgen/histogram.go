package loadgen

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram layout: log-linear, like HdrHistogram. Values are nanoseconds.
// Below 2*subCount ns every value has its own bucket; above, each power of two
// [2^e, 2^(e+1)) is split into subCount equal buckets of width 2^(e-subBits).
// A bucket's width is at most 1/subCount of its lower bound, so reporting its
// midpoint is within 1/(2*subCount) = 0.39% of any value in it.
const (
	subBits    = 7
	subCount   = 1 << subBits
	maxBits    = 40 // values clamp below 2^40 ns, about 18 minutes
	numBuckets = (maxBits - subBits + 1) * subCount
	maxValue   = 1<<maxBits - 1
)

// Histogram records durations from 1ns to about 18 minutes with at most 0.4%
// relative error (within 1% from 1µs to 60s, as the bench requires). Record is
// lock-free and allocation-free and may be called from many goroutines at
// once. The zero value is an empty histogram ready to use; it must not be
// copied after first use. A Histogram takes about 35 KB.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	total  atomic.Uint64
	sum    atomic.Int64
	max    atomic.Int64
	minInv atomic.Int64 // math.MaxInt64 - min, so that the zero value means "none yet"
}

// bucketOf returns the bucket index of v, which must be in [0, maxValue].
func bucketOf(v int64) int {
	if v < 2*subCount {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - 1 - subBits
	return (shift+1)*subCount + int(v>>shift) - subCount
}

// bucketMid returns the midpoint of bucket i's range.
func bucketMid(i int) int64 {
	if i < 2*subCount {
		return int64(i)
	}
	shift := i/subCount - 1
	lo := int64(i%subCount+subCount) << shift
	return lo + (int64(1)<<shift)/2
}

// Record adds one duration. Negative durations count as zero; durations past
// the range count in the top bucket but still set Max exactly.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	b := v
	if b > maxValue {
		b = maxValue
	}
	h.counts[bucketOf(b)].Add(1)
	h.total.Add(1)
	h.sum.Add(v)
	storeMax(&h.max, v)
	storeMax(&h.minInv, math.MaxInt64-v)
}

// storeMax raises a to v if v is larger.
func storeMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// Merge adds every value recorded in o to h. o may still be recording, in
// which case Merge sees some consistent-enough prefix of its values.
func (h *Histogram) Merge(o *Histogram) {
	if o.total.Load() == 0 {
		return
	}
	for i := range o.counts {
		if c := o.counts[i].Load(); c != 0 {
			h.counts[i].Add(c)
		}
	}
	h.total.Add(o.total.Load())
	h.sum.Add(o.sum.Load())
	storeMax(&h.max, o.max.Load())
	storeMax(&h.minInv, o.minInv.Load())
}

// Reset empties h. It must not race with Record.
func (h *Histogram) Reset() {
	for i := range h.counts {
		h.counts[i].Store(0)
	}
	h.total.Store(0)
	h.sum.Store(0)
	h.max.Store(0)
	h.minInv.Store(0)
}

// Count returns how many values were recorded.
func (h *Histogram) Count() uint64 { return h.total.Load() }

// Max returns the largest recorded value exactly, or 0 if none.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Min returns the smallest recorded value exactly, or 0 if none.
func (h *Histogram) Min() time.Duration {
	if h.total.Load() == 0 {
		return 0
	}
	return time.Duration(math.MaxInt64 - h.minInv.Load())
}

// Mean returns the exact mean of the recorded values, or 0 if none.
func (h *Histogram) Mean() time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / int64(n))
}

// Percentile returns the value below or at which p percent of the recorded
// values fall (p in [0, 100]): the ceil(p/100*Count())-th smallest value, to
// within the histogram's precision. Percentile(0) is Min and Percentile(100)
// is Max. It returns 0 for an empty histogram.
func (h *Histogram) Percentile(p float64) time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	switch {
	case p <= 0:
		return h.Min()
	case p >= 100:
		return h.Max()
	}
	rank := rankOf(p, n)
	var cum uint64
	for i := range h.counts {
		cum += h.counts[i].Load()
		if cum >= rank {
			v := bucketMid(i)
			return min(max(time.Duration(v), h.Min()), h.Max())
		}
	}
	return h.Max()
}

// rankOf returns the 1-based rank of the p-th percentile among n values,
// ceil(p/100*n), forgiving float error so that 99.9% of 1000 is 999, not 1000.
func rankOf(p float64, n uint64) uint64 {
	x := p / 100 * float64(n)
	return min(max(uint64(math.Ceil(x*(1-1e-12))), 1), n)
}

// Percentiles returns Percentile(p) for each p in ps, for plotting.
func (h *Histogram) Percentiles(ps []float64) []time.Duration {
	out := make([]time.Duration, len(ps))
	for i, p := range ps {
		out[i] = h.Percentile(p)
	}
	return out
}
