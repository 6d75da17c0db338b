package health

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/meshlite/meshlite/destination/registry"
)

// DefaultEjectFor is how long a passively failed endpoint stays out.
const DefaultEjectFor = 30 * time.Second

// maxEjected bounds how many addresses are remembered as failing; reports
// about more are ignored until some expire.
const maxEjected = 4096

// Passive is a registry.Source that removes the endpoints proxies report
// as failing from the snapshots of another Source. An endpoint returns on
// a healthy report, or when its ejection time has passed.
type Passive struct {
	inner    registry.Source
	ejectFor time.Duration
	now      func() time.Time
	pub      *registry.Publisher
	kick     chan struct{}

	mu      sync.Mutex
	ejected map[netip.AddrPort]time.Time // until
}

var _ registry.Source = (*Passive)(nil)

// NewPassive wraps inner. ejectFor <= 0 means DefaultEjectFor; now nil
// means time.Now. Run must be running for snapshots to flow.
func NewPassive(inner registry.Source, ejectFor time.Duration, now func() time.Time) *Passive {
	if ejectFor <= 0 {
		ejectFor = DefaultEjectFor
	}
	if now == nil {
		now = time.Now
	}
	p := &Passive{inner: inner, ejectFor: ejectFor, now: now, pub: registry.NewPublisher(),
		kick: make(chan struct{}, 1), ejected: map[netip.AddrPort]time.Time{}}
	snap, _ := inner.Snapshot()
	p.pub.Publish(snap)
	return p
}

// Observe records a proxy's observation of addr. It reports whether the
// endpoint's passive state changed.
func (p *Passive) Observe(addr netip.AddrPort, healthy bool) bool {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	p.mu.Lock()
	_, was := p.ejected[addr]
	switch {
	case healthy && was:
		delete(p.ejected, addr)
	case !healthy && (was || len(p.ejected) < maxEjected):
		p.ejected[addr] = p.now().Add(p.ejectFor)
	}
	_, is := p.ejected[addr]
	p.mu.Unlock()
	if was != is {
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
	return was != is
}

// Snapshot implements registry.Source.
func (p *Passive) Snapshot() (*registry.Snapshot, <-chan struct{}) { return p.pub.Snapshot() }

// Run republishes inner's snapshots, filtered, until ctx is done.
func (p *Passive) Run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		snap, changed := p.inner.Snapshot()
		next := p.publish(snap)
		timer.Stop()
		if !next.IsZero() {
			timer.Reset(next.Sub(p.now()))
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-p.kick:
		case <-timer.C:
		}
	}
}

// publish filters snap and publishes it; it returns when the earliest
// remaining ejection ends (zero when none).
func (p *Passive) publish(snap *registry.Snapshot) time.Time {
	now := p.now()
	p.mu.Lock()
	var next time.Time
	ejected := make(map[netip.AddrPort]bool, len(p.ejected))
	for a, until := range p.ejected {
		if !until.After(now) {
			delete(p.ejected, a)
			continue
		}
		ejected[a] = true
		if next.IsZero() || until.Before(next) {
			next = until
		}
	}
	p.mu.Unlock()
	if len(ejected) == 0 {
		p.pub.Publish(snap)
		return next
	}
	var out []*registry.Service
	for _, svc := range snap.Services() {
		out = append(out, withoutEndpoints(svc, ejected))
	}
	p.pub.Publish(registry.NewSnapshot(out).WithInbound(snap.InboundSource()))
	return next
}

// withoutEndpoints returns svc itself when it has none of the ejected
// endpoints, else a copy without them.
func withoutEndpoints(svc *registry.Service, ejected map[netip.AddrPort]bool) *registry.Service {
	hit := false
	for _, port := range svc.Ports {
		for _, e := range port.Endpoints {
			hit = hit || ejected[e.Addr]
		}
	}
	if !hit {
		return svc
	}
	c := *svc
	c.Ports = make([]registry.Port, len(svc.Ports))
	for i, port := range svc.Ports {
		c.Ports[i] = port
		c.Ports[i].Endpoints = nil
		for _, e := range port.Endpoints {
			if !ejected[e.Addr] {
				c.Ports[i].Endpoints = append(c.Ports[i].Endpoints, e)
			}
		}
	}
	return &c
}
