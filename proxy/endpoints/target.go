package endpoints

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshlite/meshlite/proxy/balance"
	"github.com/meshlite/meshlite/proxy/discovery"
	"github.com/meshlite/meshlite/proxy/resolve"
)

// target is what the resolver knows about one target.
type target struct {
	ready    chan struct{} // closed once the first answer (or none) is in
	state    atomic.Pointer[state]
	lastUsed atomic.Int64 // unix nanoseconds

	mu   sync.Mutex // serialises apply
	kind discovery.Balancer
	bal  balance.Balancer
}

// state is an immutable snapshot used per request.
type state struct {
	name        string
	passthrough bool
	bal         balance.Balancer
	byKey       map[string]resolve.Endpoint
}

func (t *target) touch()                 { t.lastUsed.Store(time.Now().UnixNano()) }
func (t *target) idleFor() time.Duration { return time.Since(time.Unix(0, t.lastUsed.Load())) }

// current returns the snapshot, or nil when the target is unknown to the
// destination service (the fallback applies).
func (t *target) current() *state { return t.state.Load() }

// apply brings t up to date with svc: endpoints into the balancer, a new
// balancer when the policy's choice changed.
func (t *target) apply(r *Resolver, svc *discovery.Service) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if svc.NotFound() {
		t.state.Store(nil)
		return
	}
	pol := svc.Policy()
	if t.bal == nil || pol.Balancer != t.kind {
		kind := pol.Balancer.String()
		if pol.Balancer == discovery.BalancerDefault || pol.Balancer == discovery.BalancerPassthrough {
			kind = balance.KindPeakEWMA
		}
		b, err := balance.New(kind, r.cfg.Balance)
		if err != nil {
			r.cfg.Log.Warn().Err(err).Str("service", svc.Name()).Msg("unknown balancer; using the default")
			b, _ = balance.New(balance.KindPeakEWMA, r.cfg.Balance)
		}
		t.bal, t.kind = b, pol.Balancer
	}
	eps := svc.Endpoints()
	bal := make([]balance.Endpoint, 0, len(eps))
	byKey := make(map[string]resolve.Endpoint, len(eps))
	for _, e := range eps {
		key := e.Addr.String()
		bal = append(bal, balance.Endpoint{Key: key, Addr: e.Addr, Weight: e.Weight, Identity: e.Identity.String(), Labels: e.Labels})
		byKey[key] = resolve.Endpoint{Addr: e.Addr, Identity: e.Identity, MeshPort: e.MeshPort}
	}
	t.bal.Update(bal)
	removed := false
	if old := t.state.Load(); old != nil {
		for k := range old.byKey {
			if _, ok := byKey[k]; !ok {
				removed = true
				break
			}
		}
	}
	t.state.Store(&state{name: svc.Name(), passthrough: pol.Balancer == discovery.BalancerPassthrough, bal: t.bal, byKey: byKey})
	if removed && r.cfg.Drain != nil {
		r.cfg.Drain()
	}
}
