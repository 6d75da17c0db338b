package discovery_test

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/meshlite/meshlite/destination/destinationtest"
	"github.com/meshlite/meshlite/proxy/discovery"
)

const webYAML = `apiVersion: v1
kind: Service
metadata:
  name: web
  annotations: {meshlite.io/balancer: least-request}
spec:
  clusterIP: 10.96.0.10
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080, appProtocol: http}]
`

var webAddr = netip.MustParseAddrPort("10.96.0.10:80")

func newClient(t *testing.T, addr string, mut ...func(*discovery.Config)) *discovery.Client {
	t.Helper()
	cfg := discovery.Config{Addr: addr, Insecure: true, Namespace: "default", RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond}
	for _, m := range mut {
		m(&cfg)
	}
	c, err := discovery.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// runRegistrar registers a workload until the test ends or stop is
// called; stop waits for the deregistration.
func runRegistrar(t *testing.T, c *discovery.Client, name, ip string, cfg discovery.RegistrarConfig) (r *discovery.Registrar, stop func()) {
	t.Helper()
	r = c.Registrar(discovery.Workload{Name: name, Namespace: "default", Labels: map[string]string{"app": "web"},
		Addr: netip.MustParseAddr(ip), Ports: []uint16{8080}}, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }() //nolint:errcheck // Run returns nil
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return r, stop
}

func resolve(t *testing.T, c *discovery.Client, target netip.AddrPort) *discovery.Service {
	t.Helper()
	s, err := c.Resolve(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Release)
	return s
}

func addrs(s *discovery.Service) []string {
	var out []string
	for _, e := range s.Endpoints() {
		out = append(out, e.Addr.String())
	}
	return out
}

func waitEndpoints(t *testing.T, s *discovery.Service, n int) {
	t.Helper()
	destinationtest.Eventually(t, 5*time.Second, "endpoint count", func() bool { return len(s.Endpoints()) == n })
}

func TestResolveSharesOneWatch(t *testing.T) {
	srv := destinationtest.Start(t, destinationtest.Options{})
	srv.WriteFile(t, "web.yaml", webYAML)
	srv.Restart(t)
	c := newClient(t, srv.Addr)
	runRegistrar(t, c, "web-1", "10.1.0.1", discovery.RegistrarConfig{})

	a := resolve(t, c, webAddr)
	b := resolve(t, c, webAddr)
	waitEndpoints(t, a, 1)
	if a.NotFound() || !a.Known() || a.Name() != "web.default" || a.Policy().Balancer != discovery.BalancerLeastRequest {
		t.Fatalf("resolved: notFound %v, name %q, policy %v", a.NotFound(), a.Name(), a.Policy())
	}
	e := a.Endpoints()[0]
	if e.Addr.String() != "10.1.0.1:8080" || e.Weight != 1 || e.Meshed() || e.Protocol != discovery.ProtocolHTTP1 || e.Labels["app"] != "web" {
		t.Fatalf("endpoint %+v", e)
	}
	if len(b.Endpoints()) != 1 || c.Watches() != 1 {
		t.Fatalf("second handle: %d endpoints, %d watches", len(b.Endpoints()), c.Watches())
	}
	if n := srv.Metric(t, "destination_watches_open"); n != 1 {
		t.Fatalf("streams on the server: %v, want 1 for two resolves", n)
	}
	// A name of the same service is another target, another stream.
	byName, err := c.ResolveName(context.Background(), "web:80")
	if err != nil {
		t.Fatal(err)
	}
	defer byName.Release()
	if byName.NotFound() || len(byName.Endpoints()) != 1 {
		t.Fatalf("by name: notFound %v, %v", byName.NotFound(), addrs(byName))
	}
	destinationtest.Eventually(t, time.Second, "two streams", func() bool { return srv.Metric(t, "destination_watches_open") == 2 })

	// Changes reach every handle, and Changed fires.
	ch := b.Changed()
	runRegistrar(t, c, "web-2", "10.1.0.2", discovery.RegistrarConfig{})
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("Changed did not fire")
	}
	waitEndpoints(t, a, 2)
}

func TestCacheSurvivesOutage(t *testing.T) {
	srv := destinationtest.Start(t, destinationtest.Options{})
	srv.WriteFile(t, "web.yaml", webYAML)
	srv.Restart(t)
	c := newClient(t, srv.Addr, func(c *discovery.Config) { c.FirstAnswer = 2 * time.Second })
	runRegistrar(t, c, "web-1", "10.1.0.1", discovery.RegistrarConfig{TTL: 3 * time.Second})
	web := resolve(t, c, webAddr)
	waitEndpoints(t, web, 1)

	srv.Stop()
	time.Sleep(300 * time.Millisecond) // the stream has broken and retries
	if web.NotFound() || len(web.Endpoints()) != 1 {
		t.Fatalf("while the service is down: notFound %v, %v", web.NotFound(), addrs(web))
	}
	// A new target falls back at once rather than waiting FirstAnswer.
	start := time.Now()
	other := resolve(t, c, netip.MustParseAddrPort("10.96.0.99:80"))
	if el := time.Since(start); el > 500*time.Millisecond || !other.NotFound() || other.Known() {
		t.Fatalf("unknown target while down: %v, notFound %v, known %v", el, other.NotFound(), other.Known())
	}
	ch := other.Changed()

	// The service comes back: watches resubscribe, the registrar renews.
	srv.Restart(t)
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("the pending target got no answer after the restart")
	}
	if !other.Known() || !other.NotFound() {
		t.Fatalf("pending target after restart: known %v, notFound %v", other.Known(), other.NotFound())
	}
	runRegistrar(t, c, "web-2", "10.1.0.2", discovery.RegistrarConfig{})
	waitEndpoints(t, web, 2)
}

// A destination service that accepts connections but never answers:
// Resolve gives up after FirstAnswer.
func TestFirstAnswerIsBounded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 16)
	t.Cleanup(func() {
		ln.Close()
		for len(conns) > 0 {
			(<-conns).Close()
		}
	})
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case conns <- conn: // held open, silent, until the test ends
			default:
				conn.Close()
			}
		}
	}()
	c := newClient(t, ln.Addr().String(), func(c *discovery.Config) { c.FirstAnswer = 200 * time.Millisecond })
	start := time.Now()
	s := resolve(t, c, webAddr)
	if el := time.Since(start); el < 150*time.Millisecond || el > time.Second || !s.NotFound() {
		t.Fatalf("Resolve took %v, notFound %v", el, s.NotFound())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Resolve(ctx, netip.MustParseAddrPort("10.96.0.1:443")); err == nil {
		t.Fatal("Resolve ignored its context")
	}
}

func TestNotFoundThenAppears(t *testing.T) {
	srv := destinationtest.Start(t, destinationtest.Options{})
	c := newClient(t, srv.Addr)
	runRegistrar(t, c, "web-1", "10.1.0.1", discovery.RegistrarConfig{})
	web := resolve(t, c, webAddr)
	if !web.NotFound() || !web.Known() {
		t.Fatalf("unknown service: notFound %v, known %v", web.NotFound(), web.Known())
	}
	srv.WriteFile(t, "web.yaml", webYAML)
	waitEndpoints(t, web, 1)
	if web.NotFound() || web.Name() != "web.default" {
		t.Fatalf("after the service appeared: notFound %v, name %q", web.NotFound(), web.Name())
	}
}

func TestIdleWatchIsClosed(t *testing.T) {
	srv := destinationtest.Start(t, destinationtest.Options{})
	c := newClient(t, srv.Addr, func(c *discovery.Config) { c.IdleTimeout = 200 * time.Millisecond })
	s, err := c.Resolve(context.Background(), webAddr)
	if err != nil {
		t.Fatal(err)
	}
	s.Release()
	s.Release() // harmless
	// Resolving again within the idle time reuses the watch.
	s2 := resolve(t, c, webAddr)
	time.Sleep(300 * time.Millisecond)
	if c.Watches() != 1 {
		t.Fatalf("held watch closed: %d watches", c.Watches())
	}
	s2.Release()
	destinationtest.Eventually(t, 2*time.Second, "idle watch closed", func() bool {
		return c.Watches() == 0 && srv.Metric(t, "destination_watches_open") == 0
	})
	if !s2.NotFound() {
		t.Fatal("a released handle lost its last state")
	}
}

func TestRegistrarHeartbeatsAndDeregisters(t *testing.T) {
	srv := destinationtest.Start(t, destinationtest.Options{LeaseTTL: 900 * time.Millisecond})
	srv.WriteFile(t, "web.yaml", webYAML)
	c := newClient(t, srv.Addr)
	r, stop := runRegistrar(t, c, "web-1", "10.1.0.1", discovery.RegistrarConfig{TTL: 5 * time.Second})
	destinationtest.Eventually(t, 2*time.Second, "registered", func() bool { return r.LeaseID() != "" })
	web := resolve(t, c, webAddr)
	waitEndpoints(t, web, 1)
	// Three TTLs later it is still there: the lease is renewed at a
	// third of the granted 900ms.
	ch := web.Changed()
	select {
	case <-ch:
		t.Fatalf("the set changed while the registrar renews: %v", addrs(web))
	case <-time.After(2700 * time.Millisecond):
	}
	if n := srv.Metric(t, "destination_lease_expiries_total"); n != 0 {
		t.Fatalf("%v leases expired", n)
	}
	start := time.Now()
	stop()
	if el := time.Since(start); el > time.Second {
		t.Fatalf("stop took %v", el)
	}
	waitEndpoints(t, web, 0)
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Fatalf("deregistered after %v: not at once", el)
	}
	if r.LeaseID() != "" {
		t.Fatal("lease ID kept after deregistration")
	}
}

func TestRegistrarBoundsDeregistration(t *testing.T) {
	srv := destinationtest.Start(t, destinationtest.Options{})
	c := newClient(t, srv.Addr)
	r, stop := runRegistrar(t, c, "web-1", "10.1.0.1", discovery.RegistrarConfig{DeregisterTimeout: 300 * time.Millisecond})
	destinationtest.Eventually(t, 2*time.Second, "registered", func() bool { return r.LeaseID() != "" })
	srv.Stop()
	start := time.Now()
	stop()
	if el := time.Since(start); el > time.Second {
		t.Fatalf("stop with the service down took %v", el)
	}
}

func TestNewChecksConfig(t *testing.T) {
	for name, cfg := range map[string]discovery.Config{
		"no address":   {Insecure: true},
		"no identity":  {Addr: "127.0.0.1:8086"},
		"no server ID": {Addr: "127.0.0.1:8086", Source: nil},
		"bad address":  {Addr: "destination", Insecure: true},
	} {
		if _, err := discovery.New(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// runReporter runs a HealthReporter until the test ends.
func runReporter(t *testing.T, c *discovery.Client, cfg discovery.HealthReporterConfig) *discovery.HealthReporter {
	t.Helper()
	h := c.HealthReporter(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }() //nolint:errcheck // Run returns nil
	t.Cleanup(func() { cancel(); <-done })
	return h
}

// TestHealthReporter: an endpoint one proxy reports failing leaves the set
// another proxy watches, and returns when reported healthy; a report made
// while the service is down is delivered after it comes back.
func TestHealthReporter(t *testing.T) {
	srv := destinationtest.Start(t, destinationtest.Options{})
	srv.WriteFile(t, "web.yaml", webYAML)
	srv.Restart(t)
	reg := newClient(t, srv.Addr)
	runRegistrar(t, reg, "web-1", "10.1.0.1", discovery.RegistrarConfig{TTL: time.Minute})
	runRegistrar(t, reg, "web-2", "10.1.0.2", discovery.RegistrarConfig{TTL: time.Minute})
	watcher := newClient(t, srv.Addr)
	web := resolve(t, watcher, webAddr)
	waitEndpoints(t, web, 2)

	reporter := newClient(t, srv.Addr)
	var reports []error
	var mu sync.Mutex
	h := runReporter(t, reporter, discovery.HealthReporterConfig{Delay: 10 * time.Millisecond, OnReport: func(_ int, err error) {
		mu.Lock()
		reports = append(reports, err)
		mu.Unlock()
	}})
	failing := netip.MustParseAddrPort("10.1.0.1:8080")
	h.Observe(discovery.Observation{Addr: failing, Reason: "connect: connection refused"})
	waitEndpoints(t, web, 1)
	if got := addrs(web); got[0] != "10.1.0.2:8080" {
		t.Fatalf("after the failure report the set is %v", got)
	}
	h.Observe(discovery.Observation{Addr: failing, Healthy: true})
	waitEndpoints(t, web, 2)

	// Reported while the service is down: retried until it is back.
	srv.Stop()
	h.Observe(discovery.Observation{Addr: failing, Reason: "connect: connection refused"})
	destinationtest.Eventually(t, 5*time.Second, "a failed report", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(reports) > 0 && reports[len(reports)-1] != nil
	})
	srv.Restart(t)
	destinationtest.Eventually(t, 10*time.Second, "the endpoint to leave after the restart", func() bool {
		return len(web.Endpoints()) == 1 && addrs(web)[0] == "10.1.0.2:8080"
	})
}

// TestHealthReporterBounded: Observe never blocks, and beyond MaxPending
// addresses it drops what is new (counted), while updates of queued
// addresses still replace them.
func TestHealthReporterBounded(t *testing.T) {
	c := newClient(t, "127.0.0.1:1")
	h := c.HealthReporter(discovery.HealthReporterConfig{MaxPending: 2}) // not running
	for i := range 5 {
		h.Observe(discovery.Observation{Addr: netip.AddrPortFrom(netip.MustParseAddr("10.1.0.1"), uint16(8000+i))})
	}
	h.Observe(discovery.Observation{Addr: netip.MustParseAddrPort("10.1.0.1:8000"), Healthy: true})
	if got := h.Dropped(); got != 3 {
		t.Errorf("dropped %d, want 3", got)
	}
}
