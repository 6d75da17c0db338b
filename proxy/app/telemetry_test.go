package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/meshlite/meshlite/proxy/app"
)

// collector is a fake OTLP/HTTP collector counting what it receives.
type collector struct {
	mu          sync.Mutex
	spans, logs []string // span names; log bodies
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	defer c.mu.Unlock()
	var resp proto.Message
	switch r.URL.Path {
	case "/v1/traces":
		req := &coltracepb.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(body, req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					c.spans = append(c.spans, s.GetName())
				}
			}
		}
		resp = &coltracepb.ExportTraceServiceResponse{}
	case "/v1/logs":
		req := &collogspb.ExportLogsServiceRequest{}
		if err := proto.Unmarshal(body, req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		for _, rl := range req.GetResourceLogs() {
			for _, sl := range rl.GetScopeLogs() {
				for _, l := range sl.GetLogRecords() {
					c.logs = append(c.logs, l.GetBody().GetStringValue())
				}
			}
		}
		resp = &collogspb.ExportLogsServiceResponse{}
	}
	out, _ := proto.Marshal(resp)
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// TestTelemetryWiring: a proxy with a trace and a log collector exports
// the span and the access line of a request, keeps the line for /logs
// with the span's IDs, and flushes both on shutdown.
func TestTelemetryWiring(t *testing.T) {
	col := &collector{}
	colSrv := httptest.NewServer(col)
	defer colSrv.Close()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("Traceparent"))
	}))
	defer backend.Close()
	dst := netip.MustParseAddrPort(strings.TrimPrefix(backend.URL, "http://"))

	cfg := app.Default()
	cfg.OutboundAddr, cfg.InboundAddr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.Telemetry.TraceCollector = strings.TrimPrefix(colSrv.URL, "http://")
	cfg.Telemetry.LogCollector = cfg.Telemetry.TraceCollector
	cfg.Telemetry.TraceProtocol, cfg.Telemetry.TraceSampling = "http", 1
	var logs strings.Builder
	var logsMu sync.Mutex
	p, err := app.New(cfg, writerFunc(func(b []byte) (int, error) { logsMu.Lock(); defer logsMu.Unlock(); return logs.Write(b) }),
		func(*net.TCPConn) (netip.AddrPort, error) { return dst, nil })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	out, _, admin := p.Addrs()

	c, err := net.Dial("tcp", out.String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /x HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	seen, _ := io.ReadAll(resp.Body)
	c.Close()
	if len(seen) != 55 {
		t.Fatalf("the backend saw traceparent %q", seen)
	}

	// /logs answers loopback with the line, naming the span forwarded.
	var line map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for line == nil {
		r, err := http.Get("http://" + admin.String() + "/logs?trace=" + string(seen[3:35]))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if len(body) > 0 {
			if err := json.Unmarshal(body, &line); err != nil {
				t.Fatalf("/logs: %q: %v", body, err)
			}
		} else if time.Now().After(deadline) {
			t.Fatal("no line in /logs")
		}
	}
	if line["span_id"] != string(seen[36:52]) || line["log"] != "access" || line["path"] != "/x" {
		t.Fatalf("/logs line %v, want the span %s", line, seen[36:52])
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.spans) != 1 || col.spans[0] != "GET" {
		t.Errorf("collector got spans %q, want one GET", col.spans)
	}
	if !contains(col.logs, "access") || !contains(col.logs, "meshlite-proxy serving") {
		t.Errorf("collector got log bodies %q, want the access line and the proxy's own", col.logs)
	}
}

func contains(ss []string, s string) bool {
	for _, v := range ss {
		if v == s {
			return true
		}
	}
	return false
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// TestOTLPCAFileChecked: --otlp-ca-file must name a readable PEM file
// with a certificate; the error names the flag.
func TestOTLPCAFileChecked(t *testing.T) {
	dir := t.TempDir()
	notPEM := dir + "/not.pem"
	if err := os.WriteFile(notPEM, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ file, want string }{
		{dir + "/missing.pem", "otlp-ca-file: open"},
		{notPEM, "otlp-ca-file: " + notPEM + " holds no PEM certificate"},
	} {
		cfg := app.Default()
		cfg.Telemetry.OTLPCAFile = tc.file
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want an error with %q", tc.file, err, tc.want)
		}
	}
}
