package discovery

import (
	"context"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// watch is the one stream for a target, shared by its handles.
type watch struct {
	c      *Client
	target string
	ctx    context.Context
	cancel context.CancelFunc

	// refs and idle are guarded by c.mu.
	refs int
	idle *time.Timer

	state   atomic.Pointer[state]
	settled chan struct{} // closed at the first answer or failure
	settle  sync.Once

	mu      sync.Mutex
	changed chan struct{} // closed and replaced at every new state
}

// state is what is known about the target; replaced whole, never
// modified.
type state struct {
	known    bool // an answer arrived
	notFound bool
	name     string
	policy   Policy
	eps      []Endpoint // sorted by address
	byAddr   map[netip.AddrPort]Endpoint
}

func newWatch(c *Client, target string) *watch {
	ctx, cancel := context.WithCancel(c.ctx)
	w := &watch{c: c, target: target, ctx: ctx, cancel: cancel, settled: make(chan struct{}), changed: make(chan struct{})}
	w.state.Store(&state{byAddr: map[netip.AddrPort]Endpoint{}})
	return w
}

// run keeps a stream open until the watch is closed, reconnecting with
// backoff; what is known stays while disconnected.
func (w *watch) run() {
	ctx := w.ctx
	log := w.c.cfg.Log.With().Str("target", w.target).Logger()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	attempt := 0
	for {
		got, err := w.stream(ctx)
		if ctx.Err() != nil {
			return
		}
		w.settle.Do(func() { close(w.settled) })
		if got {
			attempt = 0
		}
		attempt++
		wait := w.c.backoff(attempt)
		log.Debug().Err(err).Dur("retry_in", wait).Msg("destination watch interrupted; keeping the last endpoints")
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
	}
}

// stream runs one Watch call until it fails; got says whether any
// update arrived.
func (w *watch) stream(ctx context.Context) (got bool, err error) {
	s, err := w.c.api.Watch(ctx, &destinationv1.WatchRequest{Target: w.target, SourceNamespace: w.c.cfg.Namespace})
	if err != nil {
		return false, err
	}
	for {
		u, err := s.Recv()
		if err != nil {
			return got, err
		}
		got = true
		w.apply(u)
	}
}

// apply makes the state that u leads to and publishes it.
func (w *watch) apply(u *destinationv1.Update) {
	old := w.state.Load()
	st := &state{known: true, name: old.name, policy: old.policy}
	if u.GetReset_() || u.GetNotFound() {
		st.byAddr = map[netip.AddrPort]Endpoint{}
		st.notFound, st.name, st.policy = u.GetNotFound(), u.GetService(), Policy{}
	} else {
		st.byAddr = maps.Clone(old.byAddr)
	}
	for _, p := range u.GetAdd() {
		e, ok := endpointFromProto(p)
		if !ok {
			w.c.cfg.Log.Warn().Str("target", w.target).Str("address", p.GetAddress()).Str("identity", p.GetIdentity()).
				Msg("endpoint with a bad address or identity ignored")
			continue
		}
		st.byAddr[e.Addr] = e
	}
	for _, r := range u.GetRemove() {
		if a, err := netip.ParseAddrPort(r); err == nil {
			delete(st.byAddr, netip.AddrPortFrom(a.Addr().Unmap(), a.Port()))
		}
	}
	if u.GetPolicy() != nil {
		st.policy = policyFromProto(u.GetPolicy())
	}
	if u.GetService() != "" {
		st.name = u.GetService()
	}
	st.eps = slices.SortedFunc(maps.Values(st.byAddr), func(a, b Endpoint) int { return a.Addr.Compare(b.Addr) })
	w.state.Store(st)
	w.settle.Do(func() { close(w.settled) })
	w.mu.Lock()
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
}

// Service is a handle on what the destination service says about one
// target. Its methods are cheap reads of the latest answer.
type Service struct {
	w        *watch
	released atomic.Bool
}

// Target is the target as asked.
func (s *Service) Target() string { return s.w.target }

// Known reports whether the destination service has answered at all.
func (s *Service) Known() bool { return s.w.state.Load().known }

// NotFound reports whether the proxy should forward to the original
// destination: the service does not know the target, or has not
// answered yet.
func (s *Service) NotFound() bool {
	st := s.w.state.Load()
	return !st.known || st.notFound
}

// Name is the service the target resolved to ("name.namespace"), "" when
// not found.
func (s *Service) Name() string { return s.w.state.Load().name }

// Endpoints returns the current endpoint set, sorted by address. The
// slice is shared: do not modify it.
func (s *Service) Endpoints() []Endpoint { return s.w.state.Load().eps }

// Endpoint returns the current endpoint at addr.
func (s *Service) Endpoint(addr netip.AddrPort) (Endpoint, bool) {
	e, ok := s.w.state.Load().byAddr[addr]
	return e, ok
}

// Policy is the service's traffic policy.
func (s *Service) Policy() Policy { return s.w.state.Load().policy }

// Changed returns a channel closed at the next change of what is known;
// call it again afterwards.
func (s *Service) Changed() <-chan struct{} {
	s.w.mu.Lock()
	defer s.w.mu.Unlock()
	return s.w.changed
}

// Release gives the handle back; the watch closes when no handle has
// held it for Config.IdleTimeout. Releasing twice is harmless. A
// released handle still reads the last state.
func (s *Service) Release() {
	if s.released.CompareAndSwap(false, true) {
		s.w.c.release(s.w)
	}
}
