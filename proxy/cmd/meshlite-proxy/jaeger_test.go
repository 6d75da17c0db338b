package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/meshlite/meshlite/internal/syncbuf"
)

// jaegerBin finds the Jaeger all-in-one that `make jaeger` builds. In CI
// (CI=true) a missing binary fails the test; elsewhere it skips.
func jaegerBin(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MESHLITE_TOOLS_DIR")
	if dir == "" {
		dir = os.Getenv("TOOLS_DIR")
	}
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "meshlite", "bin")
	}
	p := filepath.Join(dir, "jaeger")
	if _, err := os.Stat(p); err != nil {
		msg := fmt.Sprintf("jaeger not found at %s: build it with `make jaeger` (about 11 minutes, once)", p)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// jaeger is a running Jaeger all-in-one with in-memory storage: OTLP
// receivers on otlpHost (gRPC and HTTP), the query API on loopback.
type jaeger struct {
	OTLPGRPC, OTLPHTTP netip.AddrPort
	Query              string // http://127.0.0.1:port
	out                *syncbuf.Buffer
}

// freePort returns a port free on host now.
func freePort(t *testing.T, host netip.Addr) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(host, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

const jaegerConfig = `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    enable_tracing: false
    storage:
      traces: memstore
    http:
      endpoint: %s
    grpc:
      endpoint: %s
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
      http:
        endpoint: %s
processors:
  batch:
    timeout: 100ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`

// startJaeger runs Jaeger until the test ends. Every port is bound to a
// single address: the query API and its gRPC to loopback, OTLP to
// otlpHost (the network bridge's address, where pods reach the host).
func startJaeger(t *testing.T, otlpHost netip.Addr) *jaeger {
	t.Helper()
	bin := jaegerBin(t)
	lo := netip.MustParseAddr("127.0.0.1")
	j := &jaeger{
		OTLPGRPC: netip.AddrPortFrom(otlpHost, freePort(t, otlpHost)),
		OTLPHTTP: netip.AddrPortFrom(otlpHost, freePort(t, otlpHost)),
		out:      &syncbuf.Buffer{},
	}
	queryHTTP := netip.AddrPortFrom(lo, freePort(t, lo))
	queryGRPC := netip.AddrPortFrom(lo, freePort(t, lo))
	j.Query = "http://" + queryHTTP.String()
	cfg := filepath.Join(t.TempDir(), "jaeger.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, jaegerConfig, queryHTTP, queryGRPC, j.OTLPGRPC, j.OTLPHTTP), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", cfg)
	cmd.Stdout, cmd.Stderr = j.out, j.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(j.Query + "/api/services")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return j
			}
		}
		select {
		case <-exited:
			t.Fatalf("jaeger exited:\n%s", j.out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("jaeger not answering at %s: %v\n%s", j.Query, err, j.out)
		}
	}
}

// jaegerTrace is the query API's answer for one trace.
type jaegerTrace struct {
	TraceID   string                   `json:"traceID"`
	Spans     []jaegerSpan             `json:"spans"`
	Processes map[string]jaegerProcess `json:"processes"`
}

type jaegerSpan struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags      []jaegerTag `json:"tags"`
	ProcessID string      `json:"processID"`
}

type jaegerTag struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

type jaegerProcess struct {
	ServiceName string `json:"serviceName"`
}

// tag returns a span tag's value as text.
func (s jaegerSpan) tag(key string) string {
	for _, t := range s.Tags {
		if t.Key == key {
			return fmt.Sprint(t.Value)
		}
	}
	return ""
}

// parent is the span's CHILD_OF reference, "" for a root.
func (s jaegerSpan) parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

// waitTrace polls /api/traces/<id> until the trace has n spans, or fails
// after a bound, showing also what more says.
func (j *jaeger) waitTrace(t *testing.T, id string, n int, more func() string) []jaegerTrace {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, j.Query+"/api/traces/"+id, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = string(body)
			var answer struct {
				Data []jaegerTrace `json:"data"`
			}
			if json.Unmarshal(body, &answer) == nil && len(answer.Data) > 0 {
				spans := 0
				for _, tr := range answer.Data {
					spans += len(tr.Spans)
				}
				if spans >= n {
					return answer.Data
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("trace %s: no %d spans in jaeger in time; last answer %s\njaeger:\n%s\n%s", id, n, last, j.out, more())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
