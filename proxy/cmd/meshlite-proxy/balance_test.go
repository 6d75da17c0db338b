package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/meshlite/meshlite/internal/meshenv"
	"github.com/meshlite/meshlite/internal/netenv"
	"github.com/meshlite/meshlite/internal/promtext"
)

// serviceIP is the address clients dial: a service address the destination
// service knows, never bound anywhere.
const serviceIP = "10.96.0.20"

// replica is one endpoint of the test service: an HTTP app on loopback that
// answers its name after an optional delay, counting what is in flight.
type replica struct {
	name     string
	member   *meshenv.Member
	delay    atomic.Int64 // nanoseconds
	failing  atomic.Bool  // health check answers 500
	inflight atomic.Int64
	served   atomic.Int64
	srv      *http.Server
}

func (r *replica) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path == "/healthz" {
		if r.failing.Load() {
			http.Error(w, "sick", http.StatusInternalServerError)
		}
		return
	}
	r.inflight.Add(1)
	defer r.inflight.Add(-1)
	r.served.Add(1)
	if d := time.Duration(r.delay.Load()); d > 0 {
		time.Sleep(d)
	}
	io.WriteString(w, r.name)
}

// lbMesh starts a mesh with the destination service, a Service "api" on
// serviceIP:80 → 8080 with the given balancer and extra config, n replicas
// (weights optional) and a client.
func lbMesh(t *testing.T, balancer string, extraConfig string, weights ...uint) (*meshenv.Mesh, []*replica, *meshenv.Member) {
	t.Helper()
	return lbMeshWith(t, meshenv.Options{}, balancer, extraConfig, weights...)
}

// lbMeshWith is lbMesh with mesh options (the binaries, trust domain and
// destination service are set here).
func lbMeshWith(t *testing.T, o meshenv.Options, balancer string, extraConfig string, weights ...uint) (*meshenv.Mesh, []*replica, *meshenv.Member) {
	t.Helper()
	env := netenv.NewForTest(t, netenv.Options{})
	o.BinDir, o.TrustDomain, o.Destination = binDir(t), "example.org", true
	mesh, err := meshenv.Start(t.Context(), env, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mesh.Close() })
	svc := fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: default
  annotations:
    meshlite.io/balancer: %s
spec:
  clusterIP: %s
  selector: {app: api}
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: grpc, port: 9090, targetPort: 9090}
%s`, balancer, serviceIP, extraConfig)
	if err := mesh.WriteConfig("api.yaml", svc); err != nil {
		t.Fatal(err)
	}
	var reps []*replica
	for i, w := range weights {
		r := &replica{name: fmt.Sprintf("api-%d", i)}
		m, err := mesh.AddWorkload(t.Context(), meshenv.Workload{Name: r.name, ServiceAccount: "api",
			Ports: []string{"http=8080", "grpc=9090"}, Labels: map[string]string{"app": "api"}, Weight: w})
		if err != nil {
			t.Fatal(err)
		}
		r.member = m
		ln, err := m.Pod.Listen("tcp", "127.0.0.1:8080")
		if err != nil {
			t.Fatal(err)
		}
		r.srv = &http.Server{Handler: r}
		go r.srv.Serve(ln)
		t.Cleanup(func() { r.srv.Close() })
		gln, err := m.Pod.Listen("tcp", "127.0.0.1:9090")
		if err != nil {
			t.Fatal(err)
		}
		gs := grpc.NewServer()
		testgrpc.RegisterTestServiceServer(gs, nameServer{name: r.name})
		go gs.Serve(gln)
		t.Cleanup(gs.Stop)
		reps = append(reps, r)
	}
	client, err := mesh.AddWorkload(t.Context(), meshenv.Workload{Name: "client"})
	if err != nil {
		t.Fatal(err)
	}
	return mesh, reps, client
}

// caller sends requests from inside the client pod to the service address.
type caller struct {
	hc  *http.Client
	url string
}

func newCaller(client *meshenv.Member) *caller {
	return &caller{url: "http://" + serviceIP + "/", hc: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: 64,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return client.Pod.DialContext(ctx, "tcp", addr)
		},
	}}}
}

// get returns the name of the replica that answered.
func (c *caller) get() (string, error) {
	resp, err := c.hc.Get(c.url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("status %d: %s (%s)", resp.StatusCode, b, resp.Header.Get("Meshlite-Proxy-Error"))
	}
	return string(b), err
}

// spray sends n requests from workers goroutines and counts answers by
// replica; errors are returned, at most one per kind.
func (c *caller) spray(n, workers int) (map[string]int, []error) {
	var (
		mu     sync.Mutex
		counts = map[string]int{}
		errs   = map[string]error{}
		next   atomic.Int64
		wg     sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				name, err := c.get()
				mu.Lock()
				if err != nil {
					errs[err.Error()[:min(40, len(err.Error()))]] = err
				} else {
					counts[name]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var out []error
	for _, e := range errs {
		out = append(out, e)
	}
	return counts, out
}

// waitEndpoints waits until the destination service has every replica in
// the set and every replica has answered through the service, so the
// client's proxy knows them all. (Peak EWMA may take a while to try a new
// endpoint when the others answer fast, so the answers are asked of a
// round of requests big enough to reach each one.)
func waitEndpoints(t *testing.T, mesh *meshenv.Mesh, c *caller, want int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		fams, err := promtext.ParseString(get(t, "http://"+netip.AddrPortFrom(mesh.Control.Addr, 9996).String()+"/metrics"))
		if err == nil && fams.Sum("destination_endpoints", map[string]string{"service": "api.default"}) >= float64(want) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	seen := map[string]bool{}
	for len(seen) < want && time.Now().Before(deadline) {
		counts, _ := c.spray(20*want, want)
		for name := range counts {
			seen[name] = true
		}
		if len(seen) < want {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if len(seen) < want {
		t.Fatalf("only %v answered through the service, want %d replicas", seen, want)
	}
}

func TestPeakEWMAAvoidsSlowReplica(t *testing.T) {
	mesh, reps, client := lbMesh(t, "peak-ewma", "", 1, 1, 1)
	c := newCaller(client)
	waitEndpoints(t, mesh, c, 3)
	for _, r := range reps {
		r.delay.Store(int64(10 * time.Millisecond))
	}
	reps[2].delay.Store(int64(100 * time.Millisecond)) // 10× slower
	counts, errs := c.spray(2000, 8)
	if len(errs) > 0 {
		t.Fatalf("failed requests: %v", errs)
	}
	share := float64(counts["api-2"]) / 2000
	t.Logf("distribution %v; the slow replica got %.1f %%", counts, 100*share)
	if share >= 0.10 {
		t.Fatalf("the 10× slower replica got %.1f %% of the requests, want under 10 %%", 100*share)
	}
}

func TestLeastRequestBalancesInFlight(t *testing.T) {
	mesh, reps, client := lbMesh(t, "LEAST_CONN", "", 1, 1, 1)
	c := newCaller(client)
	waitEndpoints(t, mesh, c, 3)
	for _, r := range reps {
		r.delay.Store(int64(150 * time.Millisecond))
	}
	done := make(chan struct{})
	var worst, spreadSum, samples atomic.Int64
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			lo, hi := int64(1<<62), int64(0)
			for _, r := range reps {
				n := r.inflight.Load()
				lo, hi = min(lo, n), max(hi, n)
			}
			if hi-lo > worst.Load() {
				worst.Store(hi - lo)
			}
			spreadSum.Add(hi - lo)
			samples.Add(1)
		}
	}()
	counts, errs := c.spray(180, 9)
	close(done)
	if len(errs) > 0 {
		t.Fatalf("failed requests: %v", errs)
	}
	avg := float64(spreadSum.Load()) / float64(max(samples.Load(), 1))
	t.Logf("distribution %v; in-flight spread between replicas: %.2f on average, %d at worst", counts, avg, worst.Load())
	// Nine callers over three replicas: three each. A sample can land
	// while a response is on its way back through the proxies, when the
	// replica's count has dropped but the balancer's not yet.
	if avg > 1 || worst.Load() > 3 {
		t.Fatalf("in-flight counts spread by %.2f on average (%d at worst) between replicas, want ≤ 1 (≤ 3)", avg, worst.Load())
	}
}

func TestWeightedRoundRobin(t *testing.T) {
	mesh, _, client := lbMesh(t, "weighted-round-robin", "", 3, 1)
	c := newCaller(client)
	waitEndpoints(t, mesh, c, 2)
	counts, errs := c.spray(4000, 8)
	if len(errs) > 0 {
		t.Fatalf("failed requests: %v", errs)
	}
	share := float64(counts["api-0"]) / 4000
	t.Logf("distribution %v", counts)
	if share < 0.72 || share > 0.78 {
		t.Fatalf("weight 3 replica got %.1f %%, want 75 ± 3 %%", 100*share)
	}
}

// nameServer answers gRPC calls with the replica's name.
type nameServer struct {
	testgrpc.UnimplementedTestServiceServer
	name string
}

func (n nameServer) UnaryCall(context.Context, *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	return &testgrpc.SimpleResponse{ServerId: n.name}, nil
}

// TestGRPCSpreadsOverReplicas: the requests of one gRPC client connection
// (HTTP/2 streams) are balanced one by one, over every replica.
func TestGRPCSpreadsOverReplicas(t *testing.T) {
	mesh, _, client := lbMesh(t, "round-robin", "", 1, 1, 1)
	waitEndpoints(t, mesh, newCaller(client), 3)
	cc, err := grpc.NewClient(serviceIP+":9090", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return client.Pod.DialContext(ctx, "tcp", addr)
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	tc := testgrpc.NewTestServiceClient(cc)
	counts := map[string]int{}
	for range 90 {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		resp, err := tc.UnaryCall(ctx, &testgrpc.SimpleRequest{})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		counts[resp.GetServerId()]++
	}
	t.Logf("distribution %v", counts)
	for _, name := range []string{"api-0", "api-1", "api-2"} {
		if counts[name] != 30 {
			t.Fatalf("round robin over one connection gave %v, want 30 each", counts)
		}
	}
}

// TestReplicaLeavesAndHealthChecks: a replica whose proxy is killed leaves
// within the lease TTL and no request fails after that; a replica failing
// its HTTP health check leaves and comes back.
func TestReplicaLeavesAndHealthChecks(t *testing.T) {
	check := `---
apiVersion: meshlite.io/v1alpha1
kind: HealthCheck
metadata: {name: api, namespace: default}
spec: {service: api, port: 8080, interval: 200ms, timeout: 500ms, healthyThreshold: 1, unhealthyThreshold: 2, http: {path: /healthz}}
`
	mesh, reps, client := lbMesh(t, "round-robin", check, 1, 1, 1)
	c := newCaller(client)
	waitEndpoints(t, mesh, c, 3)

	// A health check failing: the replica leaves, then returns.
	reps[1].failing.Store(true)
	waitServed(t, c, reps, 1, false, 10*time.Second)
	reps[1].failing.Store(false)
	waitServed(t, c, reps, 1, true, 10*time.Second)

	// Stop a replica's proxy gracefully: it deregisters at once.
	go reps[0].member.Proxy.Stop(10 * time.Second)
	waitServed(t, c, reps, 0, false, 2*time.Second)

	// Kill another's (no deregistration): within the lease TTL (3 s) it
	// is gone, and then nothing fails.
	reps[2].member.Proxy.Stop(0)
	time.Sleep(4 * time.Second)
	counts, errs := c.spray(300, 6)
	if len(errs) > 0 || counts["api-2"] > 0 || counts["api-0"] > 0 {
		t.Fatalf("after the lease expired: %v, errors %v", counts, errs)
	}
}

// TestPassiveHealthReport: a replica whose proxy dies without
// deregistering keeps its lease (60 s here), but the first client proxy
// that fails to connect to it a few times in a row reports it, and the
// destination service takes it out of every proxy's sets at once: a
// second client, which never tried it, stops seeing it too.
func TestPassiveHealthReport(t *testing.T) {
	mesh, reps, client := lbMeshWith(t, meshenv.Options{LeaseTTL: time.Minute}, "round-robin", "", 1, 1, 1)
	other, err := mesh.AddWorkload(t.Context(), meshenv.Workload{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	c := newCaller(client)
	waitEndpoints(t, mesh, c, 3)
	dead := netip.AddrPortFrom(reps[2].member.Pod.Addr, 8080).String()

	reps[2].member.Proxy.Stop(0) // SIGKILL: no deregistration
	start := time.Now()
	for !strings.Contains(mesh.Destination.Output(), `"endpoint":"`+dead+`","healthy":false`) {
		if time.Since(start) > 15*time.Second {
			t.Fatalf("no passive ejection of %s at the destination service %v after its proxy died (lease 60 s)\nclient proxy:\n%s\ndestination:\n%s",
				dead, time.Since(start), client.Proxy.Output(), mesh.Destination.Output())
		}
		c.spray(20, 2) // some fail over to the live replicas, some may fail
	}
	t.Logf("dead replica ejected %v after its proxy died (lease 60 s)", time.Since(start).Round(time.Millisecond))
	fams, err := promtext.ParseString(get(t, "http://"+netip.AddrPortFrom(client.Pod.Addr, 4191).String()+"/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	if n := fams.Sum("endpoint_health_reports_total", map[string]string{"result": "sent"}); n < 1 {
		t.Errorf("client proxy sent %v health observations, want at least 1", n)
	}
	// The other client's proxy learned it from the destination service:
	// it never tries the dead replica (no access line names it as the
	// endpoint, no report of its own).
	time.Sleep(time.Second) // the watch update reaches the proxy
	counts, errs := newCaller(other).spray(300, 6)
	if len(errs) > 0 || counts["api-2"] > 0 || counts["api-0"] == 0 || counts["api-1"] == 0 {
		t.Fatalf("second client after the report: %v, errors %v", counts, errs)
	}
	if out := other.Proxy.Output(); strings.Contains(out, `"endpoint":"`+dead+`"`) || strings.Contains(out, "reported endpoint health") {
		t.Errorf("the second client's proxy tried the ejected replica:\n%s", out)
	}
}

// waitServed waits until replica i does (or does not) get requests.
func waitServed(t *testing.T, c *caller, reps []*replica, i int, want bool, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		counts, _ := c.spray(30, 3)
		if (counts[reps[i].name] > 0) == want {
			return
		}
	}
	t.Fatalf("replica %s: serving=%v never happened within %v", reps[i].name, want, within)
}

// TestDestinationOutage: requests keep flowing to known endpoints while
// the destination service is down; after its restart registrations are
// back and a new replica's registration reaches the client.
func TestDestinationOutage(t *testing.T) {
	mesh, _, client := lbMesh(t, "round-robin", "", 1, 1)
	c := newCaller(client)
	waitEndpoints(t, mesh, c, 2)
	if err := mesh.StopDestination(); err != nil {
		t.Fatal(err)
	}
	counts, errs := c.spray(200, 4)
	if len(errs) > 0 || counts["api-0"] == 0 || counts["api-1"] == 0 {
		t.Fatalf("with the destination service down: %v, errors %v", counts, errs)
	}
	if err := mesh.StartDestination(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A third replica registers after the restart; the client's watch,
	// resumed, must learn about it.
	r := &replica{name: "api-late"}
	m, err := mesh.AddWorkload(t.Context(), meshenv.Workload{Name: r.name, ServiceAccount: "api",
		Ports: []string{"http=8080"}, Labels: map[string]string{"app": "api"}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := m.Pod.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: r}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		counts, errs := c.spray(30, 3)
		if len(errs) > 0 {
			t.Fatalf("after the restart: %v", errs)
		}
		if counts["api-late"] > 0 && counts["api-0"] > 0 && counts["api-1"] > 0 {
			return
		}
	}
	t.Fatalf("after the restart the client never reached all three replicas:\n%s", strings.TrimSpace(client.Proxy.Output()))
}
