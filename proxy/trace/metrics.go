package trace

import "github.com/prometheus/client_golang/prometheus"

// Metrics count what the exporters did with spans and log records.
type Metrics struct {
	SpansExported prometheus.Counter
	SpansDropped  prometheus.Counter
	LogsExported  prometheus.Counter
	LogsDropped   prometheus.Counter
}

// NewMetrics makes the exporters' counters and registers them with reg
// (nil: not registered, for tests):
//
//	trace_spans_exported_total   sampled spans the collector accepted
//	trace_spans_dropped_total    sampled spans lost: queue full, export failed or timed out, or still queued at shutdown
//	log_records_exported_total   log records the collector accepted
//	log_records_dropped_total    log records lost, likewise
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		SpansExported: prometheus.NewCounter(prometheus.CounterOpts{Name: "trace_spans_exported_total",
			Help: "Sampled spans the trace collector accepted."}),
		SpansDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "trace_spans_dropped_total",
			Help: "Sampled spans not exported: the export queue was full, the export failed or timed out, or the proxy stopped first."}),
		LogsExported: prometheus.NewCounter(prometheus.CounterOpts{Name: "log_records_exported_total",
			Help: "Log records the OTLP log collector accepted."}),
		LogsDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "log_records_dropped_total",
			Help: "Log records not exported: the export queue was full, the export failed or timed out, or the proxy stopped first."}),
	}
	if reg != nil {
		reg.MustRegister(m.SpansExported, m.SpansDropped, m.LogsExported, m.LogsDropped)
	}
	return m
}
