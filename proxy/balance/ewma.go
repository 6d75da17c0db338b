package balance

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
)

// PeakEWMA is the default balancer: power of two choices over a
// peak-sensitive, exponentially weighted moving average of each endpoint's
// latency, multiplied by its pending requests plus one (Finagle's and
// Linkerd's peak-EWMA). It ignores weights. See the package documentation
// for the algorithm and its defaults.
type PeakEWMA struct {
	mu     sync.Mutex // serializes Update
	set    atomic.Pointer[[]member[ewmaState]]
	rng    *rng
	params *ewmaParams
}

var _ Balancer = (*PeakEWMA)(nil)

type ewmaParams struct {
	clock    clock
	decay    float64 // ns
	defRTT   float64 // ns
	errorRTT float64 // ns
}

// ewmaState is one endpoint's latency estimate and pending count. The
// estimate and its time stamp are written under mu and read without it: a
// Pick that sees one updated before the other only misjudges a cost a bit.
type ewmaState struct {
	p        *ewmaParams
	pending  atomic.Int64
	est      atomic.Uint64 // float64 bits, ns, > 0
	stamp    atomic.Int64  // ns on p.clock of the last observation
	mu       sync.Mutex
	measured bool
	_        [16]byte // to 64 bytes: one endpoint per cache line
}

// NewPeakEWMA returns a peak-EWMA balancer with no endpoints. It reads
// opts.Clock (default time.Now), opts.Rand (default the runtime's
// generator), opts.Decay (default 10s), opts.DefaultRTT (default 30ms) and
// opts.ErrorRTT (default 1s).
func NewPeakEWMA(opts Options) *PeakEWMA {
	return &PeakEWMA{
		rng: newRNG(opts.Rand),
		params: &ewmaParams{
			clock:    newClock(opts.Clock),
			decay:    float64(or(opts.Decay, DefaultDecay)),
			defRTT:   float64(or(opts.DefaultRTT, DefaultRTT)),
			errorRTT: float64(or(opts.ErrorRTT, DefaultErrorRTT)),
		},
	}
}

// Pick chooses the cheaper of two distinct random endpoints, where cost is
// the decayed latency estimate times (pending + 1).
func (b *PeakEWMA) Pick(context.Context) (Pick, error) {
	set := b.set.Load()
	if set == nil || len(*set) == 0 {
		return Pick{}, ErrNoEndpoints
	}
	ms := *set
	m := &ms[0]
	if len(ms) > 1 {
		i, j := b.rng.two(len(ms))
		m = &ms[i]
		if o := &ms[j]; o.s.cheaper(m.s) {
			m = o
		}
	}
	m.s.pending.Add(1)
	return Pick{ep: &m.ep, d: m.s}, nil
}

// Update replaces the endpoint set; endpoints that stay keep their estimate
// and pending count, new ones start at DefaultRTT.
func (b *PeakEWMA) Update(eps []Endpoint) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var old []member[ewmaState]
	if p := b.set.Load(); p != nil {
		old = *p
	}
	ms := rebuild(old, eps, b.fresh, nil)
	b.set.Store(&ms)
}

func (b *PeakEWMA) fresh() *ewmaState {
	s := &ewmaState{p: b.params}
	s.est.Store(math.Float64bits(b.params.defRTT))
	s.stamp.Store(b.params.clock.nanos())
	return s
}

// cheaper reports whether s costs less than o now. The cost is the
// estimate decayed to now times (pending + 1); both decay by the same
// factor from their stamps, so the comparison needs neither the clock nor
// more than one exp:
//
//	est_s·e^(-(now-t_s)/τ)·(p_s+1) < est_o·e^(-(now-t_o)/τ)·(p_o+1)
//	⟺ est_s·(p_s+1) < est_o·(p_o+1)·e^((t_o-t_s)/τ)
func (s *ewmaState) cheaper(o *ewmaState) bool {
	cs := math.Float64frombits(s.est.Load()) * float64(max(s.pending.Load(), 0)+1)
	co := math.Float64frombits(o.est.Load()) * float64(max(o.pending.Load(), 0)+1)
	if dt := o.stamp.Load() - s.stamp.Load(); dt != 0 {
		co *= math.Exp(float64(dt) / s.p.decay)
	}
	return cs < co
}

func (s *ewmaState) done(r Result) {
	s.pending.Add(-1)
	rtt := float64(r.Latency)
	if r.Err != nil {
		rtt = max(rtt, s.p.errorRTT)
	}
	if rtt > 0 {
		s.observe(rtt)
	}
}

// observe adds a measured round trip: the first replaces DefaultRTT; later
// ones above the estimate replace it at once (the peak); others pull it
// toward them by 1-exp(-elapsed/Decay).
func (s *ewmaState) observe(rtt float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.p.clock.nanos()
	est := rtt
	if s.measured {
		w := 1.0
		if dt := now - s.stamp.Load(); dt > 0 {
			w = math.Exp(-float64(dt) / s.p.decay)
		}
		est = max(rtt, math.Float64frombits(s.est.Load())*w+rtt*(1-w))
	}
	s.measured = true
	s.est.Store(math.Float64bits(est))
	s.stamp.Store(now)
}
