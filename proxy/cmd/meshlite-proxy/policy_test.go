package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshlite/meshlite/examples"
	"github.com/meshlite/meshlite/internal/meshenv"
	"github.com/meshlite/meshlite/internal/netenv"
)

// versioned is a replica of "user-service" with a version label, answering
// "<name> <version>", able to fail on purpose.
type versioned struct {
	replica
	version   string
	failEvery atomic.Int64 // >0: every n-th request answers 503
	status    atomic.Int64 // >0: every request answers this status
	count     atomic.Int64
}

func (v *versioned) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/admin") || r.URL.Path == "/whoami" {
		fmt.Fprintf(w, "%s %s %s", v.name, r.URL.Path, r.Header.Get("Meshlite-Client-Id"))
		return
	}
	v.inflight.Add(1)
	defer v.inflight.Add(-1)
	n := v.count.Add(1)
	if d := time.Duration(v.delay.Load()); d > 0 {
		time.Sleep(d)
	}
	if s := v.status.Load(); s > 0 {
		http.Error(w, "failing", int(s))
		return
	}
	if e := v.failEvery.Load(); e > 0 && n%e == 0 {
		http.Error(w, "flaky", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintf(w, "%s %s", v.name, v.version)
}

// policyMesh runs the destination service with the given configuration
// files, replicas of user-service by version, and a client.
func policyMesh(t *testing.T, config map[string]string, versions ...string) (*meshenv.Mesh, []*versioned, *meshenv.Member) {
	t.Helper()
	env := netenv.NewForTest(t, netenv.Options{})
	mesh, err := meshenv.Start(t.Context(), env, meshenv.Options{BinDir: binDir(t), TrustDomain: "cluster.local", Destination: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mesh.Close() })
	svc := fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: user-service, namespace: default}
spec:
  clusterIP: %s
  selector: {app: user-service}
  ports: [{name: http, port: 80, targetPort: 8080}]
`, serviceIP)
	if err := mesh.WriteConfig("user-service.yaml", svc); err != nil {
		t.Fatal(err)
	}
	for name, text := range config {
		if err := mesh.WriteConfig(name, text); err != nil {
			t.Fatal(err)
		}
	}
	var reps []*versioned
	for i, version := range versions {
		v := &versioned{replica: replica{name: fmt.Sprintf("user-%s-%d", version, i)}, version: version}
		m, err := mesh.AddWorkload(t.Context(), meshenv.Workload{Name: v.name, ServiceAccount: "user-service",
			Ports: []string{"http=8080"}, Labels: map[string]string{"app": "user-service", "version": version}})
		if err != nil {
			t.Fatal(err)
		}
		v.member = m
		ln, err := m.Pod.Listen("tcp", "127.0.0.1:8080")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: v}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		reps = append(reps, v)
	}
	client, err := mesh.AddWorkload(t.Context(), meshenv.Workload{Name: "client"})
	if err != nil {
		t.Fatal(err)
	}
	return mesh, reps, client
}

// do sends one request with headers from the client pod to the service.
func do(c *caller, path string, header ...string) (int, string, http.Header, error) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+serviceIP+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header, nil
}

// until retries f for a while: the proxies learn new configuration within
// a moment.
func until(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func seedFile(t *testing.T) string {
	t.Helper()
	b, err := examples.FS.ReadFile("seed-routing.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSeedRouting: the seed document's configuration as written: "version:
// v2" requests reach subset v2, the others v1, and LEAST_CONN sends to the
// less loaded v1 replica.
func TestSeedRouting(t *testing.T) {
	_, reps, client := policyMesh(t, map[string]string{"seed.yaml": seedFile(t)}, "v1", "v1", "v2")
	c := newCaller(client)
	until(t, "v2 routing", func() bool {
		_, body, _, err := do(c, "/", "version", "v2")
		return err == nil && strings.HasSuffix(body, " v2")
	})
	for i := range 60 {
		hdr := []string{}
		want := " v1"
		if i%3 == 0 {
			hdr, want = []string{"version", "v2"}, " v2"
		}
		code, body, _, err := do(c, "/", hdr...)
		if err != nil || code != 200 || !strings.HasSuffix(body, want) {
			t.Fatalf("request %d (headers %v): %d %q %v, want a%s replica", i, hdr, code, body, err, want)
		}
	}
	// LEAST_CONN: one v1 replica busy with long requests, the other idle:
	// new requests go to the idle one.
	reps[0].delay.Store(int64(2 * time.Second))
	busy := make(chan struct{})
	for range 3 {
		go func() { do(c, "/"); busy <- struct{}{} }()
	}
	until(t, "v1 replica 0 busy", func() bool { return reps[0].inflight.Load() >= 1 })
	before := reps[0].count.Load()
	for range 20 {
		do(c, "/")
	}
	if extra := reps[0].count.Load() - before; extra > 2 {
		t.Fatalf("the busy v1 replica got %d of 20 new requests; LEAST_CONN should avoid it", extra)
	}
	reps[0].delay.Store(0)
	for range 3 {
		<-busy
	}
}

func TestWeightedSplitAndHeaderOverride(t *testing.T) {
	vs := `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: user-service, namespace: default}
spec:
  hosts: [user-service]
  http:
  - match:
    - headers:
        end-user: {exact: jason}
    route:
    - destination: {host: user-service, subset: v2}
  - route:
    - destination: {host: user-service, subset: v1}
      weight: 90
    - destination: {host: user-service, subset: v2}
      weight: 10
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: user-service, namespace: default}
spec:
  host: user-service
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`
	_, _, client := policyMesh(t, map[string]string{"split.yaml": vs}, "v1", "v2")
	c := newCaller(client)
	until(t, "header route", func() bool {
		_, body, _, err := do(c, "/", "end-user", "jason")
		return err == nil && strings.HasSuffix(body, " v2")
	})
	counts, errs := c.spray(4000, 8)
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	share := float64(counts["user-v2-1 v2"]) / 4000
	t.Logf("split %v: v2 got %.1f %%", counts, 100*share)
	if share < 0.07 || share > 0.13 {
		t.Fatalf("v2 got %.1f %% of unmatched requests, want 10 ± 3 %%", 100*share)
	}
	for range 20 {
		if _, body, _, _ := do(c, "/", "end-user", "jason"); !strings.HasSuffix(body, " v2") {
			t.Fatalf("jason's request went to %q, want v2", body)
		}
	}
}

func TestFaultsRetriesTimeouts(t *testing.T) {
	vs := `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: user-service, namespace: default}
spec:
  hosts: [user-service]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    fault:
      abort: {httpStatus: 418, percentage: {value: 100}}
    route: [{destination: {host: user-service}}]
  - match: [{uri: {prefix: /slow}}]
    fault:
      delay: {fixedDelay: 700ms, percentage: {value: 100}}
    route: [{destination: {host: user-service}}]
  - match: [{uri: {prefix: /deadline}}]
    timeout: 300ms
    route: [{destination: {host: user-service}}]
  - match: [{uri: {prefix: /flaky}}]
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: 5xx}
    route: [{destination: {host: user-service}}]
  - route: [{destination: {host: user-service}}]
`
	_, reps, client := policyMesh(t, map[string]string{"faults.yaml": vs}, "v1")
	c := newCaller(client)
	until(t, "abort fault", func() bool {
		code, _, _, err := do(c, "/", "end-user", "jason")
		return err == nil && code == 418
	})
	if code, _, _, _ := do(c, "/", "end-user", "bob"); code != 200 {
		t.Fatalf("another user got %d", code)
	}

	start := time.Now()
	if code, _, _, err := do(c, "/slow"); err != nil || code != 200 {
		t.Fatalf("delayed request: %d %v", code, err)
	}
	if d := time.Since(start); d < 700*time.Millisecond || d > 3*time.Second {
		t.Fatalf("the 700 ms fault delay took %v", d)
	}

	reps[0].delay.Store(int64(2 * time.Second))
	start = time.Now()
	code, _, hdr, err := do(c, "/deadline")
	took := time.Since(start)
	reps[0].delay.Store(0)
	if err != nil || code != http.StatusGatewayTimeout {
		t.Fatalf("timeout route: %d %v (%s)", code, err, hdr.Get("Meshlite-Proxy-Error"))
	}
	if took < 300*time.Millisecond || took > 1500*time.Millisecond {
		t.Fatalf("the 300 ms timeout fired after %v", took)
	}

	// A flaky backend (1 in 3 fails) with retries on 5xx: every request
	// succeeds, with the one retry per failure it takes (n - n/3 = 150:
	// 225 attempts).
	reps[0].failEvery.Store(3)
	before := reps[0].count.Load()
	fails := 0
	for range 150 {
		if code, _, _, err := do(c, "/flaky"); err != nil || code != 200 {
			fails++
		}
	}
	reps[0].failEvery.Store(0)
	sent := reps[0].count.Load() - before
	if fails != 0 {
		t.Fatalf("%d of 150 requests to the flaky backend failed despite retries", fails)
	}
	if sent < 215 || sent > 235 {
		t.Fatalf("the backend saw %d attempts for 150 requests, want about 225", sent)
	}
	t.Logf("150 requests, %d attempts at the flaky backend", sent)

	// A backend that always fails: 3 retries each would be 1,200
	// attempts for 300 requests; the budget (20 %% of requests plus 10
	// per second over its 10 s window) holds retries to at most 160.
	reps[0].status.Store(503)
	before = reps[0].count.Load()
	flaky := newCaller(client)
	flaky.url += "flaky"
	flaky.spray(300, 6)
	reps[0].status.Store(0)
	attempts := reps[0].count.Load() - before
	t.Logf("300 requests to a failing backend: %d attempts", attempts)
	if attempts > 300+60+100 {
		t.Fatalf("%d attempts for 300 requests: retries beyond the budget", attempts)
	}
	if attempts <= 300 {
		t.Fatalf("%d attempts for 300 requests: no retries at all", attempts)
	}
}

// TestRetryAvoidsTriedEndpoint: a retry goes to another endpoint than
// the one that just failed, when there is one (Istio's default
// previous-hosts predicate). Two replicas, one always answering 503, one
// retry on 5xx: every request succeeds, with replicas picked at random (a
// retry free to pick the failing one again would fail one request in
// four) and with the default peak EWMA (which prefers the replica that
// fails fast, and would send it nearly every retry).
func TestRetryAvoidsTriedEndpoint(t *testing.T) {
	vs := `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: user-service, namespace: default}
spec:
  hosts: [user-service]
  http:
  - match: [{uri: {prefix: /ready}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
    route: [{destination: {host: user-service}}]
  - retries: {attempts: 1, retryOn: 5xx}
    route: [{destination: {host: user-service}}]
`
	for _, tc := range []struct{ name, dr string }{
		{"random", `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: user-service, namespace: default}
spec:
  host: user-service
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
`},
		{"peak-ewma", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, reps, client := policyMesh(t, map[string]string{"retry.yaml": vs + tc.dr}, "v1", "v1")
			c := newCaller(client)
			until(t, "the routes", func() bool {
				code, _, _, err := do(c, "/ready")
				return err == nil && code == 418
			})
			until(t, "both replicas", func() bool {
				counts, _ := c.spray(20, 2)
				return counts["user-v1-0 v1"] > 0 && counts["user-v1-1 v1"] > 0
			})
			// The good replica becomes the slower, so that peak EWMA
			// learns to prefer the other, which will then fail fast.
			reps[0].delay.Store(int64(10 * time.Millisecond))
			c.spray(40, 2)
			bad := reps[1]
			bad.status.Store(503)
			before := bad.count.Load()
			const n = 60 // within the retry budget's floor (10 per second over 10 s)
			fails := 0
			for range n {
				if code, _, _, err := do(c, "/"); err != nil || code != 200 {
					fails++
				}
			}
			hits := bad.count.Load() - before
			t.Logf("%d requests, %d first tries at the failing replica, %d failed", n, hits, fails)
			if fails != 0 {
				t.Fatalf("%d of %d requests failed: retries went back to the failing replica", fails, n)
			}
			if hits == 0 || hits > n {
				t.Fatalf("the failing replica saw %d attempts for %d requests, want some and at most one per request", hits, n)
			}
		})
	}
}

// TestOutlierDetection: a replica answering 5xx is ejected, and comes back
// after the base ejection time.
func TestOutlierDetection(t *testing.T) {
	dr := `apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: user-service, namespace: default}
spec:
  host: user-service
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection:
      consecutive5xxErrors: 3
      interval: 1s
      baseEjectionTime: 3s
      maxEjectionPercent: 50
`
	_, reps, client := policyMesh(t, map[string]string{"dr.yaml": dr}, "v1", "v1")
	c := newCaller(client)
	waitServedBy := func(want string, served bool) {
		until(t, fmt.Sprintf("%s serving=%v", want, served), func() bool {
			counts, _ := c.spray(20, 2)
			got := false
			for k := range counts {
				got = got || strings.HasPrefix(k, want+" ")
			}
			return got == served
		})
	}
	waitServedBy(reps[1].name, true)
	reps[1].status.Store(500)
	// After three 5xx in a row it is ejected: requests stop failing.
	until(t, "ejection", func() bool {
		codes := 0
		for range 10 {
			if code, _, _, _ := do(c, "/"); code == 500 {
				codes++
			}
		}
		return codes == 0
	})
	reps[1].status.Store(0)
	// After the base ejection time it is back.
	waitServedBy(reps[1].name, true)
}

// TestAuthorization: an AuthorizationPolicy allows one principal, denies
// /admin* to everyone, and PeerAuthentication STRICT refuses plaintext.
func TestAuthorization(t *testing.T) {
	policy := `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: default}
spec:
  selector: {matchLabels: {app: user-service}}
  mtls: {mode: STRICT}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: default}
spec:
  selector: {matchLabels: {app: user-service}}
  action: DENY
  rules:
  - to: [{operation: {paths: ["/admin*"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-client, namespace: default}
spec:
  selector: {matchLabels: {app: user-service}}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/default/sa/client"]}}]
`
	mesh, reps, client := policyMesh(t, map[string]string{"authz.yaml": policy}, "v1")
	c := newCaller(client)
	other, err := mesh.AddWorkload(t.Context(), meshenv.Workload{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	until(t, "policy in force", func() bool {
		code, _, _, err := do(newCaller(other), "/whoami")
		return err == nil && code == http.StatusForbidden
	})
	code, body, _, err := do(c, "/whoami")
	if err != nil || code != 200 || !strings.HasSuffix(body, client.ID.String()) {
		t.Fatalf("allowed principal: %d %q %v", code, body, err)
	}
	for _, path := range []string{"/admin", "/admin/users", "/admin/../admin", "//admin", "/%2e%2e/admin", "/x/..%2Fadmin", "/./admin"} {
		code, body, _, err := do(c, path)
		if err != nil || code != http.StatusForbidden {
			t.Errorf("path %q: %d %q %v, want 403", path, code, body, err)
		}
	}
	// Plaintext straight to the workload (from the host, not meshed) is
	// refused under STRICT.
	plain := &http.Client{Timeout: 3 * time.Second}
	resp, err := plain.Get("http://" + reps[0].member.Pod.Addr.String() + ":8080/whoami")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("plaintext request under STRICT got %s", resp.Status)
	}
}

// TestConnectionPoolLimit: past http2MaxRequests in flight, the proxy
// answers 503 at once, names the limit, and counts it.
func TestConnectionPoolLimit(t *testing.T) {
	dr := `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: user-service, namespace: default}
spec:
  host: user-service
  trafficPolicy:
    connectionPool:
      http: {http2MaxRequests: 2}
`
	_, reps, client := policyMesh(t, map[string]string{"pool.yaml": dr}, "v1")
	c := newCaller(client)
	until(t, "service known", func() bool { code, _, _, err := do(c, "/"); return err == nil && code == 200 })
	reps[0].delay.Store(int64(1500 * time.Millisecond))
	type result struct {
		code  int
		limit string
		took  time.Duration
	}
	results := make(chan result, 6)
	for range 6 {
		go func() {
			start := time.Now()
			code, _, hdr, _ := do(c, "/")
			results <- result{code, hdr.Get("Meshlite-Overflow"), time.Since(start)}
		}()
	}
	ok, refused := 0, 0
	for range 6 {
		r := <-results
		switch {
		case r.code == 200:
			ok++
		case r.code == http.StatusServiceUnavailable && r.limit == "http2MaxRequests" && r.took < time.Second:
			refused++
		default:
			t.Errorf("unexpected answer %+v", r)
		}
	}
	if ok != 2 || refused != 4 {
		t.Fatalf("%d served and %d refused of 6 concurrent requests with http2MaxRequests 2, want 2 and 4", ok, refused)
	}
	if n := metric(t, client, "request_overflow_total", map[string]string{"limit": "http2MaxRequests"}); n != 4 {
		t.Fatalf("request_overflow_total = %v, want 4", n)
	}
}
