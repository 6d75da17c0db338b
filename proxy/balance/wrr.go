package balance

import (
	"context"
	"sync"
)

// WeightedRoundRobin is nginx's smooth weighted round robin: each pick adds
// every endpoint's weight to its current value, chooses the largest current
// value (the first in Update order on a tie) and subtracts the total weight
// from it. Each endpoint gets exactly its weight's share of every cycle of
// total-weight picks, interleaved: weights 5, 1, 1 give a a b a c a a. A
// pick takes a lock and scans the set, O(n).
type WeightedRoundRobin struct {
	mu    sync.Mutex
	set   []member[wrrState]
	total int64
}

var _ Balancer = (*WeightedRoundRobin)(nil)

type wrrState struct{ current int64 }

// NewWeightedRoundRobin returns a smooth weighted round-robin balancer with
// no endpoints. It is deterministic and reads no options.
func NewWeightedRoundRobin(Options) *WeightedRoundRobin {
	return &WeightedRoundRobin{}
}

// Pick returns the next endpoint of the smooth weighted sequence.
func (b *WeightedRoundRobin) Pick(context.Context) (Pick, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.set) == 0 {
		return Pick{}, ErrNoEndpoints
	}
	best := &b.set[0]
	for i := range b.set {
		m := &b.set[i]
		m.s.current += int64(m.ep.Weight)
		if m.s.current > best.s.current {
			best = m
		}
	}
	best.s.current -= b.total
	return Pick{ep: &best.ep}, nil
}

// Update replaces the endpoint set and weights. Endpoints that stay keep
// their current value, new ones start at zero; the values are then shifted
// to sum to zero again, so the sequence stays smooth: with unchanged
// weights it goes on exactly, with changed ones each endpoint's count is
// within one or two of its share from the next pick on.
func (b *WeightedRoundRobin) Update(eps []Endpoint) {
	b.mu.Lock()
	defer b.mu.Unlock()
	set := rebuild(b.set, eps, func() *wrrState { return new(wrrState) }, nil)
	var total, sum int64
	for _, m := range set {
		total += int64(m.ep.Weight)
		sum += m.s.current
	}
	if n := int64(len(set)); n > 0 && sum != 0 {
		// Give each endpoint its part of -sum, the remainder to the first.
		for _, m := range set {
			m.s.current -= sum / n
		}
		set[0].s.current -= sum % n
	}
	// Pick hands out pointers into the slice, so it is never changed once
	// published: the states are, under mu, the endpoints are not.
	b.set, b.total = set, total
}
