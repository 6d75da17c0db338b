package pool

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// Proto is the kind of traffic asking for a slot.
type Proto uint8

// Protocols.
const (
	TCP   Proto = iota // an opaque TCP connection
	HTTP1              // an HTTP/1 request
	HTTP2              // an HTTP/2 (or gRPC) request
)

// Limit names, as the Meshlite-Overflow header and metrics report them
// (Istio's field names).
const (
	LimitMaxConnections          = "maxConnections"
	LimitHTTP1MaxPendingRequests = "http1MaxPendingRequests"
	LimitHTTP2MaxRequests        = "http2MaxRequests"
)

// ErrOverflow is matched (errors.Is) by every refusal.
var ErrOverflow = errors.New("pool: over the connection pool limit")

// OverflowError names the limit a refused request hit.
type OverflowError struct{ Limit string }

func (e *OverflowError) Error() string        { return "pool: over the connection pool limit " + e.Limit }
func (e *OverflowError) Is(target error) bool { return target == ErrOverflow }

var (
	errMaxConnections = &OverflowError{LimitMaxConnections}
	errMaxPending     = &OverflowError{LimitHTTP1MaxPendingRequests}
	errMaxRequests    = &OverflowError{LimitHTTP2MaxRequests}
)

// Limits are a destination's connection-pool limits; 0 means unlimited.
type Limits struct {
	MaxConnections           int
	HTTP1MaxPendingRequests  int
	HTTP2MaxRequests         int
	MaxRequestsPerConnection int
}

// FromProto reads the proto's ConnectionPool (nil: no limits).
func FromProto(cp *destinationv1.ConnectionPool) Limits {
	c := func(v uint32) int { return int(min(v, math.MaxInt32)) }
	return Limits{
		MaxConnections:           c(cp.GetMaxConnections()),
		HTTP1MaxPendingRequests:  c(cp.GetHttp1MaxPendingRequests()),
		HTTP2MaxRequests:         c(cp.GetHttp2MaxRequests()),
		MaxRequestsPerConnection: c(cp.GetMaxRequestsPerConnection()),
	}
}

// Limiter counts what is in flight to one destination. It is safe for
// concurrent use.
type Limiter struct {
	lim Limits

	requests atomic.Int64 // HTTP requests in flight

	mu      sync.Mutex // guards conns and waiters
	conns   int        // connection slots held
	waiters []chan struct{}

	overflows [3]atomic.Uint64 // by limit: conns, pending, requests

	relTCP, relH1, relH2 func()
}

// New returns a Limiter enforcing lim.
func New(lim Limits) *Limiter {
	l := &Limiter{lim: lim}
	l.relTCP = l.releaseConn
	l.relH2 = l.releaseRequest
	l.relH1 = func() { l.releaseConn(); l.releaseRequest() }
	return l
}

// Limits returns the limits enforced.
func (l *Limiter) Limits() Limits { return l.lim }

func noop() {}

// Acquire takes a slot for one TCP connection or HTTP request, and
// returns the function that gives it back (call it exactly once). Over a
// limit it returns an *OverflowError at once (errors.Is ErrOverflow); an
// HTTP/1 request may first wait for a connection slot, within
// HTTP1MaxPendingRequests, and gets ctx.Err() if ctx ends meanwhile.
func (l *Limiter) Acquire(ctx context.Context, proto Proto) (release func(), err error) {
	if l == nil {
		return noop, nil
	}
	switch proto {
	case TCP:
		if l.lim.MaxConnections <= 0 {
			return noop, nil
		}
		if err := l.acquireConn(ctx, false); err != nil {
			return nil, err
		}
		return l.relTCP, nil
	case HTTP2:
		if l.lim.HTTP2MaxRequests <= 0 {
			return noop, nil
		}
		if !l.acquireRequest() {
			return nil, l.overflow(2, errMaxRequests)
		}
		return l.relH2, nil
	default: // HTTP1
		if l.lim.MaxConnections <= 0 && l.lim.HTTP2MaxRequests <= 0 {
			return noop, nil
		}
		if !l.acquireRequest() {
			return nil, l.overflow(2, errMaxRequests)
		}
		if err := l.acquireConn(ctx, true); err != nil {
			l.releaseRequest()
			return nil, err
		}
		return l.relH1, nil
	}
}

func (l *Limiter) overflow(i int, err *OverflowError) error {
	l.overflows[i].Add(1)
	return err
}

// acquireRequest counts one more HTTP request, within HTTP2MaxRequests.
func (l *Limiter) acquireRequest() bool {
	limit := int64(l.lim.HTTP2MaxRequests)
	for {
		n := l.requests.Load()
		if limit > 0 && n >= limit {
			return false
		}
		if l.requests.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (l *Limiter) releaseRequest() { l.requests.Add(-1) }

// acquireConn takes a connection slot, waiting for one if mayWait and
// the pending limit allows.
func (l *Limiter) acquireConn(ctx context.Context, mayWait bool) error {
	if l.lim.MaxConnections <= 0 {
		return nil
	}
	l.mu.Lock()
	if l.conns < l.lim.MaxConnections && len(l.waiters) == 0 {
		l.conns++
		l.mu.Unlock()
		return nil
	}
	if !mayWait {
		l.mu.Unlock()
		return l.overflow(0, errMaxConnections)
	}
	if max := l.lim.HTTP1MaxPendingRequests; max > 0 && len(l.waiters) >= max {
		l.mu.Unlock()
		return l.overflow(1, errMaxPending)
	}
	ch := make(chan struct{}, 1)
	l.waiters = append(l.waiters, ch)
	l.mu.Unlock()

	select {
	case <-ch:
		return nil // the slot was handed over
	case <-ctx.Done():
	}
	l.mu.Lock()
	for i, w := range l.waiters {
		if w == ch {
			l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
			l.mu.Unlock()
			return ctx.Err()
		}
	}
	l.mu.Unlock()
	// Handed over just as ctx ended: pass it on.
	<-ch
	l.releaseConn()
	return ctx.Err()
}

// releaseConn gives a connection slot back, to the first waiter if any.
func (l *Limiter) releaseConn() {
	if l.lim.MaxConnections <= 0 {
		return
	}
	l.mu.Lock()
	if len(l.waiters) > 0 {
		ch := l.waiters[0]
		l.waiters[0] = nil
		l.waiters = l.waiters[1:]
		l.mu.Unlock()
		ch <- struct{}{} // buffered: never blocks
		return
	}
	l.conns--
	l.mu.Unlock()
}

// Stats is a snapshot of a Limiter, for metrics.
type Stats struct {
	// Connections held (TCP connections and HTTP/1 requests), when
	// MaxConnections is set.
	Connections int
	// Pending HTTP/1 requests waiting for a connection slot.
	Pending int
	// Requests in flight (HTTP/1 and HTTP/2), when a limit is set.
	Requests int
	// Overflows counts refusals by limit name, since the Limiter began.
	Overflows map[string]uint64
}

// Stats returns a snapshot of what is in flight and refused.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	s := Stats{Connections: l.conns, Pending: len(l.waiters)}
	l.mu.Unlock()
	s.Requests = int(l.requests.Load())
	s.Overflows = map[string]uint64{
		LimitMaxConnections:          l.overflows[0].Load(),
		LimitHTTP1MaxPendingRequests: l.overflows[1].Load(),
		LimitHTTP2MaxRequests:        l.overflows[2].Load(),
	}
	return s
}

// ConnCounter counts the requests one upstream connection has carried,
// for MaxRequestsPerConnection. The zero value is unlimited.
type ConnCounter struct {
	max int64
	n   atomic.Int64
}

// NewConnCounter returns a counter for a connection allowed max requests
// (0: unlimited).
func NewConnCounter(max int) *ConnCounter { return &ConnCounter{max: int64(max)} }

// Take counts one more request on the connection. ok is false when the
// connection has carried its share already and must not be used; last is
// true when this request is its last (HTTP/1: send it with Connection:
// close; HTTP/2: stop giving the connection new streams).
func (c *ConnCounter) Take() (ok, last bool) {
	n := c.n.Add(1)
	if c.max <= 0 {
		return true, false
	}
	return n <= c.max, n == c.max
}
