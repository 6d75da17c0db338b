// Package trace is the proxy's distributed tracing: it continues the
// trace context requests carry (W3C traceparent and tracestate, B3 single
// and multiple headers), makes one span per proxy hop with OpenTelemetry,
// and exports spans — and, optionally, the proxy's log lines — over OTLP
// (gRPC or HTTP) to a collector.
//
// The HTTP layer is Middleware, placed before the observing layer so the
// access log sees the span:
//
//	tr, err := trace.New(trace.Config{Collector: "10.0.0.1:4317", Sampling: 0.01, Metrics: trace.NewMetrics(reg)})
//	handler = tr.Middleware(conninfo.Outbound)(handler) // tr may be nil: propagation only
//	defer tr.Shutdown(ctx)
//
// Inside, the layers after it reach the hop's span through the request's
// context: IDs (for the access log), Observe (status, endpoint,
// identities), Retry, SetRoute, SetEndpoint.
//
// Export never slows a request: ended spans go to a bounded queue that
// one goroutine exports in batches; a span that finds the queue full is
// dropped and counted (trace_spans_dropped_total), as are the spans of a
// batch whose export failed or timed out twice. The same holds for log
// lines (LogExporter, log_records_dropped_total).
//
// Without a collector, New returns nil, and a nil Tracer's middleware is
// the next handler itself: the headers travel on untouched, and IDs reads
// the incoming context from them for the access log, without allocating.
package trace
