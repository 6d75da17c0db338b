package trace

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/meshlite/meshlite/proxy/conninfo"
)

// newTestTracer returns a tracer exporting into memory.
func newTestTracer(t *testing.T, sampling float64) (*Tracer, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tr, err := New(Config{Exporter: exp, Sampling: sampling})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Shutdown(context.Background()) })
	return tr, exp
}

// through sends a request with headers h through the middleware and
// returns the headers the next layer saw.
func through(t *testing.T, tr *Tracer, dir conninfo.Direction, h http.Header, next func(http.ResponseWriter, *http.Request)) http.Header {
	t.Helper()
	var seen http.Header
	handler := tr.Middleware(dir)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		if next != nil {
			next(w, r)
		}
	}))
	r := httptest.NewRequest(http.MethodGet, "http://web.default:8080/users/7", nil)
	for k, v := range h {
		r.Header[k] = v
	}
	handler.ServeHTTP(httptest.NewRecorder(), r)
	return seen
}

func spans(t *testing.T, tr *Tracer, exp *tracetest.InMemoryExporter) tracetest.SpanStubs {
	t.Helper()
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return exp.GetSpans()
}

func attrMap(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

func TestMiddlewareStartsTrace(t *testing.T) {
	tr, exp := newTestTracer(t, 1)
	seen := through(t, tr, conninfo.Outbound, nil, nil)
	got := spans(t, tr, exp)
	if len(got) != 1 {
		t.Fatalf("%d spans, want 1", len(got))
	}
	s := got[0]
	if s.Parent.IsValid() || s.SpanKind != oteltrace.SpanKindClient || s.Name != "GET" {
		t.Fatalf("span %q kind %v parent %v, want a root CLIENT span named GET", s.Name, s.SpanKind, s.Parent)
	}
	want := "00-" + s.SpanContext.TraceID().String() + "-" + s.SpanContext.SpanID().String() + "-01"
	if got := seen.Get("Traceparent"); got != want {
		t.Fatalf("forwarded traceparent %q, want %q", got, want)
	}
	if seen.Get("B3") != "" || seen.Get("X-B3-Traceid") != "" {
		t.Fatalf("B3 headers added to a request that had none: %v", seen)
	}
	a := attrMap(s.Attributes)
	if a["http.request.method"] != "GET" || a["url.path"] != "/users/7" || a["server.address"] != "web.default:8080" || a["meshlite.direction"] != "outbound" {
		t.Fatalf("attributes %v", a)
	}
}

func TestMiddlewareContinuesTrace(t *testing.T) {
	tests := []struct {
		name     string
		sampling float64
		h        http.Header
		recorded bool
		check    func(t *testing.T, seen http.Header, sc oteltrace.SpanContext)
	}{
		{name: "w3c sampled parent, tracestate kept", sampling: 0,
			h: hdr("traceparent", "00-"+tid+"-"+sid+"-01", "tracestate", "vendor=x"), recorded: true,
			check: func(t *testing.T, seen http.Header, sc oteltrace.SpanContext) {
				if seen.Get("Tracestate") != "vendor=x" {
					t.Errorf("tracestate %q", seen.Get("Tracestate"))
				}
			}},
		{name: "w3c unsampled parent respected", sampling: 1, h: hdr("traceparent", "00-"+tid+"-"+sid+"-00"),
			check: func(t *testing.T, seen http.Header, sc oteltrace.SpanContext) {
				tp := seen.Get("Traceparent")
				if tp[:36] != "00-"+tid+"-" || tp[36:52] == sid || tp[53:] != "00" {
					t.Errorf("traceparent %q: want the same trace, a new span, not sampled", tp)
				}
			}},
		{name: "b3 single deferred decided by ratio, width kept", sampling: 1, h: hdr("b3", tid64+"-"+sid), recorded: true,
			check: func(t *testing.T, seen http.Header, sc oteltrace.SpanContext) {
				if want := tid64 + "-" + sc.SpanID().String() + "-1-" + sid; seen.Get("B3") != want {
					t.Errorf("b3 %q, want %q", seen.Get("B3"), want)
				}
				if seen.Get("Traceparent") == "" {
					t.Error("no traceparent added")
				}
			}},
		{name: "b3 multi debug forces sampling", sampling: 0, h: hdr("X-B3-TraceId", tid, "X-B3-SpanId", sid, "X-B3-Flags", "1"), recorded: true,
			check: func(t *testing.T, seen http.Header, sc oteltrace.SpanContext) {
				if seen.Get("X-B3-Flags") != "1" || seen.Get("X-B3-Spanid") != sc.SpanID().String() || seen.Get("X-B3-Parentspanid") != sid {
					t.Errorf("B3 headers %v", seen)
				}
			}},
		{name: "b3 deny without ids", sampling: 1, h: hdr("b3", "0"),
			check: func(t *testing.T, seen http.Header, sc oteltrace.SpanContext) {
				if c := Extract(seen); !c.Valid() || c.IsSampled() || seen.Get("B3")[len(seen.Get("B3"))-1] != '0' {
					t.Errorf("forwarded %v: want a new unsampled trace", seen)
				}
			}},
		{name: "b3 accept without ids", sampling: 0, h: hdr("X-B3-Sampled", "1"), recorded: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, exp := newTestTracer(t, tt.sampling)
			var sc oteltrace.SpanContext
			seen := through(t, tr, conninfo.Inbound, tt.h, func(_ http.ResponseWriter, r *http.Request) {
				sc = oteltrace.SpanContextFromContext(r.Context())
			})
			in := Extract(tt.h)
			if in.Valid() && sc.TraceID() != in.TraceID {
				t.Fatalf("trace %s, want the incoming %s", sc.TraceID(), in.TraceID)
			}
			if c := Extract(seen); c.TraceID != sc.TraceID() || c.SpanID != sc.SpanID() {
				t.Fatalf("forwarded context %v, want the span's %v", seen, sc)
			}
			got := spans(t, tr, exp)
			if (len(got) == 1) != tt.recorded {
				t.Fatalf("%d spans recorded, want recorded=%v", len(got), tt.recorded)
			}
			if tt.recorded {
				if got[0].SpanKind != oteltrace.SpanKindServer {
					t.Errorf("kind %v, want SERVER", got[0].SpanKind)
				}
				if in.Valid() && got[0].Parent.SpanID() != in.SpanID {
					t.Errorf("parent %v, want %v", got[0].Parent.SpanID(), in.SpanID)
				}
			}
			if tt.check != nil {
				tt.check(t, seen, sc)
			}
		})
	}
}

func TestObserve(t *testing.T) {
	tr, exp := newTestTracer(t, 1)
	ep := netip.MustParseAddrPort("10.0.0.7:4143")
	through(t, tr, conninfo.Outbound, nil, func(w http.ResponseWriter, r *http.Request) {
		Retry(r.Context(), 1, ep, "connect refused")
		Observe(r.Context(), Outcome{Status: 502, Endpoint: ep, TLS: true, ClientID: "spiffe://td/ns/a/sa/a",
			ServerID: "spiffe://td/ns/b/sa/b", Route: "/users/{id}", Retries: 2})
	})
	s := spans(t, tr, exp)[0]
	a := attrMap(s.Attributes)
	for k, v := range map[string]string{"http.response.status_code": "502", "meshlite.endpoint": "10.0.0.7:4143", "meshlite.tls": "true",
		"meshlite.client_id": "spiffe://td/ns/a/sa/a", "meshlite.server_id": "spiffe://td/ns/b/sa/b", "http.route": "/users/{id}",
		"meshlite.retries": "2"} {
		if a[k] != v {
			t.Errorf("%s = %q, want %q", k, a[k], v)
		}
	}
	if s.Status.Code != codes.Error || s.Name != "GET /users/{id}" || len(s.Events) != 1 {
		t.Errorf("status %v, name %q, events %v", s.Status, s.Name, s.Events)
	}
}

func TestNilTracerPassesThrough(t *testing.T) {
	var tr *Tracer
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	if h := tr.Middleware(conninfo.Inbound)(next); h == nil {
		t.Fatal("nil handler")
	}
	h := hdr("traceparent", "00-"+tid+"-"+sid+"-01", "tracestate", "k=v", "b3", tid+"-"+sid+"-1")
	seen := through(t, tr, conninfo.Inbound, h, func(_ http.ResponseWriter, r *http.Request) {
		tid2, sid2, ok := IDs(r)
		if !ok || tid2.String() != tid || sid2.String() != sid {
			t.Errorf("IDs = %s %s %v, want the incoming", tid2, sid2, ok)
		}
	})
	for k := range h {
		if seen.Get(k) != h.Get(k) {
			t.Errorf("%s changed: %q, want %q", k, seen.Get(k), h.Get(k))
		}
	}
	if tr.Shutdown(context.Background()) != nil || tr.ForceFlush(context.Background()) != nil {
		t.Fatal("nil tracer's Shutdown failed")
	}
}

func TestNewOff(t *testing.T) {
	tr, err := New(Config{})
	if tr != nil || err != nil {
		t.Fatalf("New without a collector: %v, %v; want nil, nil", tr, err)
	}
	if _, err := New(Config{Collector: "127.0.0.1:4317", Sampling: 2}); err == nil {
		t.Fatal("sampling 2 accepted")
	}
	if _, err := New(Config{Collector: "127.0.0.1:4317", Protocol: "thrift"}); err == nil {
		t.Fatal("protocol thrift accepted")
	}
}

var _ sdktrace.SpanExporter = (*tracetest.InMemoryExporter)(nil)
