package trace_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/rs/zerolog"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/meshlite/meshlite/proxy/conninfo"
	"github.com/meshlite/meshlite/proxy/metrics"
	"github.com/meshlite/meshlite/proxy/observe"
	"github.com/meshlite/meshlite/proxy/trace"
)

const incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// chain is the proxy's order: tracing, then observing, then the handler.
func chain(tr *trace.Tracer, log *zerolog.Logger, next http.HandlerFunc) http.Handler {
	h := observe.Middleware(observe.Config{Metrics: metrics.New(), AccessLog: log})(next)
	return tr.Middleware(conninfo.Inbound)(h)
}

func request(h http.Header) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://web/x", nil)
	for k, v := range h {
		r.Header[k] = v
	}
	info := &conninfo.Info{Direction: conninfo.Inbound, OrigDst: netip.MustParseAddrPort("10.0.0.2:8080")}
	return r.WithContext(conninfo.With(r.Context(), info))
}

func accessLine(t *testing.T, buf *bytes.Buffer) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("access log %q: %v", buf, err)
	}
	return m
}

// TestAccessLogCarriesSpan: with tracing on, the access line names the
// hop's own span, which the collector gets too.
func TestAccessLogCarriesSpan(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr, err := trace.New(trace.Config{Exporter: exp, Sampling: 1})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := zerolog.New(&buf)
	h := chain(tr, &log, func(w http.ResponseWriter, r *http.Request) {
		if hop := conninfo.HopFrom(r.Context()); hop != nil {
			hop.Route = "/x"
		}
		w.WriteHeader(503)
	})
	h.ServeHTTP(httptest.NewRecorder(), request(http.Header{"Traceparent": {incoming}}))
	tr.ForceFlush(context.Background())
	defer tr.Shutdown(context.Background())
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	m := accessLine(t, &buf)
	sc := spans[0].SpanContext
	if m["trace_id"] != sc.TraceID().String() || m["span_id"] != sc.SpanID().String() || m["route"] != "/x" {
		t.Fatalf("access line %v, want the span %s/%s and route /x", m, sc.TraceID(), sc.SpanID())
	}
	if spans[0].Status.Code.String() != "Error" {
		t.Errorf("503 span status %v", spans[0].Status)
	}
}

// TestAccessLogWithoutTracing: with tracing off the access line carries
// the incoming trace and span IDs, and the headers pass unchanged.
func TestAccessLogWithoutTracing(t *testing.T) {
	var buf bytes.Buffer
	log := zerolog.New(&buf)
	var seen string
	h := chain(nil, &log, func(w http.ResponseWriter, r *http.Request) { seen = r.Header.Get("Traceparent") })
	h.ServeHTTP(httptest.NewRecorder(), request(http.Header{"Traceparent": {incoming}}))
	m := accessLine(t, &buf)
	if m["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" || m["span_id"] != "00f067aa0ba902b7" || seen != incoming {
		t.Fatalf("access line %v, forwarded %q", m, seen)
	}
	buf.Reset()
	h.ServeHTTP(httptest.NewRecorder(), request(nil))
	if m := accessLine(t, &buf); m["trace_id"] != nil || m["span_id"] != nil {
		t.Fatalf("access line of an untraced request: %v", m)
	}
}

// BenchmarkMiddleware measures the tracing layer plus the access log's
// IDs lookup: off (no collector) with and without an incoming context,
// and on, unsampled and sampled (spans queued for a discarding exporter).
func BenchmarkMiddleware(b *testing.B) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { trace.IDs(r) })
	discard := tracetest.NewNoopExporter()
	for _, bc := range []struct {
		name     string
		on       bool
		sampling float64
		header   string
	}{
		{"off/no-context", false, 0, ""},
		{"off/w3c", false, 0, incoming},
		{"on/unsampled", true, 0, ""},
		{"on/sampled", true, 1, ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var tr *trace.Tracer
			if bc.on {
				var err error
				if tr, err = trace.New(trace.Config{Exporter: discard, Sampling: bc.sampling, QueueSize: 1 << 16}); err != nil {
					b.Fatal(err)
				}
				defer tr.Shutdown(context.Background())
			}
			h := tr.Middleware(conninfo.Outbound)(next)
			r := httptest.NewRequest(http.MethodGet, "http://web/x", nil)
			if bc.header != "" {
				r.Header["Traceparent"] = []string{bc.header}
			}
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				if bc.on && bc.header == "" {
					delete(r.Header, "Traceparent") // the middleware added one
				}
				h.ServeHTTP(w, r)
			}
		})
	}
}

var _ sdktrace.SpanExporter = tracetest.NewNoopExporter()
