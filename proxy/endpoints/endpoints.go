// Package endpoints resolves targets through the destination service and
// balances requests and connections over the endpoints it announces.
//
// For each target (a service address the application dialled, or a
// service name a route sends to) it keeps one discovery watch and the
// service's compiled route table; for each subset of the service (and the
// whole service) a balancer of the kind the policy names (peak EWMA by
// default), wrapped in outlier detection when configured, and a connection
// pool limiter. All of it is updated as endpoints and policy change,
// without disturbing requests in flight. A target the destination service
// does not know — or any target while the service has never answered — has
// no Target, and goes to the fallback resolver, the original destination.
// When endpoints leave a set, idle pooled connections are closed so none
// lingers to a removed endpoint.
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

// ErrNoEndpoints is returned for a known service with no available
// endpoint (in the asked subset).
var ErrNoEndpoints = errors.New("endpoints: no available endpoint")

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

// Resolver resolves outbound targets through the destination service.
type Resolver struct {
	cfg     Config
	ctx     context.Context
	cancel  context.CancelFunc
	mu      sync.Mutex
	targets map[string]*Target
	wg      sync.WaitGroup
}

var _ resolve.Resolver = (*Resolver)(nil)

// New returns a resolver; Close releases its watches.
func New(cfg Config) *Resolver {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Resolver{cfg: cfg, ctx: ctx, cancel: cancel, targets: map[string]*Target{}}
}

// Close stops every watch.
func (r *Resolver) Close() {
	r.cancel()
	r.wg.Wait()
}

// Resolve picks an endpoint of the whole service for dst (opaque TCP and
// callers without routes), or asks the fallback when dst has no Target.
func (r *Resolver) Resolve(ctx context.Context, dst netip.AddrPort) (resolve.Endpoint, error) {
	t, err := r.Target(ctx, dst)
	if err != nil {
		return resolve.Endpoint{}, err
	}
	if t == nil {
		return r.cfg.Fallback.Resolve(ctx, dst)
	}
	return t.Pick(ctx, "")
}

// Fallback resolves dst without the destination service.
func (r *Resolver) Fallback(ctx context.Context, dst netip.AddrPort) (resolve.Endpoint, error) {
	return r.cfg.Fallback.Resolve(ctx, dst)
}

// Target returns the routing state of the service at dst, or nil when the
// destination service does not know it (or says to pass through).
func (r *Resolver) Target(ctx context.Context, dst netip.AddrPort) (*Target, error) {
	return r.target(ctx, dst.String(), dst.Port(), func(ctx context.Context) (*discovery.Service, error) {
		return r.cfg.Discovery.Resolve(ctx, dst)
	})
}

// Named returns the routing state of a service by name ("name.namespace")
// on port, for routes that send to another service; nil when unknown.
func (r *Resolver) Named(ctx context.Context, service string, port uint16) (*Target, error) {
	name := fmt.Sprintf("%s:%d", service, port)
	return r.target(ctx, name, port, func(ctx context.Context) (*discovery.Service, error) {
		return r.cfg.Discovery.ResolveName(ctx, name)
	})
}

// target returns the watched state for key, starting its watch on first
// use; nil when the service is unknown.
func (r *Resolver) target(ctx context.Context, key string, port uint16, resolveFn func(context.Context) (*discovery.Service, error)) (*Target, error) {
	r.mu.Lock()
	t, ok := r.targets[key]
	if !ok {
		t = newTarget(r, port)
		r.targets[key] = t
	}
	t.touch()
	r.mu.Unlock()
	if !ok {
		r.wg.Add(1)
		go r.watch(key, t, resolveFn)
	}
	select {
	case <-t.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if st := t.state.Load(); st == nil || st.passthrough {
		return nil, nil
	}
	return t, nil
}

// watch follows one target until the resolver closes or the target idles.
func (r *Resolver) watch(key string, t *Target, resolveFn func(context.Context) (*discovery.Service, error)) {
	defer r.wg.Done()
	svc, err := resolveFn(r.ctx)
	if err != nil { // the resolver is closing
		close(t.ready)
		return
	}
	defer svc.Release()
	t.apply(svc)
	close(t.ready)
	idle := time.NewTicker(r.cfg.IdleTimeout / 2)
	defer idle.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-svc.Changed():
			t.apply(svc)
		case <-idle.C:
			if r.forget(key, t) {
				return
			}
		}
	}
}

// forget drops t if it has been idle long enough; the check runs under
// the lock target takes, so a lookup racing in keeps it.
func (r *Resolver) forget(key string, t *Target) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.idleFor() < r.cfg.IdleTimeout {
		return false
	}
	delete(r.targets, key)
	return true
}
