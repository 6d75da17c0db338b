package balance

import (
	"math/rand/v2"
	"sync"
	"time"
)

// member is one endpoint of a balancer's published set with the state that
// balancer keeps for it. A published slice of members is never changed, so
// Pick may hand out pointers into it.
type member[S any] struct {
	ep Endpoint
	s  *S
}

// normalize returns a copy of eps with default keys and weights filled in
// and later duplicates of a key dropped.
func normalize(eps []Endpoint) []Endpoint {
	out := make([]Endpoint, 0, len(eps))
	seen := make(map[string]struct{}, len(eps))
	for _, ep := range eps {
		if ep.Key == "" {
			ep.Key = ep.Addr.String()
		}
		if ep.Weight == 0 {
			ep.Weight = 1
		}
		if _, dup := seen[ep.Key]; dup {
			continue
		}
		seen[ep.Key] = struct{}{}
		out = append(out, ep)
	}
	return out
}

// rebuild returns the members for eps: endpoints whose key is in old keep
// their state, the others get fresh(). gone, if not nil, is called with the
// state of each old endpoint that is not in eps.
func rebuild[S any](old []member[S], eps []Endpoint, fresh func() *S, gone func(*S)) []member[S] {
	prev := make(map[string]*S, len(old))
	for _, m := range old {
		prev[m.ep.Key] = m.s
	}
	eps = normalize(eps)
	out := make([]member[S], len(eps))
	for i, ep := range eps {
		s, ok := prev[ep.Key]
		if ok {
			delete(prev, ep.Key)
		} else {
			s = fresh()
		}
		out[i] = member[S]{ep: ep, s: s}
	}
	if gone != nil {
		for _, s := range prev {
			gone(s)
		}
	}
	return out
}

// rng is the balancers' randomness: an injected source under a lock, or the
// runtime's lock-free generator.
type rng struct {
	mu  sync.Mutex
	src rand.Source
}

func newRNG(src rand.Source) *rng { return &rng{src: src} }

func (r *rng) uint64() uint64 {
	if r.src == nil {
		return rand.Uint64()
	}
	r.mu.Lock()
	v := r.src.Uint64()
	r.mu.Unlock()
	return v
}

// below maps the 32-bit x onto [0, n) by multiplication (Lemire), without
// a division.
func below(x uint32, n int) int { return int(uint64(x) * uint64(n) >> 32) }

// two returns two distinct random indices in [0, n), n >= 2, from one
// random number.
func (r *rng) two(n int) (int, int) {
	v := r.uint64()
	i := below(uint32(v), n)
	j := below(uint32(v>>32), n-1)
	if j >= i {
		j++
	}
	return i, j
}

// float returns a random number in [0, 1).
func (r *rng) float() float64 { return float64(r.uint64()>>11) / (1 << 53) }

// clock reads the injected time as nanoseconds since the balancer was made,
// which keeps the monotonic reading of time.Now.
type clock struct {
	now   func() time.Time
	epoch time.Time
}

func newClock(now func() time.Time) clock {
	if now == nil {
		now = time.Now
	}
	return clock{now: now, epoch: now()}
}

func (c clock) nanos() int64 { return int64(c.now().Sub(c.epoch)) }

// or returns d, or def when d is not positive.
func or(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
