package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/meshlite/meshlite/internal/meshenv"
	"github.com/meshlite/meshlite/internal/netenv"
	"github.com/meshlite/meshlite/internal/promtext"
)

// podClient is an HTTP client whose connections start in pod, so the
// pod's iptables send them through its proxy.
func podClient(pod *netenv.Pod) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return pod.DialContext(ctx, network, addr)
		},
		DisableKeepAlives: true,
	}}
}

// serveApp runs an HTTP application on the pod's loopback port 8080.
func serveApp(t *testing.T, pod *netenv.Pod, h http.HandlerFunc) {
	t.Helper()
	ln, err := pod.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// TestTracingAcrossProxies is the proof of tracing and log aggregation
// with a real trace backend: applications A → B → C in three meshed pods,
// B forwarding the trace context it receives (as instrumented apps do).
// A request without context gets a trace at A's proxy; Jaeger holds one
// trace with the four proxy spans, A-out → B-in → B-out → C-in, with
// their attributes; and `meshctl logs --trace` returns exactly the four
// access lines of that request, in order.
func TestTracingAcrossProxies(t *testing.T) {
	env := netenv.NewForTest(t, netenv.Options{})
	jg := startJaeger(t, env.Gateway())
	mesh, err := meshenv.Start(t.Context(), env, meshenv.Options{BinDir: binDir(t), TrustDomain: "example.org"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mesh.Close() })
	tracing := func(collector netip.AddrPort, proto string, extra ...string) []string {
		return append([]string{"--trace-collector", collector.String(), "--trace-protocol", proto, "--trace-sampling", "1"}, extra...)
	}
	// B exports over OTLP/HTTP, A and C over gRPC.
	c, err := mesh.AddWorkload(t.Context(), meshenv.Workload{Name: "c", ProxyArgs: tracing(jg.OTLPGRPC, "grpc")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := mesh.AddWorkload(t.Context(), meshenv.Workload{Name: "b",
		ProxyArgs: tracing(jg.OTLPHTTP, "http", "--meshed-endpoints", meshenv.MeshedFlag(c))})
	if err != nil {
		t.Fatal(err)
	}
	a, err := mesh.AddWorkload(t.Context(), meshenv.Workload{Name: "a",
		ProxyArgs: tracing(jg.OTLPGRPC, "grpc", "--meshed-endpoints", meshenv.MeshedFlag(b))})
	if err != nil {
		t.Fatal(err)
	}
	// C answers with the traceparent it received; B calls C, passing on
	// the trace context it received, and answers with C's answer.
	serveApp(t, c.Pod, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("Traceparent"))
	})
	toC := podClient(b.Pod)
	serveApp(t, b.Pod, func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, "http://"+netip.AddrPortFrom(c.Pod.Addr, 8080).String()+"/c", nil)
		for _, h := range []string{"Traceparent", "Tracestate"} {
			if v := r.Header.Get(h); v != "" {
				req.Header.Set(h, v)
			}
		}
		resp, err := toC.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
	toB := podClient(a.Pod)
	call := func(traceparent string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+netip.AddrPortFrom(b.Pod.Addr, 8080).String()+"/b", nil)
		if traceparent != "" {
			req.Header.Set("Traceparent", traceparent)
		}
		resp, err := toB.Do(req)
		if err != nil {
			t.Fatalf("A → B: %v\nA proxy:\n%s\nB proxy:\n%s", err, a.Proxy.Output(), b.Proxy.Output())
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || len(body) != 55 {
			t.Fatalf("A → B: %s %q\nB proxy:\n%s\nC proxy:\n%s", resp.Status, body, b.Proxy.Output(), c.Proxy.Output())
		}
		return string(body)
	}
	// Traffic around the request under test, in other traces.
	call("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	seen := call("") // no context: A's proxy starts the trace
	call("")
	traceID, cParent := seen[3:35], seen[36:52]

	outputs := func() string {
		return "A proxy:\n" + a.Proxy.Output() + "\nB proxy:\n" + b.Proxy.Output() + "\nC proxy:\n" + c.Proxy.Output()
	}
	traces := jg.waitTrace(t, traceID, 4, outputs)
	if len(traces) != 1 {
		t.Fatalf("%d traces for %s, want 1", len(traces), traceID)
	}
	tr := traces[0]
	time.Sleep(time.Second) // a straggler, if any, would show now
	if tr = jg.waitTrace(t, traceID, 4, outputs)[0]; len(tr.Spans) != 4 {
		t.Fatalf("trace %s has %d spans, want 4: %+v", traceID, len(tr.Spans), tr.Spans)
	}
	// Name the spans by proxy and kind.
	byName := map[string]jaegerSpan{}
	for _, s := range tr.Spans {
		byName[tr.Processes[s.ProcessID].ServiceName+"/"+s.tag("span.kind")] = s
	}
	aOut, bIn, bOut, cIn := byName["a.default/client"], byName["b.default/server"], byName["b.default/client"], byName["c.default/server"]
	for name, s := range map[string]jaegerSpan{"A-out": aOut, "B-in": bIn, "B-out": bOut, "C-in": cIn} {
		if s.SpanID == "" {
			t.Fatalf("no %s span among %v", name, byName)
		}
	}
	chain := []struct {
		name         string
		s            jaegerSpan
		parent       string
		client, serv string
		dir          string
	}{
		{"A-out", aOut, "", a.ID.String(), b.ID.String(), "outbound"},
		{"B-in", bIn, aOut.SpanID, a.ID.String(), b.ID.String(), "inbound"},
		{"B-out", bOut, bIn.SpanID, b.ID.String(), c.ID.String(), "outbound"},
		{"C-in", cIn, bOut.SpanID, b.ID.String(), c.ID.String(), "inbound"},
	}
	for _, h := range chain {
		if got := h.s.parent(); got != h.parent {
			t.Errorf("%s: parent %q, want %q", h.name, got, h.parent)
		}
		for k, want := range map[string]string{"http.request.method": "GET", "http.response.status_code": "200", "meshlite.tls": "true",
			"meshlite.client_id": h.client, "meshlite.server_id": h.serv, "meshlite.direction": h.dir} {
			if got := h.s.tag(k); got != want {
				t.Errorf("%s: %s = %q, want %q", h.name, k, got, want)
			}
		}
	}
	if want := netip.AddrPortFrom(b.Pod.Addr, 8080).String(); aOut.tag("meshlite.endpoint") != want {
		t.Errorf("A-out endpoint %q, want %s", aOut.tag("meshlite.endpoint"), want)
	}
	if cParent != cIn.SpanID {
		t.Errorf("C's app saw parent span %s, want its inbound proxy's %s", cParent, cIn.SpanID)
	}

	// The journey in the access logs, merged from the three proxies by
	// meshctl over mutual TLS with its own identity.
	meshctl := bins.MustBuild(t, "cli/cmd/meshctl")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	args := []string{"logs", "--trace", traceID, "-o", "json", "--identity-addr", mesh.IdentityAddr().String(), "--identity-dir", mesh.Dir}
	for _, m := range []*meshenv.Member{c, a, b} { // order given does not matter
		args = append(args, "--proxy", netip.AddrPortFrom(m.Pod.Addr, 4191).String())
	}
	out, err := exec.CommandContext(ctx, meshctl, args...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("meshctl logs: %v\n%s\n%s", err, out, stderr)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := []struct{ proxy, dir, span string }{
		{"a", "outbound", aOut.SpanID}, {"b", "inbound", bIn.SpanID}, {"b", "outbound", bOut.SpanID}, {"c", "inbound", cIn.SpanID},
	}
	if len(lines) != len(want) {
		t.Fatalf("meshctl logs --trace printed %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, l := range lines {
		var f struct {
			Proxy, Direction, Kind, Method, Path string
			TraceID                              string `json:"trace_id"`
			SpanID                               string `json:"span_id"`
			ClientID                             string `json:"client_id"`
			ServerID                             string `json:"server_id"`
			Status                               int
			TLS                                  bool
		}
		if err := json.Unmarshal([]byte(l), &f); err != nil {
			t.Fatalf("line %d %q: %v", i, l, err)
		}
		w := want[i]
		if f.Proxy != w.proxy || f.Direction != w.dir || f.SpanID != w.span || f.TraceID != traceID || f.Status != 200 || !f.TLS ||
			f.ClientID != chain[i].client || f.ServerID != chain[i].serv {
			t.Errorf("line %d: %s\nwant proxy %s, %s, span %s, trace %s, 200 over mutual TLS %s → %s", i, l, w.proxy, w.dir, w.span, traceID,
				chain[i].client, chain[i].serv)
		}
	}

	// Every span was exported, none dropped.
	var exported float64
	for _, m := range []*meshenv.Member{a, b, c} {
		fams, err := promtext.ParseString(get(t, m.AdminURL()+"/metrics"))
		if err != nil {
			t.Fatal(err)
		}
		if d := fams.Sum("trace_spans_dropped_total", nil); d != 0 {
			t.Errorf("%s dropped %v spans", m.Pod.Name, d)
		}
		exported += fams.Sum("trace_spans_exported_total", nil)
	}
	if exported != 12 {
		t.Errorf("%v spans exported, want 12 (3 requests × 4 hops)", exported)
	}
}
