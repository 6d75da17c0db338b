package health

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Target is what one prober checks: an endpoint address on behalf of a
// service ("name.namespace"). The same address checked for two services
// is two targets, each with its service's Spec.
type Target struct {
	Service string
	Addr    netip.AddrPort
}

// MonitorConfig configures a Monitor.
type MonitorConfig struct {
	// OnChange is called, from a prober's goroutine, after a target's
	// health flips. It must not block for long or call Set.
	OnChange func()
	// Log gets a line per flip (info) and per failed check (debug).
	Log zerolog.Logger
	// Checks, when set, counts checks by label "result": pass or fail.
	Checks *prometheus.CounterVec
	// Probe runs one check; Probe (this package's) when nil.
	Probe func(ctx context.Context, spec Spec, addr netip.AddrPort) error
}

// Monitor runs active checks for a set of targets.
type Monitor struct {
	cfg MonitorConfig
	ctx context.Context
	end context.CancelFunc
	wg  sync.WaitGroup

	mu      sync.Mutex
	probers map[Target]*prober
}

type prober struct {
	spec    Spec
	cancel  context.CancelFunc
	healthy atomic.Bool
}

// NewMonitor returns a monitor checking nothing yet.
func NewMonitor(cfg MonitorConfig) *Monitor {
	if cfg.Probe == nil {
		cfg.Probe = Probe
	}
	if cfg.OnChange == nil {
		cfg.OnChange = func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Monitor{cfg: cfg, ctx: ctx, end: cancel, probers: map[Target]*prober{}}
}

// Set makes want the set of checked targets: probers for targets no
// longer wanted stop, new ones start (unhealthy until their first pass),
// and a target whose Spec changed starts over. Targets whose Spec is
// unchanged keep running and keep their state.
func (m *Monitor) Set(want map[Target]Spec) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctx.Err() != nil {
		return
	}
	for t, p := range m.probers {
		if s, ok := want[t]; !ok || s.WithDefaults() != p.spec {
			p.cancel()
			delete(m.probers, t)
		}
	}
	for t, s := range want {
		if _, ok := m.probers[t]; ok {
			continue
		}
		ctx, cancel := context.WithCancel(m.ctx)
		p := &prober{spec: s.WithDefaults(), cancel: cancel}
		m.probers[t] = p
		m.wg.Go(func() { m.run(ctx, t, p) })
	}
}

// Healthy reports whether target t is checked and currently healthy.
func (m *Monitor) Healthy(t Target) bool {
	m.mu.Lock()
	p := m.probers[t]
	m.mu.Unlock()
	return p != nil && p.healthy.Load()
}

// Close stops every prober and waits for them.
func (m *Monitor) Close() {
	m.mu.Lock()
	m.end()
	m.probers = map[Target]*prober{}
	m.mu.Unlock()
	m.wg.Wait()
}

// state is a target's health with the counts toward a flip.
type state struct {
	healthy, everHealthy bool
	passes, fails        int
}

// observe records one result and reports whether health flipped.
func (s *state) observe(pass bool, spec Spec) bool {
	if pass {
		s.fails = 0
		s.passes++
		if !s.healthy && (!s.everHealthy || s.passes >= spec.HealthyThreshold) {
			s.healthy, s.everHealthy = true, true
			return true
		}
		return false
	}
	s.passes = 0
	s.fails++
	if s.healthy && s.fails >= spec.UnhealthyThreshold {
		s.healthy = false
		return true
	}
	return false
}

func (m *Monitor) run(ctx context.Context, t Target, p *prober) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var st state
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		err := m.cfg.Probe(ctx, p.spec, t.Addr)
		if ctx.Err() != nil {
			return
		}
		result := "pass"
		if err != nil {
			result = "fail"
			m.cfg.Log.Debug().Err(err).Str("service", t.Service).Str("endpoint", t.Addr.String()).Msg("health check failed")
		}
		if m.cfg.Checks != nil {
			m.cfg.Checks.WithLabelValues(result).Inc()
		}
		if st.observe(err == nil, p.spec) {
			p.healthy.Store(st.healthy)
			ev := m.cfg.Log.Info().Str("service", t.Service).Str("endpoint", t.Addr.String()).
				Str("check", p.spec.Kind.String()).Bool("healthy", st.healthy)
			if err != nil {
				ev = ev.Err(err)
			}
			ev.Msg("endpoint health changed")
			m.cfg.OnChange()
		}
		timer.Reset(p.spec.Interval)
	}
}
