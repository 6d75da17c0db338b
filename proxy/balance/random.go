package balance

import (
	"context"
	"math/bits"
	"sync/atomic"
)

// Random picks an endpoint at random with probability proportional to its
// weight (uniformly when all weights are equal). It keeps no per-endpoint
// state.
type Random struct {
	set atomic.Pointer[randomSet]
	rng *rng
}

var _ Balancer = (*Random)(nil)

type randomSet struct {
	eps []Endpoint
	cum []uint64 // cum[i] is the sum of the weights of eps[0..i]; nil when all are equal
}

// NewRandom returns a weighted random balancer with no endpoints. It reads
// opts.Rand (default the runtime's generator).
func NewRandom(opts Options) *Random {
	return &Random{rng: newRNG(opts.Rand)}
}

// Pick returns a random endpoint, weighted by Weight.
func (b *Random) Pick(context.Context) (Pick, error) {
	set := b.set.Load()
	if set == nil || len(set.eps) == 0 {
		return Pick{}, ErrNoEndpoints
	}
	r := b.rng.uint64()
	if set.cum == nil {
		return Pick{ep: &set.eps[below(uint32(r), len(set.eps))]}, nil
	}
	// x is uniform in [0, total); find the first cum[i] > x.
	x, _ := bits.Mul64(r, set.cum[len(set.cum)-1])
	lo, hi := 0, len(set.cum)-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if set.cum[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return Pick{ep: &set.eps[lo]}, nil
}

// Update replaces the endpoint set and weights.
func (b *Random) Update(eps []Endpoint) {
	set := &randomSet{eps: normalize(eps)}
	for _, ep := range set.eps {
		if ep.Weight != set.eps[0].Weight {
			set.cum = make([]uint64, len(set.eps))
			break
		}
	}
	var sum uint64
	for i := range set.cum {
		sum += uint64(set.eps[i].Weight)
		set.cum[i] = sum
	}
	b.set.Store(set)
}
