package identity

import "github.com/prometheus/client_golang/prometheus"

var (
	descExpiry = prometheus.NewDesc("identity_cert_expiry_timestamp_seconds",
		"Expiry of the proxy's current SVID, in seconds since the Unix epoch (0 before the first).", nil, nil)
	descRenewals = prometheus.NewDesc("identity_cert_renewals_total",
		"Total count of SVIDs received from the identity service.", nil, nil)
	descFailures = prometheus.NewDesc("identity_cert_renewal_failures_total",
		"Total count of failed requests to the identity service.", nil, nil)
	descReady = prometheus.NewDesc("identity_cert_ready",
		"1 while the proxy holds an unexpired SVID, else 0.", nil, nil)
)

// Collector returns a Prometheus collector of the client's state:
// identity_cert_expiry_timestamp_seconds, identity_cert_renewals_total,
// identity_cert_renewal_failures_total and identity_cert_ready. Register it
// with the proxy's registry.
func (c *Client) Collector() prometheus.Collector { return collector{c} }

type collector struct{ c *Client }

func (collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descExpiry
	ch <- descRenewals
	ch <- descFailures
	ch <- descReady
}

func (m collector) Collect(ch chan<- prometheus.Metric) {
	var exp float64
	if t := m.c.Expiry(); !t.IsZero() {
		exp = float64(t.Unix())
	}
	var ready float64
	if m.c.Ready() {
		ready = 1
	}
	ch <- prometheus.MustNewConstMetric(descExpiry, prometheus.GaugeValue, exp)
	ch <- prometheus.MustNewConstMetric(descRenewals, prometheus.CounterValue, float64(m.c.renewals.Load()))
	ch <- prometheus.MustNewConstMetric(descFailures, prometheus.CounterValue, float64(m.c.failures.Load()))
	ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, ready)
}
