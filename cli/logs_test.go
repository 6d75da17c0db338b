package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meshlite/meshlite/internal/syncbuf"
	"github.com/meshlite/meshlite/proxy/accesslog"
)

// fakeProxy serves /logs from a ring, as a proxy's admin port does.
type fakeProxy struct {
	ring *accesslog.Ring
	addr string
}

func newFakeProxy(t *testing.T, workload, identity string) *fakeProxy {
	t.Helper()
	p := &fakeProxy{ring: accesslog.NewRing(100)}
	mux := http.NewServeMux()
	mux.Handle("GET /logs", accesslog.Handler(accesslog.HandlerConfig{Ring: p.ring, Workload: workload, Identity: identity}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p.addr = strings.TrimPrefix(srv.URL, "http://")
	return p
}

var logsT0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

const (
	journey = "4bf92f3577b34da6a3ce929d0e0e4736"
	other   = "0af7651916cd43dd8448eb211c80319c"
)

// access logs one HTTP access line that started at t0+startMs and took
// durMs, as observe writes it.
func (p *fakeProxy) access(dir, method, path string, status int, startMs, durMs float64, trace, span string, tls bool) {
	end := logsT0.Add(time.Duration((startMs + durMs) * float64(time.Millisecond)))
	m := map[string]any{"level": "info", "log": "access", "kind": "http", "direction": dir, "client": "10.201.0.3:40000",
		"authority": "web:8080", "method": method, "path": path, "proto": "HTTP/1.1", "status": status, "duration_ms": durMs,
		"request_bytes": 0, "response_bytes": 12, "tls": tls, "dst": "10.201.0.4:8080", "endpoint": "10.201.0.4:4143",
		"time": end.Format(time.RFC3339Nano)}
	if tls {
		m["client_id"], m["server_id"] = "spiffe://example.org/ns/default/sa/client", "spiffe://example.org/ns/default/sa/web"
	}
	if trace != "" {
		m["trace_id"], m["span_id"] = trace, span
	}
	b, _ := json.Marshal(m)
	p.ring.Write(append(b, '\n'))
}

func (p *fakeProxy) tcp(startMs, durMs float64) {
	end := logsT0.Add(time.Duration((startMs + durMs) * float64(time.Millisecond)))
	fmt.Fprintf(p.ring, `{"level":"info","log":"access","kind":"tcp","direction":"outbound","client":"10.201.0.3:40001","dst":"10.201.0.5:5432","protocol":"opaque","duration_ms":%v,"bytes_in":10,"bytes_out":20,"tls":false,"endpoint":"10.201.0.5:5432","error":"connection reset","time":%q}`+"\n",
		durMs, end.Format(time.RFC3339Nano))
}

// journeyProxies: client → web → db, a request of trace journey across
// all three, and other traffic around it. Each proxy logs in end order.
func journeyProxies(t *testing.T) (client, web, db *fakeProxy) {
	client = newFakeProxy(t, "client", "spiffe://example.org/ns/default/sa/client")
	web = newFakeProxy(t, "", "spiffe://example.org/ns/default/sa/web") // named by its identity
	db = newFakeProxy(t, "db", "")
	client.tcp(0.5, 1)
	client.access("outbound", "GET", "/api", 200, 0, 10, journey, "1111111111111111", true)
	client.access("outbound", "GET", "/health", 503, 20, 1, other, "4444444444444444", true)
	web.access("outbound", "POST", "/query", 200, 2, 5, journey, "3333333333333333", false)
	web.access("inbound", "GET", "/api", 200, 1, 8, journey, "2222222222222222", true)
	web.access("inbound", "GET", "/health", 503, 20.2, 0.5, other, "5555555555555555", true)
	db.access("inbound", "POST", "/query", 200, 3, 3, journey, "6666666666666666", false)
	db.access("inbound", "GET", "/", 404, 30, 1, "", "", false)
	return client, web, db
}

func proxyArgs(ps ...*fakeProxy) []string {
	var args []string
	for _, p := range ps {
		args = append(args, "--proxy", p.addr)
	}
	return args
}

func TestLogsMergedText(t *testing.T) {
	client, web, db := journeyProxies(t)
	out, errOut, err := meshctl(t, append([]string{"logs"}, proxyArgs(client, web, db)...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	golden(t, "logs-text.golden", out)
}

func TestLogsTraceJSON(t *testing.T) {
	client, web, db := journeyProxies(t)
	out, errOut, err := meshctl(t, append([]string{"logs", "--trace", strings.ToUpper(journey), "-o", "json"}, proxyArgs(client, web, db)...)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	golden(t, "logs-trace.golden", out)
	// The journey in order: the caller's outbound, then each hop.
	var spans []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		spans = append(spans, fmt.Sprint(m["proxy"], " ", m["direction"], " ", m["span_id"]))
	}
	want := []string{"client outbound 1111111111111111", "web inbound 2222222222222222", "web outbound 3333333333333333", "db inbound 6666666666666666"}
	if strings.Join(spans, "|") != strings.Join(want, "|") {
		t.Fatalf("journey %q, want %q", spans, want)
	}
}

func TestLogsFilters(t *testing.T) {
	client, web, db := journeyProxies(t)
	tests := []struct {
		args []string
		want []string // span IDs, or paths for lines without
	}{
		{[]string{"--status", "5xx"}, []string{"4444444444444444", "5555555555555555"}},
		{[]string{"--workload", "web"}, []string{"2222222222222222", "3333333333333333", "5555555555555555"}},
		{[]string{"--workload", "db", "--status", "404"}, []string{"/"}},
		{[]string{"--since", logsT0.Add(25 * time.Millisecond).Format(time.RFC3339Nano)}, []string{"/"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, err := meshctl(t, append(append([]string{"logs", "-o", "json"}, tt.args...), proxyArgs(client, web, db)...)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, errOut)
			}
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				var f accessFields
				if err := json.Unmarshal([]byte(l), &f); err != nil {
					t.Fatalf("%q: %v", l, err)
				}
				got = append(got, cmpOr(f.SpanID, f.Path))
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestLogsErrors(t *testing.T) {
	client, _, _ := journeyProxies(t)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "the logs are reachable from loopback only", http.StatusForbidden)
	}))
	defer down.Close()
	out, errOut, err := meshctl(t, "logs", "--proxy", client.addr, "--proxy", strings.TrimPrefix(down.URL, "http://"))
	if err == nil || !strings.Contains(err.Error(), "1 of 2 proxies") || !strings.Contains(errOut, "403") {
		t.Fatalf("err %v, stderr %q", err, errOut)
	}
	if strings.Count(out, "\n") != 3 {
		t.Fatalf("the reachable proxy's lines are printed anyway: %q", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"logs"}, "no proxies"},
		{[]string{"logs", "--proxy", client.addr, "-o", "yaml"}, `-o "yaml"`},
		{[]string{"logs", "--proxy", client.addr, "--trace", "xyz"}, "--trace"},
		{[]string{"logs", "--proxy", client.addr, "--status", "2xy"}, "--status"},
		{[]string{"logs", "--proxy", client.addr, "--since", "yesterday"}, "--since"},
		{[]string{"logs", "--proxy", client.addr, "--workload", "nobody"}, "no proxy of the workloads nobody"},
	} {
		if _, _, err := meshctl(t, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error about %s", tc.args, err, tc.want)
		}
	}
}

// TestLogsFollow: the kept lines of every proxy in order, then new lines
// as they come, merged by start time within the follow window.
func TestLogsFollow(t *testing.T) {
	client, web, db := journeyProxies(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncbuf.Buffer
	root := NewRoot(Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	root.SetArgs(append([]string{"logs", "--follow", "--trace", other, "--follow-window", "300ms", "-o", "json"}, proxyArgs(client, web, db)...))
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	waitLines := func(n int) []string {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			ls := strings.Split(strings.TrimSpace(out.String()), "\n")
			if out.String() != "" && len(ls) >= n {
				return ls
			}
			if time.Now().After(deadline) {
				t.Fatalf("waited for %d lines, have %q (stderr %q)", n, out.String(), errb.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitLines(2) // the kept lines of trace other
	// A new request of the trace: the server's line is logged first, the
	// caller's (which started earlier) a moment later.
	web.access("inbound", "GET", "/again", 200, 40.5, 1, other, "7777777777777777", true)
	time.Sleep(50 * time.Millisecond)
	client.access("outbound", "GET", "/again", 200, 40, 3, other, "8888888888888888", true)
	ls := waitLines(4)
	var spans []string
	for _, l := range ls {
		var f accessFields
		json.Unmarshal([]byte(l), &f)
		spans = append(spans, f.SpanID)
	}
	if want := "4444444444444444 5555555555555555 8888888888888888 7777777777777777"; strings.Join(spans, " ") != want {
		t.Fatalf("followed %v, want %s", spans, want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("after Ctrl-C: %v (stderr %q)", err, errb.String())
	}
}

var _ io.Writer = (*bytes.Buffer)(nil)
