package trace

import (
	"context"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/meshlite/meshlite/proxy/conninfo"
)

// value reads a counter.
func value(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// silentCollector accepts connections and never answers.
func silentCollector(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// refusedAddr is a loopback address nothing listens on.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestExportNeverBlocks: with a collector that never answers or is not
// there, requests take no longer than without tracing, and every span is
// counted as dropped.
func TestExportNeverBlocks(t *testing.T) {
	for _, tc := range []struct{ name, proto, addr string }{
		{"grpc silent", ProtocolGRPC, silentCollector(t)},
		{"http silent", ProtocolHTTP, silentCollector(t)},
		{"grpc away", ProtocolGRPC, refusedAddr(t)},
		{"http away", ProtocolHTTP, refusedAddr(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMetrics(nil)
			tr, err := New(Config{Collector: tc.addr, Protocol: tc.proto, Sampling: 1, QueueSize: 16, BatchSize: 4,
				BatchTimeout: 5 * time.Millisecond, ExportTimeout: 300 * time.Millisecond, Metrics: m, Log: zerolog.Nop()})
			if err != nil {
				t.Fatal(err)
			}
			h := tr.Middleware(conninfo.Outbound)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			const n = 400
			var slowest time.Duration
			for range n {
				r := httptest.NewRequest(http.MethodGet, "http://web/", nil)
				start := time.Now()
				h.ServeHTTP(httptest.NewRecorder(), r)
				slowest = max(slowest, time.Since(start))
			}
			if slowest > 100*time.Millisecond {
				t.Errorf("slowest request took %v with the collector %s", slowest, tc.name)
			}
			if value(m.SpansDropped) == 0 {
				t.Error("no span counted as dropped while the collector does not answer")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			tr.Shutdown(ctx) //nolint:errcheck // may time out: the collector does not answer
			waitFor(t, "every span counted", func() bool { return value(m.SpansDropped) == n })
			if got := value(m.SpansExported); got != 0 {
				t.Errorf("%v spans exported to a collector that does not answer", got)
			}
		})
	}
}

// otlpCollector is a fake OTLP/HTTP collector keeping what it receives.
type otlpCollector struct {
	mu     sync.Mutex
	traces []*coltracepb.ExportTraceServiceRequest
	logs   []*collogspb.ExportLogsServiceRequest
}

func (c *otlpCollector) start(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(c.handler())
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// startTLS serves over TLS; the pool verifies the server.
func (c *otlpCollector) startTLS(t *testing.T) (string, *x509.CertPool) {
	t.Helper()
	srv := httptest.NewTLSServer(c.handler())
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return strings.TrimPrefix(srv.URL, "https://"), pool
}

func (c *otlpCollector) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var resp proto.Message
		c.mu.Lock()
		switch r.URL.Path {
		case "/v1/traces":
			req := &coltracepb.ExportTraceServiceRequest{}
			err = proto.Unmarshal(body, req)
			c.traces = append(c.traces, req)
			resp = &coltracepb.ExportTraceServiceResponse{}
		case "/v1/logs":
			req := &collogspb.ExportLogsServiceRequest{}
			err = proto.Unmarshal(body, req)
			c.logs = append(c.logs, req)
			resp = &collogspb.ExportLogsServiceResponse{}
		default:
			err = io.ErrUnexpectedEOF
		}
		c.mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		out, _ := proto.Marshal(resp)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	})
}

func TestExportToCollector(t *testing.T) {
	var col otlpCollector
	m := NewMetrics(nil)
	tr, err := New(Config{Collector: col.start(t), Protocol: ProtocolHTTP, Sampling: 1, ServiceName: "web.default", Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	h := tr.Middleware(conninfo.Inbound)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for range 10 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "http://web/", nil))
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := value(m.SpansExported); got != 10 {
		t.Fatalf("exported %v spans, want 10 (dropped %v)", got, value(m.SpansDropped))
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	n := 0
	for _, req := range col.traces {
		for _, rs := range req.GetResourceSpans() {
			var svc string
			for _, a := range rs.GetResource().GetAttributes() {
				if a.GetKey() == "service.name" {
					svc = a.GetValue().GetStringValue()
				}
			}
			if svc != "web.default" {
				t.Errorf("service.name %q", svc)
			}
			for _, ss := range rs.GetScopeSpans() {
				n += len(ss.GetSpans())
			}
		}
	}
	if n != 10 {
		t.Fatalf("collector got %d spans, want 10", n)
	}
}

func TestLogExporter(t *testing.T) {
	var col otlpCollector
	m := NewMetrics(nil)
	e, err := NewLogExporter(LogConfig{Collector: col.start(t), Protocol: ProtocolHTTP, ServiceName: "web.default", Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(e).With().Timestamp().Logger()
	log.Info().Str("log", "access").Int("status", 503).Str("trace_id", tid).Str("span_id", sid).Bool("tls", true).Float64("duration_ms", 1.5).Send()
	log.Warn().Msg("something odd")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := value(m.LogsExported); got != 2 {
		t.Fatalf("exported %v records, want 2", got)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	var bodies []string
	for _, req := range col.logs {
		for _, rl := range req.GetResourceLogs() {
			for _, sl := range rl.GetScopeLogs() {
				for _, r := range sl.GetLogRecords() {
					bodies = append(bodies, r.GetBody().GetStringValue())
					attrs := map[string]string{}
					for _, a := range r.GetAttributes() {
						attrs[a.GetKey()] = a.GetValue().String()
					}
					switch r.GetBody().GetStringValue() {
					case "access":
						if r.GetSeverityText() != "info" || len(r.GetTraceId()) != 16 || len(r.GetSpanId()) != 8 || r.GetTimeUnixNano() == 0 {
							t.Errorf("access record %v", r)
						}
						if !strings.Contains(attrs["status"], "503") || !strings.Contains(attrs["tls"], "true") {
							t.Errorf("attributes %v", attrs)
						}
					case "something odd":
						if r.GetSeverityText() != "warn" || len(r.GetTraceId()) != 0 {
							t.Errorf("warn record %v", r)
						}
					}
				}
			}
		}
	}
	if len(bodies) != 2 {
		t.Fatalf("bodies %q", bodies)
	}
}

func TestLogExporterNeverBlocks(t *testing.T) {
	m := NewMetrics(nil)
	e, err := NewLogExporter(LogConfig{Collector: silentCollector(t), Protocol: ProtocolGRPC, QueueSize: 8, BatchSize: 4,
		BatchTimeout: 5 * time.Millisecond, ExportTimeout: 200 * time.Millisecond, Metrics: m, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(`{"level":"info","log":"access","status":200}` + "\n")
	start := time.Now()
	for range 1000 {
		e.Write(line)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("1000 writes took %v", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	e.Shutdown(ctx) //nolint:errcheck // may time out
	waitFor(t, "every record counted", func() bool { return value(m.LogsDropped) == 1000 })
}
