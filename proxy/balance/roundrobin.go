package balance

import (
	"context"
	"sync/atomic"
)

// RoundRobin hands out the endpoints in turn, in the order Update gave
// them. It ignores weights. The cursor starts at a random place, so that
// proxies started together do not all begin with the same endpoint, and
// survives Update: after a change the cycle goes on from the cursor modulo
// the new size, so every run of n consecutive picks still has each of the
// n endpoints once.
type RoundRobin struct {
	set  atomic.Pointer[[]Endpoint]
	next atomic.Uint64
}

var _ Balancer = (*RoundRobin)(nil)

// NewRoundRobin returns a round-robin balancer with no endpoints. It reads
// opts.Rand (default the runtime's generator) for its starting place.
func NewRoundRobin(opts Options) *RoundRobin {
	b := &RoundRobin{}
	b.next.Store(newRNG(opts.Rand).uint64() >> 1)
	return b
}

// Pick returns the next endpoint in turn.
func (b *RoundRobin) Pick(context.Context) (Pick, error) {
	set := b.set.Load()
	if set == nil || len(*set) == 0 {
		return Pick{}, ErrNoEndpoints
	}
	eps := *set
	i := (b.next.Add(1) - 1) % uint64(len(eps))
	return Pick{ep: &eps[i]}, nil
}

// Update replaces the endpoint set; the cursor is kept.
func (b *RoundRobin) Update(eps []Endpoint) {
	eps = normalize(eps)
	b.set.Store(&eps)
}
