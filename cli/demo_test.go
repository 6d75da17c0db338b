package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/meshlite/meshlite/internal/demo"
	"github.com/meshlite/meshlite/internal/promtext"
	"github.com/meshlite/meshlite/internal/testbin"
)

// TestDemo runs the demo headless for a few seconds and checks what a
// newcomer is told it shows: every hop mutual TLS, the seed's routing (v2
// requests on v2 only, the rest on v1's two replicas), the server-first
// cache reachable, the planned failures counted as failures — and that
// nothing is left afterwards.
func TestDemo(t *testing.T) {
	if err := demo.Preflight(); err != nil {
		t.Skip(err)
	}
	dir, err := os.MkdirTemp("", "meshlite-demo-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	b := testbin.New(dir)
	for _, pkg := range []string{"proxy/cmd/meshlite-proxy", "init/cmd/meshlite-init", "identity/cmd/meshlite-identity",
		"destination/cmd/meshlite-destination", "internal/demo/cmd/meshlite-demo-app"} {
		b.MustBuild(t, pkg)
	}
	var out bytes.Buffer
	var envName string
	var statJSON []byte
	err = demo.Run(t.Context(), demo.Options{BinDir: dir, Duration: 12 * time.Second, Rate: 40, Out: &out,
		Show: func(ctx context.Context, d *demo.Demo) error {
			envName = d.Env.Name()
			time.Sleep(8 * time.Second)
			checkDemo(t, d)
			var sout bytes.Buffer
			root := NewRoot(Streams{In: strings.NewReader(""), Out: &sout, Err: io.Discard})
			root.SetArgs([]string{"stat", "-o", "json", "--window", "0", "--identity-dir", d.Mesh.Dir,
				"--identity-addr", d.Mesh.IdentityAddr().String(), "--destination", d.Mesh.DestinationAddr().String()})
			if err := root.ExecuteContext(ctx); err != nil {
				t.Errorf("meshctl stat -o json: %v", err)
			}
			statJSON = sout.Bytes()
			<-ctx.Done()
			return nil
		}})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	checkStat(t, statJSON)
	// Teardown left nothing.
	for _, cmd := range [][]string{{"ip", "netns", "list"}, {"ip", "-o", "link"}} {
		o, _ := exec.Command(cmd[0], cmd[1:]...).Output()
		if strings.Contains(string(o), envName) {
			t.Errorf("%v still shows %s after the demo:\n%s", cmd, envName, o)
		}
	}
	if o, _ := exec.Command("pgrep", "-f", "meshlite-demo-bin-").Output(); len(bytes.TrimSpace(o)) > 0 {
		t.Errorf("demo processes left running: %s", o)
	}
	if !strings.Contains(out.String(), "tearing down") {
		t.Errorf("no teardown message:\n%s", out.String())
	}
}

// checkDemo asserts from the proxies' own metrics and the apps' output.
func checkDemo(t *testing.T, d *demo.Demo) {
	t.Helper()
	metrics := func(name string) promtext.Families {
		resp, err := http.Get(d.Members[name].AdminURL() + "/metrics")
		if err != nil {
			t.Fatalf("%s metrics: %v", name, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		f, err := promtext.ParseString(string(b))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	for _, name := range d.Order {
		f := metrics(name)
		for _, m := range []string{"response_total", "tcp_open_total"} {
			for _, dir := range []string{"inbound", "outbound"} {
				plain := f.Sum(m, map[string]string{"direction": dir, "tls": "false"})
				if m == "tcp_open_total" && dir == "outbound" {
					continue // the application's own connections to its proxy are plaintext
				}
				if plain != 0 {
					t.Errorf("%s: %v %s %s over plaintext, want every hop mutual TLS", name, plain, dir, m)
				}
			}
		}
	}
	in := func(name string) float64 {
		return metrics(name).Sum("response_total", map[string]string{"direction": "inbound"})
	}
	v1a, v1b, v2 := in("api-v1-a"), in("api-v1-b"), in("api-v2")
	t.Logf("user-service requests: v1 %v + %v, v2 %v", v1a, v1b, v2)
	if v1a == 0 || v1b == 0 || v2 == 0 {
		t.Errorf("both v1 replicas and v2 must serve: %v, %v, %v", v1a, v1b, v2)
	}
	if share := v2 / (v1a + v1b + v2); share < 0.1 || share > 0.3 {
		t.Errorf("v2 served %.0f %% of user-service requests, the load sends 20 %% with the v2 header", 100*share)
	}
	for _, name := range []string{"api-v1-a", "api-v1-b", "api-v2"} {
		if out := d.Apps[name].Output(); strings.Contains(out, "MISROUTED") {
			t.Errorf("%s saw misrouted requests:\n%s", name, out)
		}
	}
	if n := metrics("cache").Sum("tcp_open_total", map[string]string{"direction": "inbound", "tls": "true"}); n == 0 {
		t.Error("the cache was never reached")
	}
	web := metrics("web")
	fails := web.Sum("response_total", map[string]string{"direction": "inbound", "status_code": "500", "classification": "failure"})
	bad := web.Sum("response_total", map[string]string{"direction": "inbound", "status_code": "502"})
	if fails == 0 || bad != 0 {
		t.Errorf("web: %v planned failures (500), %v upstream failures (502); want some and none", fails, bad)
	}
}

// checkStat reads meshctl stat -o json: every listed workload ready and
// every inbound request over mutual TLS; web's success rate below 100 %
// by its planned failures, the user-service replicas' at 100 %.
func checkStat(t *testing.T, b []byte) {
	t.Helper()
	type dir struct {
		Requests     float64  `json:"requests"`
		MTLSRequests float64  `json:"mtls_requests"`
		SuccessRate  *float64 `json:"success_rate"`
	}
	var rows []struct {
		Name    string `json:"name"`
		Proxies int    `json:"proxies"`
		Ready   int    `json:"ready"`
		Inbound dir    `json:"inbound"`
	}
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatalf("meshctl stat -o json: %v\n%s", err, b)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r.Name] = true
		if r.Ready != r.Proxies || r.Proxies == 0 {
			t.Errorf("stat: %s has %d of %d proxies ready", r.Name, r.Ready, r.Proxies)
		}
		if r.Inbound.MTLSRequests != r.Inbound.Requests {
			t.Errorf("stat: %s: %v of %v inbound requests over mutual TLS", r.Name, r.Inbound.MTLSRequests, r.Inbound.Requests)
		}
		switch {
		case r.Name == "web" && (r.Inbound.SuccessRate == nil || *r.Inbound.SuccessRate >= 1):
			t.Errorf("stat: web success rate %v, want below 100 %% (the planned /fail requests)", r.Inbound.SuccessRate)
		case strings.HasPrefix(r.Name, "api-") && (r.Inbound.SuccessRate == nil || *r.Inbound.SuccessRate != 1):
			t.Errorf("stat: %s success rate %v, want 100 %%", r.Name, r.Inbound.SuccessRate)
		}
	}
	for _, name := range []string{"web", "api-v1-a", "api-v1-b", "api-v2", "cache"} {
		if !seen[name] {
			t.Errorf("stat does not list %s:\n%s", name, b)
		}
	}
}
