package embedded

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/meshlite/meshlite/destination/config"
	"github.com/meshlite/meshlite/destination/health"
	"github.com/meshlite/meshlite/destination/lease"
	"github.com/meshlite/meshlite/destination/registry"
)

// DefaultMeshPort is a meshed workload's proxy inbound port when its
// registration gives none.
const DefaultMeshPort = 4143

// Config configures a Registry.
type Config struct {
	// Dir is the configuration directory; it must exist.
	Dir string
	// PollInterval is how often Dir is read again.
	PollInterval time.Duration // 1s
	// Lease configures the registrations (OnChange is set by New).
	Lease lease.Config
	Log   zerolog.Logger
	// Checks counts active health checks by result (optional).
	Checks *prometheus.CounterVec
	// Reloads counts configuration reloads by result, ok or rejected
	// (optional).
	Reloads *prometheus.CounterVec
	// Probe replaces the health checks' network probe (optional).
	Probe func(ctx context.Context, spec health.Spec, addr netip.AddrPort) error
	// Translate configures the translation of Istio and Gateway API
	// resources (cluster domain, root namespace).
	Translate config.Options
}

// Registry is the embedded registry: a registry.Source.
type Registry struct {
	cfg     Config
	log     zerolog.Logger
	loader  *config.Loader
	leases  *lease.Store
	monitor *health.Monitor
	pub     *registry.Publisher
	trigger chan struct{}
	lastErr string
	close   sync.Once
}

var _ registry.Source = (*Registry)(nil)

// New loads the configuration directory once and opens the lease store.
// An unreadable directory or store is an error; bad files are logged and
// left out.
func New(cfg Config) (*Registry, error) {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	r := &Registry{cfg: cfg, log: cfg.Log, loader: config.NewLoader(cfg.Dir, cfg.Translate), pub: registry.NewPublisher(),
		trigger: make(chan struct{}, 1)}
	r.monitor = health.NewMonitor(health.MonitorConfig{OnChange: r.Trigger, Log: cfg.Log, Checks: cfg.Checks, Probe: cfg.Probe})
	res, err := r.loader.Reload()
	if err != nil {
		r.monitor.Close()
		return nil, fmt.Errorf("embedded: %w", err)
	}
	r.report(res)
	lc := cfg.Lease
	lc.OnChange = r.Trigger
	if r.leases, err = lease.Open(lc); err != nil {
		r.monitor.Close()
		return nil, fmt.Errorf("embedded: %w", err)
	}
	if n := r.leases.Len(); n > 0 {
		r.log.Info().Int("registrations", n).Str("state_file", lc.Path).Msg("registrations restored; each must be renewed within its TTL")
	}
	r.rebuild()
	return r, nil
}

// Ready is true: New has loaded the directory.
func (r *Registry) Ready() bool { return true }

// Leases is the registration store, for the Register and Deregister calls.
func (r *Registry) Leases() *lease.Store { return r.leases }

// Snapshot implements registry.Source.
func (r *Registry) Snapshot() (*registry.Snapshot, <-chan struct{}) { return r.pub.Snapshot() }

// Trigger asks for the snapshot to be rebuilt soon.
func (r *Registry) Trigger() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// Run follows the directory, expires leases and rebuilds snapshots until
// ctx is done. Close afterwards.
func (r *Registry) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { r.leases.Run(ctx) })
	defer wg.Wait()
	tick := time.NewTicker(r.cfg.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if r.reload() {
				r.rebuild()
			}
		case <-r.trigger:
			r.rebuild()
		}
	}
}

// Close stops the health checks and closes the lease store.
func (r *Registry) Close() error {
	var err error
	r.close.Do(func() {
		r.monitor.Close()
		err = r.leases.Close()
	})
	return err
}

// reload reads the directory and reports whether the configuration in
// force changed.
func (r *Registry) reload() bool {
	res, err := r.loader.Reload()
	if err != nil {
		if err.Error() != r.lastErr {
			r.log.Error().Err(err).Str("dir", r.cfg.Dir).Msg("configuration directory unreadable; keeping the configuration in force")
		}
		r.lastErr = err.Error()
		return false
	}
	r.lastErr = ""
	r.report(res)
	return res.Changed
}

func (r *Registry) report(res config.Result) {
	for _, p := range res.Rejected {
		r.log.Error().Str("file", p.File).Int("line", p.Line).Str("field", p.Field).Str("problem", p.Msg).
			Msg("configuration rejected; the file's last good version stays in force: " + p.Error())
	}
	for _, p := range res.Warnings {
		r.log.Warn().Str("file", p.File).Int("line", p.Line).Str("field", p.Field).Msg(p.Error())
	}
	for _, s := range res.Skipped {
		r.log.Debug().Str("file", s.File).Int("line", s.Line).Str("apiVersion", s.APIVersion).Str("kind", s.Kind).Msg("document of unknown kind skipped")
	}
	for _, f := range res.Loaded {
		r.log.Info().Str("file", f).Msg("configuration loaded")
	}
	for _, f := range res.Removed {
		r.log.Info().Str("file", f).Msg("configuration file removed")
	}
	if r.cfg.Reloads != nil {
		if len(res.Loaded)+len(res.Removed) > 0 {
			r.cfg.Reloads.WithLabelValues("ok").Inc()
		}
		if len(res.Rejected) > 0 {
			r.cfg.Reloads.WithLabelValues("rejected").Inc()
		}
	}
}

// rebuild computes and publishes the snapshot, and tells the health
// monitor which targets to check.
func (r *Registry) rebuild() {
	cfg := r.loader.Config()
	workloads := r.leases.Workloads()
	want := map[health.Target]health.Spec{}
	services := make([]*registry.Service, 0, len(cfg.Services))
	for _, svc := range cfg.Services {
		services = append(services, r.service(svc, cfg.HealthChecks[svc.Key()], workloads, want))
	}
	r.monitor.Set(want)
	r.pub.Publish(registry.NewSnapshot(services).WithInbound(cfg.Traffic))
}

// service builds one service's ports and endpoints, adding its health
// check targets to want.
func (r *Registry) service(svc *config.Service, hc *config.HealthCheck, workloads []*lease.Workload, want map[health.Target]health.Spec) *registry.Service {
	out := &registry.Service{Name: svc.Name, Namespace: svc.Namespace, Addrs: svc.Addrs,
		Policy: r.loader.Config().Traffic.Policy(svc.Key(), svc.Policy), Ports: make([]registry.Port, len(svc.Ports))}
	for i, sp := range svc.Ports {
		out.Ports[i] = registry.Port{Name: sp.Name, Port: sp.Port, Protocol: sp.Protocol}
	}
	for _, w := range workloads {
		if w.Namespace != svc.Namespace || !Matches(svc.Selector, w.Labels) {
			continue
		}
		if hc != nil {
			port := checkPort(hc, svc, w)
			if port == 0 {
				continue // nothing to check: never healthy
			}
			t := health.Target{Service: svc.Key(), Addr: netip.AddrPortFrom(w.Addr, port)}
			want[t] = hc.Spec
			if !r.monitor.Healthy(t) {
				continue
			}
		}
		for i, sp := range svc.Ports {
			tp := targetPort(sp, w)
			if tp == 0 || !slices.Contains(w.Ports, tp) {
				continue
			}
			out.Ports[i].Endpoints = append(out.Ports[i].Endpoints, endpoint(w, tp, sp.Protocol))
		}
	}
	for i := range out.Ports {
		eps := out.Ports[i].Endpoints
		slices.SortStableFunc(eps, func(a, b registry.Endpoint) int { return a.Addr.Compare(b.Addr) })
		out.Ports[i].Endpoints = slices.CompactFunc(eps, func(a, b registry.Endpoint) bool { return a.Addr == b.Addr })
	}
	return out
}

func endpoint(w *lease.Workload, port uint16, proto registry.Protocol) registry.Endpoint {
	e := registry.Endpoint{Addr: netip.AddrPortFrom(w.Addr, port), Weight: max(w.Weight, 1), Labels: w.Labels, Protocol: proto}
	if w.Identity != "" {
		e.Identity, e.MeshPort = w.Identity, w.MeshPort
		if e.MeshPort == 0 {
			e.MeshPort = DefaultMeshPort
		}
	}
	return e
}

// targetPort is the workload's port behind service port sp, 0 when a
// named targetPort is not among the workload's port names.
func targetPort(sp config.ServicePort, w *lease.Workload) uint16 {
	if sp.TargetPortName != "" {
		return w.PortNames[sp.TargetPortName]
	}
	return sp.TargetPort
}

// checkPort is the port hc checks on w.
func checkPort(hc *config.HealthCheck, svc *config.Service, w *lease.Workload) uint16 {
	switch {
	case hc.Port != 0:
		return hc.Port
	case hc.PortName != "":
		return w.PortNames[hc.PortName]
	}
	return targetPort(svc.Ports[0], w)
}

// Matches reports whether labels satisfy selector (every selector pair is
// among the labels). An empty selector matches nothing.
func Matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if lv, ok := labels[k]; !ok || lv != v {
			return false
		}
	}
	return true
}
