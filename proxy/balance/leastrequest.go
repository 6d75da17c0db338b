package balance

import (
	"context"
	"sync"
	"sync/atomic"
)

// LeastRequest sends each request (or connection) to an endpoint with the
// fewest in flight. Up to 16 endpoints it scans them all from a random
// place and takes the first with the fewest, so counts never differ by more
// than one while requests only start; above that it uses power of two
// choices, like Envoy's and Istio's LEAST_REQUEST (LEAST_CONN is its
// alias): the fewer of two distinct random endpoints, O(1) per pick. It
// ignores weights.
type LeastRequest struct {
	mu  sync.Mutex // serializes Update
	set atomic.Pointer[[]member[pending]]
	rng *rng
}

var _ Balancer = (*LeastRequest)(nil)

// pending counts one endpoint's requests in flight.
type pending struct{ n atomic.Int64 }

func (p *pending) done(Result) { p.n.Add(-1) }

// NewLeastRequest returns a least-request balancer with no endpoints. It
// reads opts.Rand (default the runtime's generator).
func NewLeastRequest(opts Options) *LeastRequest {
	return &LeastRequest{rng: newRNG(opts.Rand)}
}

// fullScan is the largest set LeastRequest scans in full.
const fullScan = 16

// Pick chooses an endpoint with the fewest requests in flight (of all, or
// of two drawn at random); ties go to the first seen, itself random.
func (b *LeastRequest) Pick(context.Context) (Pick, error) {
	set := b.set.Load()
	if set == nil || len(*set) == 0 {
		return Pick{}, ErrNoEndpoints
	}
	ms := *set
	m := &ms[0]
	switch n := len(ms); {
	case n == 1:
	case n <= fullScan:
		start := below(uint32(b.rng.uint64()), n)
		m = &ms[start]
		least := m.s.n.Load()
		for k := 1; k < n && least > 0; k++ {
			o := &ms[(start+k)%n]
			if c := o.s.n.Load(); c < least {
				m, least = o, c
			}
		}
	default:
		i, j := b.rng.two(n)
		m = &ms[i]
		if o := &ms[j]; o.s.n.Load() < m.s.n.Load() {
			m = o
		}
	}
	m.s.n.Add(1)
	return Pick{ep: &m.ep, d: m.s}, nil
}

// Update replaces the endpoint set; endpoints that stay keep their count of
// requests in flight.
func (b *LeastRequest) Update(eps []Endpoint) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var old []member[pending]
	if p := b.set.Load(); p != nil {
		old = *p
	}
	ms := rebuild(old, eps, func() *pending { return new(pending) }, nil)
	b.set.Store(&ms)
}
