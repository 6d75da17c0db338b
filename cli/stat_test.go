package cli

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/meshlite/meshlite/internal/promtext"
	"github.com/meshlite/meshlite/internal/stats"
)

const (
	webID    = "spiffe://cluster.local/ns/default/sa/web"
	clientID = "spiffe://cluster.local/ns/default/sa/client"
)

// histogram renders response_latency_ms series with count observations
// spread as fixed: a quarter at 1 ms, half at 10 ms, the rest at 100 ms.
func histogram(labels string, count int) string {
	var b strings.Builder
	cum := 0
	for _, le := range []int{1, 5, 10, 50, 100, 500} {
		switch le {
		case 1:
			cum += count / 4
		case 10:
			cum += count / 2
		case 100:
			cum = count
		}
		fmt.Fprintf(&b, "response_latency_ms_bucket{%s,le=\"%d\"} %d\n", labels, le, cum)
	}
	fmt.Fprintf(&b, "response_latency_ms_bucket{%s,le=\"+Inf\"} %d\nresponse_latency_ms_sum{%s} 0\nresponse_latency_ms_count{%s} %d\n",
		labels, count, labels, labels, count)
	return b.String()
}

// webMetrics is what the server's proxy reports after ok and failed
// inbound requests from the client over mutual TLS, and plain ones.
func webMetrics(ok, failed, plain int) string {
	in := `direction="inbound",authority="web.default.svc:80",tls="true",client_id="` + clientID + `",server_id="` + webID + `"`
	pl := `direction="inbound",authority="10.201.0.3:8080",tls="false",client_id="",server_id=""`
	return "# TYPE response_total counter\n" +
		fmt.Sprintf("response_total{%s,status_code=\"200\",classification=\"success\",grpc_status=\"\"} %d\n", in, ok) +
		fmt.Sprintf("response_total{%s,status_code=\"500\",classification=\"failure\",grpc_status=\"\"} %d\n", in, failed) +
		fmt.Sprintf("response_total{%s,status_code=\"200\",classification=\"success\",grpc_status=\"\"} %d\n", pl, plain) +
		"# TYPE response_latency_ms histogram\n" + histogram(in, ok+failed) + histogram(pl, plain) +
		"# TYPE tcp_open_total counter\n" +
		fmt.Sprintf("tcp_open_total{direction=\"inbound\",tls=\"true\",client_id=\"%s\",server_id=\"%s\"} 2\n", clientID, webID) +
		"# TYPE tcp_open_connections gauge\n" +
		fmt.Sprintf("tcp_open_connections{direction=\"inbound\",tls=\"true\",client_id=\"%s\",server_id=\"%s\"} 1\n", clientID, webID)
}

// clientMetrics is what the client's proxy reports: the same requests
// outbound, and calls to an unmeshed service in plaintext.
func clientMetrics(ok, failed, external int) string {
	out := `direction="outbound",authority="web.default.svc:80",tls="true",client_id="` + clientID + `",server_id="` + webID + `"`
	ext := `direction="outbound",authority="example.com:80",tls="false",client_id="",server_id=""`
	return "# TYPE response_total counter\n" +
		fmt.Sprintf("response_total{%s,status_code=\"200\",classification=\"success\",grpc_status=\"\"} %d\n", out, ok) +
		fmt.Sprintf("response_total{%s,status_code=\"500\",classification=\"failure\",grpc_status=\"\"} %d\n", out, failed) +
		fmt.Sprintf("response_total{%s,status_code=\"200\",classification=\"success\",grpc_status=\"\"} %d\n", ext, external) +
		"# TYPE response_latency_ms histogram\n" + histogram(out, ok+failed) + histogram(ext, external) +
		"# TYPE tcp_open_connections gauge\ntcp_open_connections{direction=\"outbound\",tls=\"false\",client_id=\"\",server_id=\"\"} 3\n"
}

func scrape(t *testing.T, admin, ns, name, metrics string, ready bool) stats.Scrape {
	t.Helper()
	f, err := promtext.ParseString(metrics)
	if err != nil {
		t.Fatal(err)
	}
	return stats.Scrape{Proxy: stats.Proxy{Admin: admin, Namespace: ns, Name: name}, Ready: ready, Metrics: f}
}

// statFixture: web (two proxies, one not ready) and a client found by
// --proxy only (named by its identity), scraped 10 s apart.
func statFixture(t *testing.T) (before, after []stats.Scrape) {
	before = []stats.Scrape{
		scrape(t, "10.201.0.3:4191", "default", "web", webMetrics(100, 0, 10), true),
		scrape(t, "10.201.0.5:4191", "default", "web", webMetrics(0, 0, 0), false),
		scrape(t, "10.201.0.4:4191", "", "", clientMetrics(100, 0, 5), true),
	}
	after = []stats.Scrape{
		scrape(t, "10.201.0.3:4191", "default", "web", webMetrics(480, 20, 10), true),
		scrape(t, "10.201.0.5:4191", "default", "web", webMetrics(0, 0, 0), false),
		scrape(t, "10.201.0.4:4191", "", "", clientMetrics(480, 20, 25), true),
	}
	return before, after
}

func TestStatGolden(t *testing.T) {
	before, after := statFixture(t)
	rows := stats.Workloads(before, after, 10*time.Second)
	for _, tc := range []struct{ output, by, name string }{
		{outputTable, byWorkload, "table"}, {outputWide, byWorkload, "wide"}, {outputJSON, byWorkload, "json"},
		{outputTable, byService, "service"}, {outputWide, byService, "service-wide"},
	} {
		r := rows
		if tc.by == byService {
			r = stats.Services(before, after, 10*time.Second)
		}
		var b bytes.Buffer
		if err := renderStat(&b, tc.output, tc.by, r); err != nil {
			t.Fatal(err)
		}
		golden(t, "stat/"+tc.name+".golden", b.String())
	}
	// Since the proxies started: no rate.
	var b bytes.Buffer
	if err := renderStat(&b, outputTable, byWorkload, stats.Workloads(nil, after, 0)); err != nil {
		t.Fatal(err)
	}
	golden(t, "stat/since-start.golden", b.String())
}

func TestEdgesGolden(t *testing.T) {
	_, after := statFixture(t)
	edges := stats.Edges(after)
	for _, output := range []string{outputTable, outputWide, outputJSON} {
		var b bytes.Buffer
		if err := renderEdges(&b, output, edges); err != nil {
			t.Fatal(err)
		}
		golden(t, "edges/"+output+".golden", b.String())
	}
}

func TestStatUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"stat"}, "no proxies"},
		{[]string{"stat", "--proxy", "10.0.0.1", "-o", "short"}, `-o "short"`},
		{[]string{"stat", "--proxy", "10.0.0.1", "--by", "pod"}, `--by "pod"`},
		{[]string{"stat", "--proxy", "10.0.0.1", "--window", "-1s"}, "--window"},
		{[]string{"edges", "--proxy", "10.0.0.1", "-o", "short"}, `-o "short"`},
		{[]string{"edges"}, "no proxies"},
		{[]string{"top", "--proxy", "10.0.0.1", "--sort", "size"}, `sort key "size"`},
		{[]string{"top", "--proxy", "10.0.0.1", "--direction", "up"}, `--direction "up"`},
		{[]string{"top", "--proxy", "10.0.0.1", "--interval", "0s"}, "--interval"},
	} {
		_, _, err := meshctl(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("meshctl %v: %v, want %q", tc.args, err, tc.want)
		}
	}
}
