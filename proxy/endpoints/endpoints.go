// Package endpoints resolves targets through the destination service and
// balances requests and connections over the endpoints it announces.
//
// For each target (a service address the application dialled) it keeps one
// discovery watch and one balancer of the kind the service's policy names
// (peak EWMA by default), updated as endpoints come and go without
// disturbing requests in flight. A target the destination service does not
// know — or any target while the service has never answered — goes to the
// fallback resolver, the original destination. When endpoints leave a set,
// idle pooled connections are closed so none lingers to a removed endpoint.
package endpoints

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/meshlite/meshlite/proxy/balance"
	"github.com/meshlite/meshlite/proxy/discovery"
	"github.com/meshlite/meshlite/proxy/resolve"
)

// ErrNoEndpoints is returned for a known service with no healthy endpoint.
var ErrNoEndpoints = errors.New("endpoints: service has no available endpoint")

// Config is what a Resolver needs.
type Config struct {
	Discovery *discovery.Client
	// Fallback resolves targets the destination service does not know.
	Fallback resolve.Resolver
	// Balance configures the balancers (clock, decay, failure accrual).
	Balance balance.Options
	// Drain is called when endpoints leave a set, to close pooled idle
	// connections; optional.
	Drain func()
	// IdleTimeout releases a target's watch after this long unused;
	// default 5 minutes.
	IdleTimeout time.Duration
	Log         zerolog.Logger
}

// Resolver is a resolve.Resolver backed by the destination service.
type Resolver struct {
	cfg     Config
	ctx     context.Context
	cancel  context.CancelFunc
	mu      sync.Mutex
	targets map[netip.AddrPort]*target
	wg      sync.WaitGroup
}

var _ resolve.Resolver = (*Resolver)(nil)

// New returns a resolver; Close releases its watches.
func New(cfg Config) *Resolver {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Resolver{cfg: cfg, ctx: ctx, cancel: cancel, targets: map[netip.AddrPort]*target{}}
}

// Close stops every watch.
func (r *Resolver) Close() {
	r.cancel()
	r.wg.Wait()
}

// Resolve picks an endpoint for target.
func (r *Resolver) Resolve(ctx context.Context, dst netip.AddrPort) (resolve.Endpoint, error) {
	t, err := r.target(ctx, dst)
	if err != nil {
		return resolve.Endpoint{}, err
	}
	st := t.current()
	if st == nil || st.passthrough {
		return r.cfg.Fallback.Resolve(ctx, dst)
	}
	pick, err := st.bal.Pick(ctx)
	if errors.Is(err, balance.ErrNoEndpoints) {
		return resolve.Endpoint{}, fmt.Errorf("%w: %s", ErrNoEndpoints, st.name)
	}
	if err != nil {
		return resolve.Endpoint{}, err
	}
	ep := st.byKey[pick.Endpoint().Key]
	ep.Done = func(o resolve.Outcome) {
		pick.Done(balance.Result{Latency: o.Latency, Err: o.Err, Failure: o.Failure})
	}
	return ep, nil
}

// target returns the watched state for dst, starting its watch on first use.
func (r *Resolver) target(ctx context.Context, dst netip.AddrPort) (*target, error) {
	r.mu.Lock()
	t, ok := r.targets[dst]
	if !ok {
		t = &target{ready: make(chan struct{})}
		r.targets[dst] = t
	}
	t.touch()
	r.mu.Unlock()
	if !ok {
		r.wg.Add(1)
		go r.watch(dst, t)
	}
	select {
	case <-t.ready:
		return t, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// watch follows one target until the resolver closes or the target idles.
func (r *Resolver) watch(dst netip.AddrPort, t *target) {
	defer r.wg.Done()
	svc, err := r.cfg.Discovery.Resolve(r.ctx, dst)
	if err != nil { // the resolver is closing
		close(t.ready)
		return
	}
	defer svc.Release()
	t.apply(r, svc)
	close(t.ready)
	idle := time.NewTicker(r.cfg.IdleTimeout / 2)
	defer idle.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-svc.Changed():
			t.apply(r, svc)
		case <-idle.C:
			if r.forget(dst, t) {
				return
			}
		}
	}
}

// forget drops t if it has been idle long enough; the check runs under
// the lock Resolve takes, so a Resolve racing in keeps it.
func (r *Resolver) forget(dst netip.AddrPort, t *target) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.idleFor() < r.cfg.IdleTimeout {
		return false
	}
	delete(r.targets, dst)
	return true
}
