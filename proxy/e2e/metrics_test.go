package e2e

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/meshlite/meshlite/proxy/metrics"
)

// TestAuthorityLabelBounded checks that a client cycling through Host
// values cannot grow the metrics without bound: past MaxAuthorities
// distinct values, requests are counted under "overflow".
func TestAuthorityLabelBounded(t *testing.T) {
	t.Parallel()
	be := newBackend(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), false)
	p := startProxy(t, dstFunc(be.Addr), func(c *appConfig) { c.AccessLog = false })
	client := h1Client(t, p.Out)
	const extra = 4
	for i := range metrics.MaxAuthorities + extra {
		resp, err := client.Get(fmt.Sprintf("http://host-%d.test/", i))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck // empty
		resp.Body.Close()
	}
	mfs := p.metrics(t)
	if got := len(labelValues(mfs, "request_total", "authority")); got != metrics.MaxAuthorities+1 {
		t.Errorf("request_total has %d authority values, want %d and overflow", got, metrics.MaxAuthorities)
	}
	if got := metricValue(mfs, "request_total", map[string]string{"authority": metrics.Overflow}); got != extra {
		t.Errorf("request_total{authority=%q} = %v, want %d", metrics.Overflow, got, extra)
	}
	if got := metricValue(mfs, "request_total", nil); got != metrics.MaxAuthorities+extra {
		t.Errorf("request_total = %v in all, want %d", got, metrics.MaxAuthorities+extra)
	}
}
