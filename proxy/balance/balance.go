package balance

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"
)

// Endpoint is what a balancer chooses among: one address of a service, as
// the destination service announced it.
type Endpoint struct {
	// Key identifies the endpoint across updates, so that state such as its
	// latency estimate survives an Update that keeps it. Default (empty):
	// Addr.String(), e.g. "10.0.0.5:8080".
	Key string
	// Addr is where requests and connections for this endpoint go.
	Addr netip.AddrPort
	// Weight is the endpoint's relative share for the weighted balancers
	// (weighted round robin, random); the others ignore it. Default (0): 1,
	// so an unset weight means "like the others". Remove an endpoint to stop
	// sending to it.
	Weight uint32
	// Identity is the SPIFFE ID the endpoint's certificate must carry, or ""
	// when the endpoint is not meshed.
	Identity string
	// Labels are the endpoint's labels (zone, subset, ...). Balancers do not
	// read them; the map must not be changed after it is given to Update.
	Labels map[string]string
}

// Result is how a request or connection ended, reported through Pick.Done.
type Result struct {
	// Latency is the round trip seen: for HTTP the time from sending the
	// request to receiving the response headers, for TCP the time to
	// connect. Zero means not measured; latency estimates are then left
	// alone.
	Latency time.Duration
	// Err is a connection-level failure attributed to the endpoint: connect
	// refused or timed out, connection reset, TLS handshake failed. Leave it
	// nil for a request the client cancelled.
	Err error
	// Failure marks an answer that is itself a failure, such as an HTTP 5xx.
	// Failure accrual counts it only when AccrualOptions.CountFailures is set.
	Failure bool
	// Unused marks a pick given back without sending anything (a retry
	// passing over the endpoint it just tried): the balancers release what
	// they hold for it and record nothing, neither success nor failure.
	Unused bool
}

// failed reports whether r counts as a failure: Err always, Failure when
// failures is set.
func (r Result) failed(failures bool) bool {
	return r.Err != nil || (failures && r.Failure)
}

// Balancer chooses an endpoint for each request or connection. All methods
// are safe for concurrent use.
type Balancer interface {
	// Pick chooses an endpoint for one request or connection, or returns
	// ErrNoEndpoints. The caller must call Done on the Pick exactly once
	// when the request or connection ends. Pick never blocks.
	Pick(ctx context.Context) (Pick, error)
	// Update replaces the endpoint set. The state of endpoints that stay
	// (same Key) is kept; new endpoints start fresh; removed endpoints are
	// not picked by any Pick that starts after Update returns, and Done for
	// a Pick of a removed endpoint is harmless. Endpoints with a Key seen
	// earlier in eps are ignored. Update copies eps.
	Update(eps []Endpoint)
}

// doner receives the Result of a Pick. Balancers implement it on their
// per-endpoint state, so a Pick costs no allocation.
type doner interface{ done(Result) }

// Pick is the endpoint chosen for one request or connection. The zero Pick
// has the zero Endpoint and a Done that does nothing.
type Pick struct {
	ep   *Endpoint
	d    doner // the balancer that picked
	next doner // the balancer it wraps, if any
}

// NewPick returns a Pick of ep whose Done calls done (which may be nil). It
// is for Balancer implementations outside this package.
func NewPick(ep Endpoint, done func(Result)) Pick {
	p := Pick{ep: &ep}
	if done != nil {
		p.d = doneFunc(done)
	}
	return p
}

type doneFunc func(Result)

func (f doneFunc) done(r Result) { f(r) }

// Endpoint returns the chosen endpoint.
func (p Pick) Endpoint() Endpoint {
	if p.ep == nil {
		return Endpoint{}
	}
	return *p.ep
}

// Done reports how the request or connection ended. Call it exactly once
// per Pick.
func (p Pick) Done(r Result) {
	if p.d != nil {
		p.d.done(r)
	}
	if p.next != nil {
		p.next.done(r)
	}
}

// wrap returns p with d called first on Done. A Pick holds two doners in
// place; a third is chained at the cost of one allocation.
func (p Pick) wrap(d doner) Pick {
	if p.next != nil {
		return Pick{ep: p.ep, d: d, next: chain{p.d, p.next}}
	}
	return Pick{ep: p.ep, d: d, next: p.d}
}

type chain struct{ a, b doner }

func (c chain) done(r Result) {
	if c.a != nil {
		c.a.done(r)
	}
	c.b.done(r)
}

// Options configures the balancers. Each constructor reads the fields it
// needs; the zero Options gives the documented defaults.
type Options struct {
	// Clock returns the current time; tests inject one to check decay and
	// backoff without sleeping. Default: time.Now.
	Clock func() time.Time
	// Rand is the source of randomness, used under a lock. Default (nil):
	// the runtime's per-thread generator (math/rand/v2), which needs no
	// lock.
	Rand rand.Source
	// Decay is the time constant of the peak-EWMA latency estimate: after
	// Decay without new measurements it has moved 1-1/e (63 %) of the way
	// to its target. Default: 10s (Linkerd's).
	Decay time.Duration
	// DefaultRTT is the peak-EWMA estimate of an endpoint never measured.
	// Default: 30ms (Linkerd's).
	DefaultRTT time.Duration
	// ErrorRTT is the least round trip peak-EWMA records for a Result with
	// Err, so an endpoint that fails fast does not look fast and attract
	// traffic. Default: 1s.
	ErrorRTT time.Duration
	// Accrual configures failure accrual (NewFailureAccrual).
	Accrual AccrualOptions
	// NoFailureAccrual makes New return the bare balancer, without
	// NewFailureAccrual around it. Default: false.
	NoFailureAccrual bool
}

// Defaults of Options and AccrualOptions.
const (
	DefaultDecay        = 10 * time.Second
	DefaultRTT          = 30 * time.Millisecond
	DefaultErrorRTT     = time.Second
	DefaultFailures     = 7
	DefaultMinBackoff   = time.Second
	DefaultMaxBackoff   = time.Minute
	DefaultJitter       = 0.5
	DefaultBalancerKind = KindPeakEWMA
)

// Balancer kinds understood by New.
const (
	KindPeakEWMA           = "peak-ewma"
	KindLeastRequest       = "least-request"
	KindLeastConn          = "least-conn" // alias of KindLeastRequest
	KindRoundRobin         = "round-robin"
	KindWeightedRoundRobin = "weighted-round-robin"
	KindRandom             = "random"
)

// New returns the balancer named kind, wrapped in NewFailureAccrual unless
// opts.NoFailureAccrual is set. Names are matched ignoring case, with "_"
// read as "-", so Istio's LEAST_REQUEST, LEAST_CONN, ROUND_ROBIN and RANDOM
// are accepted as written. The empty name means DefaultBalancerKind
// (peak-ewma). An unknown name gives an error wrapping ErrUnknownKind.
func New(kind string, opts Options) (Balancer, error) {
	var b Balancer
	switch strings.ReplaceAll(strings.ToLower(strings.TrimSpace(kind)), "_", "-") {
	case "", KindPeakEWMA:
		b = NewPeakEWMA(opts)
	case KindLeastRequest, KindLeastConn:
		b = NewLeastRequest(opts)
	case KindRoundRobin:
		b = NewRoundRobin(opts)
	case KindWeightedRoundRobin:
		b = NewWeightedRoundRobin(opts)
	case KindRandom:
		b = NewRandom(opts)
	default:
		return nil, fmt.Errorf("%w %q: want one of %s, %s (alias %s), %s, %s, %s",
			ErrUnknownKind, kind, KindPeakEWMA, KindLeastRequest, KindLeastConn,
			KindRoundRobin, KindWeightedRoundRobin, KindRandom)
	}
	if opts.NoFailureAccrual {
		return b, nil
	}
	return NewFailureAccrual(b, opts), nil
}
