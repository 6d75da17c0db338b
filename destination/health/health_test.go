package health

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	grpchealth "google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/meshlite/meshlite/destination/registry"
)

// statusServer answers every request with the current status.
type statusServer struct {
	status   atomic.Int32
	requests atomic.Int32
	addr     netip.AddrPort
}

func newStatusServer(t *testing.T, status int) *statusServer {
	t.Helper()
	s := &statusServer{}
	s.status.Store(int32(status))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if r.URL.Path != "/healthz" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(int(s.status.Load()))
	}))
	t.Cleanup(srv.Close)
	s.addr = netip.MustParseAddrPort(srv.Listener.Addr().String())
	return s
}

func closedPort(t *testing.T) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddrPort(ln.Addr().String())
	ln.Close()
	return a
}

func startGRPCHealth(t *testing.T) (*grpchealth.Server, netip.AddrPort) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := grpchealth.NewServer()
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(ln) //nolint:errcheck // ends with Stop
	t.Cleanup(srv.Stop)
	return hs, netip.MustParseAddrPort(ln.Addr().String())
}

func TestProbe(t *testing.T) {
	ctx := context.Background()
	web := newStatusServer(t, 200)
	hs, gaddr := startGRPCHealth(t)
	hs.SetServingStatus("shop.Cart", healthpb.HealthCheckResponse_NOT_SERVING)
	closed := closedPort(t)
	ms := 500 * time.Millisecond
	for _, tc := range []struct {
		name string
		spec Spec
		addr netip.AddrPort
		pass bool
	}{
		{"http 200", Spec{Kind: KindHTTP, Path: "/healthz", Timeout: ms}, web.addr, true},
		{"http 404", Spec{Kind: KindHTTP, Path: "/other", Timeout: ms}, web.addr, false},
		{"http expected 404", Spec{Kind: KindHTTP, Path: "/other", ExpectedStatus: 404, Timeout: ms}, web.addr, true},
		{"http expected 204", Spec{Kind: KindHTTP, Path: "/healthz", ExpectedStatus: 204, Timeout: ms}, web.addr, false},
		{"http refused", Spec{Kind: KindHTTP, Timeout: ms}, closed, false},
		{"tcp open", Spec{Kind: KindTCP, Timeout: ms}, web.addr, true},
		{"tcp refused", Spec{Kind: KindTCP, Timeout: ms}, closed, false},
		{"grpc server", Spec{Kind: KindGRPC, Timeout: ms}, gaddr, true},
		{"grpc service not serving", Spec{Kind: KindGRPC, GRPCService: "shop.Cart", Timeout: ms}, gaddr, false},
		{"grpc unknown service", Spec{Kind: KindGRPC, GRPCService: "nope", Timeout: ms}, gaddr, false},
		{"grpc refused", Spec{Kind: KindGRPC, Timeout: ms}, closed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Probe(ctx, tc.spec, tc.addr)
			if (err == nil) != tc.pass {
				t.Fatalf("Probe = %v, want pass %v", err, tc.pass)
			}
		})
	}
}

// The state machine: the first pass makes a new target healthy; then the
// thresholds apply both ways.
func TestThresholds(t *testing.T) {
	spec := Spec{HealthyThreshold: 2, UnhealthyThreshold: 3}
	var s state
	steps := []struct {
		pass, healthy bool
	}{
		{false, false}, {false, false}, // never passed: unhealthy
		{true, true},                               // first pass: healthy at once
		{false, true}, {false, true}, {true, true}, // two failures, reset
		{false, true}, {false, true}, {false, false}, // three: unhealthy
		{true, false}, {false, false}, {true, false}, {true, true}, // two passes in a row
	}
	for i, st := range steps {
		s.observe(st.pass, spec)
		if s.healthy != st.healthy {
			t.Fatalf("step %d (pass %v): healthy %v, want %v", i, st.pass, s.healthy, st.healthy)
		}
	}
}

func TestMonitor(t *testing.T) {
	web := newStatusServer(t, 200)
	flips := make(chan struct{}, 16)
	m := NewMonitor(MonitorConfig{OnChange: func() { flips <- struct{}{} }})
	defer m.Close()
	target := Target{Service: "web.default", Addr: web.addr}
	spec := Spec{Kind: KindHTTP, Path: "/healthz", Interval: 20 * time.Millisecond, Timeout: time.Second,
		HealthyThreshold: 2, UnhealthyThreshold: 3}
	if m.Healthy(target) {
		t.Fatal("healthy before any check")
	}
	m.Set(map[Target]Spec{target: spec})
	waitFlip(t, flips)
	if !m.Healthy(target) {
		t.Fatal("not healthy after the first pass")
	}
	web.status.Store(500)
	before := web.requests.Load()
	waitFlip(t, flips)
	if m.Healthy(target) || web.requests.Load()-before < 3 {
		t.Fatalf("unhealthy after %d failing checks, want at least 3", web.requests.Load()-before)
	}
	web.status.Store(200)
	before = web.requests.Load()
	waitFlip(t, flips)
	if !m.Healthy(target) || web.requests.Load()-before < 2 {
		t.Fatalf("healthy again after %d passing checks, want at least 2", web.requests.Load()-before)
	}
	// The same spec again keeps the state; no target stops the prober.
	m.Set(map[Target]Spec{target: spec})
	if !m.Healthy(target) {
		t.Fatal("re-setting the same spec reset the state")
	}
	m.Set(nil)
	if m.Healthy(target) {
		t.Fatal("a removed target is still healthy")
	}
}

func waitFlip(t *testing.T, flips <-chan struct{}) {
	t.Helper()
	select {
	case <-flips:
	case <-time.After(5 * time.Second):
		t.Fatal("no health change within 5s")
	}
}

func TestPassive(t *testing.T) {
	a := netip.MustParseAddrPort("10.0.0.1:8080")
	b := netip.MustParseAddrPort("10.0.0.2:8080")
	pub := registry.NewPublisher()
	pub.Publish(registry.NewSnapshot([]*registry.Service{{Name: "web", Namespace: "default",
		Ports: []registry.Port{{Port: 80, Endpoints: []registry.Endpoint{{Addr: a}, {Addr: b}}}}}}))
	p := NewPassive(pub, 200*time.Millisecond, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	endpoints := func() int {
		snap, _ := p.Snapshot()
		return len(snap.Service("web.default").Ports[0].Endpoints)
	}
	wait := func(n int, what string) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for endpoints() != n {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d endpoints, want %d", what, endpoints(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	wait(2, "start")
	if !p.Observe(a, false) || p.Observe(a, false) {
		t.Fatal("Observe did not report the change once")
	}
	wait(1, "after a failure report")
	if !p.Observe(a, true) {
		t.Fatal("healthy report did not change the state")
	}
	wait(2, "after a healthy report")
	p.Observe(b, false)
	wait(1, "after b's failure")
	start := time.Now()
	wait(2, "after the ejection time")
	if el := time.Since(start); el > time.Second {
		t.Fatalf("ejection ended after %v, want about 200ms", el)
	}
}
