package app

import (
	"context"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/meshlite/meshlite/destination/registry"
)

// metrics are the service's own, in its own registry.
type metrics struct {
	watches       prometheus.Gauge
	endpoints     *prometheus.GaugeVec
	registrations prometheus.Gauge
	expiries      prometheus.Counter
	checks        *prometheus.CounterVec
	reloads       *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		watches: prometheus.NewGauge(prometheus.GaugeOpts{Name: "destination_watches_open",
			Help: "Watch streams open."}),
		endpoints: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "destination_endpoints",
			Help: "Healthy endpoint addresses (distinct IPs over the service's ports) per service (name.namespace)."}, []string{"service"}),
		registrations: prometheus.NewGauge(prometheus.GaugeOpts{Name: "destination_registrations",
			Help: "Workload registrations (leases) held."}),
		expiries: prometheus.NewCounter(prometheus.CounterOpts{Name: "destination_lease_expiries_total",
			Help: "Registrations removed because their lease was not renewed."}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "destination_health_checks_total",
			Help: "Active health checks run, by result (pass, fail)."}, []string{"result"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "destination_config_reloads_total",
			Help: "Configuration directory changes, by result (ok, rejected)."}, []string{"result"}),
	}
	reg.MustRegister(m.watches, m.endpoints, m.registrations, m.expiries, m.checks, m.reloads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// followEndpoints keeps destination_endpoints at the snapshots of src
// until ctx is done.
func (m *metrics) followEndpoints(ctx context.Context, src registry.Source) {
	seen := map[string]bool{}
	for {
		snap, changed := src.Snapshot()
		now := map[string]bool{}
		for _, svc := range snap.Services() {
			ips := map[netip.Addr]bool{}
			for _, p := range svc.Ports {
				for _, e := range p.Endpoints {
					ips[e.Addr.Addr()] = true
				}
			}
			m.endpoints.WithLabelValues(svc.Key()).Set(float64(len(ips)))
			now[svc.Key()] = true
		}
		for k := range seen {
			if !now[k] {
				m.endpoints.DeleteLabelValues(k)
			}
		}
		seen = now
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}
