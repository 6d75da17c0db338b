package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/meshlite/meshlite/internal/syncbuf"
	"github.com/meshlite/meshlite/proxy/app"
	"github.com/meshlite/meshlite/proxy/server"
)

// TestMain fails the run when goroutines of the proxy or of these tests
// outlive the tests: every test stops what it started.
//
// It also fails the run when anything was written to the standard
// library's global logger: the proxy logs only through the writer it was
// given (x/net/http2 would otherwise print to stderr).
func TestMain(m *testing.M) {
	stdLog := &syncbuf.Buffer{}
	log.SetOutput(stdLog)
	code := m.Run()
	if code == 0 {
		if leaks := leakedGoroutines(5 * time.Second); leaks != "" {
			fmt.Fprintf(os.Stderr, "e2e: goroutines still running after the tests:\n%s\n", leaks)
			code = 1
		}
		if out := stdLog.String(); out != "" {
			fmt.Fprintf(os.Stderr, "e2e: written to the standard logger instead of the proxy's log:\n%s\n", out)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines waits up to wait for every goroutine running meshlite
// code (other than this one) to end, and returns the stacks of those that
// did not.
func leakedGoroutines(wait time.Duration) string {
	deadline := time.Now().Add(wait)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaks []string
		for g := range strings.SplitSeq(string(buf), "\n\n") {
			if strings.Contains(g, "e2e.leakedGoroutines") || strings.Contains(g, "e2e.TestMain") {
				continue
			}
			if strings.Contains(g, "github.com/meshlite/meshlite/") {
				leaks = append(leaks, g)
			}
		}
		if len(leaks) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(leaks, "\n\n")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// inCI reports whether the tests run in CI, where missing tools fail tests
// instead of skipping them.
func inCI() bool { return os.Getenv("CI") == "true" }

// needTool returns the path of an external tool, skipping the test when it
// is missing outside CI and failing it in CI.
func needTool(t *testing.T, path string) string {
	t.Helper()
	p, err := exec.LookPath(path)
	if err == nil {
		return p
	}
	if inCI() {
		t.Fatalf("%s is required in CI (make deps tools): %v", path, err)
	}
	t.Skipf("%s not available (run make deps tools): %v", path, err)
	return ""
}

// toolsDir is where `make tools` puts pinned tools.
func toolsDir() string {
	if d := os.Getenv("MESHLITE_TOOLS_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "meshlite", "bin")
}

// testProxy is a meshlite-proxy running in the test process.
type testProxy struct {
	*app.Proxy
	// Out, In and Admin are the bound listener addresses.
	Out, In, Admin string
	cfg            app.Config
	logs           *syncbuf.Buffer
	cancel         context.CancelFunc
	done           chan error
	stopOnce       sync.Once
	stopErr        error
	stopTook       time.Duration
}

// dstFunc returns a fixed original destination for every connection.
func dstFunc(addr string) server.OrigDstFunc {
	ap := netip.MustParseAddrPort(addr)
	return func(*net.TCPConn) (netip.AddrPort, error) { return ap, nil }
}

// inboundDst is the original destination of a connection to a workload
// listening on backend's port: the pod address 10.9.9.9 at that port. The
// inbound resolver sends it to 127.0.0.1 at the same port.
func inboundDst(backend string) server.OrigDstFunc {
	ap := netip.MustParseAddrPort(backend)
	return dstFunc(netip.AddrPortFrom(netip.MustParseAddr("10.9.9.9"), ap.Port()).String())
}

// startProxy starts a proxy on loopback with ephemeral ports, the access
// log on, and origDst as its original-destination lookup. mods adjust the
// configuration. The proxy is stopped when the test ends.
func startProxy(t *testing.T, origDst server.OrigDstFunc, mods ...func(*app.Config)) *testProxy {
	t.Helper()
	cfg := app.Default()
	cfg.OutboundAddr, cfg.InboundAddr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.ShutdownGrace = 5 * time.Second
	for _, m := range mods {
		m(&cfg)
	}
	logs := &syncbuf.Buffer{}
	p, err := app.New(cfg, logs, origDst)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tp := &testProxy{Proxy: p, cfg: cfg, logs: logs, cancel: cancel, done: make(chan error, 1)}
	out, in, adm := p.Addrs()
	tp.Out, tp.In, tp.Admin = out.String(), in.String(), adm.String()
	go func() { tp.done <- p.Run(ctx) }()
	t.Cleanup(func() {
		if err := tp.stop(); err != nil {
			t.Errorf("proxy Run: %v", err)
		}
		if t.Failed() {
			t.Logf("proxy log:\n%s", tp.logs.String())
		}
	})
	return tp
}

// stop cancels Run's context and waits for Run to return, at most the
// shutdown grace plus 5 s. Later calls return the first result.
func (p *testProxy) stop() error {
	p.stopOnce.Do(func() {
		start := time.Now()
		p.cancel()
		select {
		case p.stopErr = <-p.done:
		case <-time.After(p.cfg.ShutdownGrace + 5*time.Second):
			p.stopErr = fmt.Errorf("Run did not return within %v of cancellation", p.cfg.ShutdownGrace+5*time.Second)
		}
		p.stopTook = time.Since(start)
	})
	return p.stopErr
}

// accessLog returns the access-log lines written so far, decoded.
func (p *testProxy) accessLog(t *testing.T) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.logs.String()))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", sc.Text(), err)
		}
		if m["log"] == "access" {
			lines = append(lines, m)
		}
	}
	return lines
}

// waitAccessLog waits until at least n access-log lines match keep and
// returns them. Access lines are written when a request or connection ends,
// which may be just after the client saw its end.
func (p *testProxy) waitAccessLog(t *testing.T, n int, keep func(map[string]any) bool) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		var got []map[string]any
		for _, l := range p.accessLog(t) {
			if keep == nil || keep(l) {
				got = append(got, l)
			}
		}
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) < n {
				t.Fatalf("want %d matching access-log lines, got %d:\n%s", n, len(got), p.logs.String())
			}
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// metricsText fetches the admin /metrics exposition.
func (p *testProxy) metricsText(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://" + p.Admin + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	return string(b)
}

// metrics fetches and parses the admin /metrics exposition.
func (p *testProxy) metrics(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(p.metricsText(t)))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return mfs
}

// metricValue sums the samples of the counter or gauge name whose labels
// include all of want.
func metricValue(mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	mf, ok := mfs[name]
	if !ok {
		return 0
	}
	var sum float64
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// labelValues lists the values label takes among the samples of name.
func labelValues(mfs map[string]*dto.MetricFamily, name, label string) map[string]bool {
	vals := map[string]bool{}
	for _, m := range mfs[name].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == label {
				vals[lp.GetValue()] = true
			}
		}
	}
	return vals
}

// waitMetric polls /metrics until name{want} reaches value, for metrics
// recorded just after the client saw the end of its exchange.
func (p *testProxy) waitMetric(t *testing.T, name string, want map[string]string, value float64) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		got := metricValue(p.metrics(t), name, want)
		if got == value {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%v = %v, want %v", name, want, got, value)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// appConfig is the proxy configuration that startProxy's mods adjust.
type appConfig = app.Config
