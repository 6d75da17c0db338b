package server

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Refusal reasons, the values of identity_cert_refused_total's reason label.
const (
	ReasonInvalidIdentity  = "invalid_identity"
	ReasonInvalidCSR       = "invalid_csr"
	ReasonUnauthenticated  = "unauthenticated"
	ReasonPermissionDenied = "permission_denied"
	ReasonUnavailable      = "unavailable"
	ReasonInternal         = "internal"
)

var reasons = []string{
	ReasonInvalidIdentity, ReasonInvalidCSR, ReasonUnauthenticated,
	ReasonPermissionDenied, ReasonUnavailable, ReasonInternal,
}

// Metrics are the identity service's Prometheus metrics.
type Metrics struct {
	// Issued counts leaves signed for callers (not the service's own).
	Issued prometheus.Counter
	// Refused counts refused Certify calls by reason.
	Refused *prometheus.CounterVec
	// IssuerExpiry is the current issuer's NotAfter, in Unix seconds.
	IssuerExpiry prometheus.Gauge
	// IssuerReloads counts issuer file changes by result ("ok", "refused").
	IssuerReloads *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Issued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "identity_cert_issued_total", Help: "Total count of leaf certificates issued.",
		}),
		Refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "identity_cert_refused_total", Help: "Total count of refused certification requests, by reason.",
		}, []string{"reason"}),
		IssuerExpiry: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "identity_issuer_expiry_timestamp_seconds", Help: "Expiry of the issuer certificate in force, in seconds since the Unix epoch.",
		}),
		IssuerReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "identity_issuer_reload_total", Help: "Total count of changes to the issuer files seen, by result (ok, refused).",
		}, []string{"result"}),
	}
	for _, r := range reasons {
		m.Refused.WithLabelValues(r)
	}
	m.IssuerReloads.WithLabelValues("ok")
	m.IssuerReloads.WithLabelValues("refused")
	reg.MustRegister(m.Issued, m.Refused, m.IssuerExpiry, m.IssuerReloads)
	return m
}
