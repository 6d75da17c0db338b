package balance

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// AccrualOptions configures failure accrual.
type AccrualOptions struct {
	// Failures is how many consecutive failures set an endpoint aside.
	// Default (0): 7, Linkerd's.
	Failures int
	// MinBackoff is how long an endpoint is first set aside for; each failed
	// probe doubles it. Default: 1s.
	MinBackoff time.Duration
	// MaxBackoff caps the doubling. Default: 60s.
	MaxBackoff time.Duration
	// Jitter lengthens each backoff by a random fraction of it, up to
	// Jitter, so endpoints set aside together are not probed together.
	// Default (0): 0.5; negative: no jitter.
	Jitter float64
	// CountFailures counts Result.Failure (such as HTTP 5xx) as a failure
	// too. Default: false, only Result.Err counts.
	CountFailures bool
	// OnChange, when set, is told when an endpoint is set aside (true) and
	// when it is put back (false), not of each failed probe in between.
	// It is called with the accrual's lock held: it must return at once
	// (the proxy queues a passive health report). Default: nil.
	OnChange func(ep Endpoint, setAside bool)
}

// FailureAccrual wraps a balancer and sets aside endpoints that fail
// repeatedly: after Failures consecutive failures an endpoint is taken out
// of the wrapped balancer for a backoff; then a single request probes it
// (half-open). A successful probe puts it back, a failed one doubles the
// backoff, up to MaxBackoff. When every endpoint is set aside, requests go
// to a random endpoint of the whole set rather than fail (availability
// bias); a success there puts that endpoint back at once.
type FailureAccrual struct {
	inner Balancer
	opts  AccrualOptions
	clock clock
	rng   *rng

	mu        sync.Mutex // guards the records' states and calls inner.Update
	set       atomic.Pointer[accrualSet]
	nextProbe atomic.Int64 // clock ns when a set-aside endpoint is due; never if none
}

var _ Balancer = (*FailureAccrual)(nil)

const never = math.MaxInt64

type accrualSet struct {
	ms    []member[record]
	byKey map[string]*record
}

type recordState uint8

const (
	healthy recordState = iota
	setAside
	probing
)

// record is failure accrual's state for one endpoint. It answers Done in
// three ways: as itself for picks of the wrapped balancer, as probeDone for
// the probe, as fallbackDone for picks when all are set aside.
type record struct {
	f     *FailureAccrual
	fails atomic.Int32 // consecutive failures

	// Guarded by f.mu.
	ep      Endpoint // as last given to Update
	state   recordState
	backoff time.Duration
	until   int64 // clock ns when a set-aside endpoint may be probed
	gone    bool  // removed by Update
}

type (
	probeDone    record
	fallbackDone record
)

// NewFailureAccrual wraps inner with failure accrual configured by
// opts.Accrual (defaults: 7 consecutive failures, backoff 1s doubling to
// 60s, jitter 0.5, only Result.Err counts). It reads opts.Clock (default
// time.Now) and opts.Rand (default the runtime's generator). inner must be
// given endpoints only through the wrapper's Update.
func NewFailureAccrual(inner Balancer, opts Options) *FailureAccrual {
	a := opts.Accrual
	if a.Failures <= 0 {
		a.Failures = DefaultFailures
	}
	a.MinBackoff = or(a.MinBackoff, DefaultMinBackoff)
	a.MaxBackoff = max(or(a.MaxBackoff, DefaultMaxBackoff), a.MinBackoff)
	switch {
	case a.Jitter == 0:
		a.Jitter = DefaultJitter
	case a.Jitter < 0:
		a.Jitter = 0
	}
	f := &FailureAccrual{inner: inner, opts: a, clock: newClock(opts.Clock), rng: newRNG(opts.Rand)}
	f.nextProbe.Store(never)
	return f
}

// Pick probes a set-aside endpoint whose backoff is over, if there is one
// and no probe of it is in flight; otherwise it picks with the wrapped
// balancer among the endpoints not set aside, or among all when every one
// is.
func (f *FailureAccrual) Pick(ctx context.Context) (Pick, error) {
	if due := f.nextProbe.Load(); due != never && f.clock.nanos() >= due {
		if p, ok := f.probe(); ok {
			return p, nil
		}
	}
	p, err := f.inner.Pick(ctx)
	if errors.Is(err, ErrNoEndpoints) {
		return f.fallback()
	}
	if err != nil {
		return Pick{}, err
	}
	if set := f.set.Load(); set != nil && p.ep != nil {
		if r := set.byKey[p.ep.Key]; r != nil {
			return p.wrap(r), nil
		}
	}
	return p, nil
}

// Update replaces the endpoint set. Endpoints that stay keep their failure
// count and, if set aside, their backoff.
func (f *FailureAccrual) Update(eps []Endpoint) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var old []member[record]
	if set := f.set.Load(); set != nil {
		old = set.ms
	}
	ms := rebuild(old, eps, func() *record { return &record{f: f} }, func(r *record) { r.gone = true })
	set := &accrualSet{ms: ms, byKey: make(map[string]*record, len(ms))}
	for _, m := range ms {
		m.s.ep = m.ep
		set.byKey[m.ep.Key] = m.s
	}
	f.set.Store(set)
	f.sync()
}

func (f *FailureAccrual) probe() (Pick, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	set := f.set.Load()
	if set == nil {
		return Pick{}, false
	}
	now := f.clock.nanos()
	for i := range set.ms {
		m := &set.ms[i]
		if m.s.state == setAside && m.s.until <= now {
			m.s.state = probing
			f.schedule()
			return Pick{ep: &m.ep, d: (*probeDone)(m.s)}, true
		}
	}
	return Pick{}, false
}

func (f *FailureAccrual) fallback() (Pick, error) {
	set := f.set.Load()
	if set == nil || len(set.ms) == 0 {
		return Pick{}, ErrNoEndpoints
	}
	m := &set.ms[below(uint32(f.rng.uint64()), len(set.ms))]
	return Pick{ep: &m.ep, d: (*fallbackDone)(m.s)}, nil
}

// sync gives the wrapped balancer the endpoints not set aside and
// reschedules the next probe. Called with f.mu held.
func (f *FailureAccrual) sync() {
	set := f.set.Load()
	eps := make([]Endpoint, 0, len(set.ms))
	for _, m := range set.ms {
		if m.s.state == healthy {
			eps = append(eps, m.ep)
		}
	}
	f.inner.Update(eps)
	f.schedule()
}

// schedule sets nextProbe to the earliest time a set-aside endpoint is due.
// Called with f.mu held.
func (f *FailureAccrual) schedule() {
	next := int64(never)
	if set := f.set.Load(); set != nil {
		for _, m := range set.ms {
			if m.s.state == setAside {
				next = min(next, m.s.until)
			}
		}
	}
	f.nextProbe.Store(next)
}

// setAside starts r's backoff. Called with f.mu held.
func (f *FailureAccrual) setAside(r *record) {
	wait := r.backoff + time.Duration(float64(r.backoff)*f.opts.Jitter*f.rng.float())
	r.state, r.until = setAside, f.clock.nanos()+int64(wait)
	r.fails.Store(0)
}

// restore puts r back. Called with f.mu held.
func (f *FailureAccrual) restore(r *record) {
	r.state, r.backoff = healthy, 0
	r.fails.Store(0)
	f.sync()
	f.changed(r, false)
}

// changed tells OnChange. Called with f.mu held.
func (f *FailureAccrual) changed(r *record, setAside bool) {
	if f.opts.OnChange != nil {
		f.opts.OnChange(r.ep, setAside)
	}
}

// done counts consecutive failures of picks made by the wrapped balancer.
func (r *record) done(res Result) {
	f := r.f
	if res.Unused {
		return
	}
	if !res.failed(f.opts.CountFailures) {
		if r.fails.Load() != 0 {
			r.fails.Store(0)
		}
		return
	}
	if int(r.fails.Add(1)) < f.opts.Failures {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.gone || r.state != healthy {
		return
	}
	r.backoff = f.opts.MinBackoff
	f.setAside(r)
	f.sync()
	f.changed(r, true)
}

// done ends a probe: success puts the endpoint back, failure doubles its
// backoff.
func (p *probeDone) done(res Result) {
	r := (*record)(p)
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.gone || r.state != probing {
		return
	}
	if res.Unused { // not probed after all: due again at once
		r.state = setAside
		f.schedule()
		return
	}
	if res.failed(f.opts.CountFailures) {
		r.backoff = min(2*r.backoff, f.opts.MaxBackoff)
		f.setAside(r)
		f.schedule()
		return
	}
	f.restore(r)
}

// done ends a pick made while all endpoints were set aside: success puts
// the endpoint back, failure changes nothing.
func (p *fallbackDone) done(res Result) {
	r := (*record)(p)
	f := r.f
	if res.Unused || res.failed(f.opts.CountFailures) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !r.gone && r.state != healthy {
		f.restore(r)
	}
}
