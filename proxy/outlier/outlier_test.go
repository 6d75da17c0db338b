package outlier

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
	"github.com/meshlite/meshlite/proxy/balance"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// recorder is a wrapped balancer that remembers its endpoint set.
type recorder struct {
	mu  sync.Mutex
	eps []balance.Endpoint
}

func (r *recorder) Update(eps []balance.Endpoint) {
	r.mu.Lock()
	r.eps = slices.Clone(eps)
	r.mu.Unlock()
}

func (r *recorder) Pick(context.Context) (balance.Pick, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.eps) == 0 {
		return balance.Pick{}, balance.ErrNoEndpoints
	}
	return balance.NewPick(r.eps[0], nil), nil
}

func (r *recorder) keys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ks []string
	for _, e := range r.eps {
		ks = append(ks, e.Key)
	}
	return ks
}

func endpoints(n int) []balance.Endpoint {
	eps := make([]balance.Endpoint, n)
	for i := range eps {
		eps[i] = balance.Endpoint{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), 80)}
	}
	return eps
}

func key(i int) string { return fmt.Sprintf("10.0.0.%d:80", i+1) }

type fixture struct {
	clk *fakeClock
	in  *recorder
	d   *Detector
}

func newFixture(n int, cfg Config) *fixture {
	f := &fixture{clk: &fakeClock{t: time.Unix(1e6, 0)}, in: &recorder{}}
	cfg.Clock = f.clk.Now
	f.d = New(f.in, cfg)
	f.d.Update(endpoints(n))
	return f
}

func (f *fixture) report(i, status int, n int) {
	for range n {
		f.d.Report(key(i), Result{Status: status})
	}
}

var errConn = errors.New("connection refused")

func TestConsecutive5xx(t *testing.T) {
	f := newFixture(4, Config{Consecutive5xx: 3, MaxEjectionPercent: 100})
	f.report(0, 500, 2)
	f.report(0, 200, 1) // breaks the run
	f.report(0, 500, 2)
	if len(f.d.Ejected()) != 0 {
		t.Fatal("ejected before 3 in a row")
	}
	f.report(0, 503, 1)
	if got := f.d.Ejected(); !slices.Equal(got, []string{key(0)}) {
		t.Fatalf("ejected %v", got)
	}
	if slices.Contains(f.in.keys(), key(0)) {
		t.Fatal("the wrapped balancer still sees the ejected endpoint")
	}
}

func TestConsecutiveGatewayErrors(t *testing.T) {
	tests := []struct {
		name    string
		results []Result
		eject   bool
	}{
		{"three 502/503/504", []Result{{Status: 502}, {Status: 503}, {Status: 504}}, true},
		{"connection errors count", []Result{{Result: balance.Result{Err: errConn}}, {Status: 503}, {Result: balance.Result{Err: errConn}}}, true},
		{"a 500 breaks the run", []Result{{Status: 502}, {Status: 503}, {Status: 500}, {Status: 504}}, false},
		{"Failure without status is a 5xx, not gateway", []Result{{Status: 502}, {Status: 502}, {Result: balance.Result{Failure: true}}}, false},
		{"4xx is a success", []Result{{Status: 502}, {Status: 502}, {Status: 404}, {Status: 502}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(2, Config{ConsecutiveGatewayErrors: 3, MaxEjectionPercent: 100})
			for _, r := range tt.results {
				f.d.Report(key(1), r)
			}
			if got := len(f.d.Ejected()) == 1; got != tt.eject {
				t.Fatalf("ejected = %v, want %v", got, tt.eject)
			}
		})
	}
}

func TestFailureCountsAs5xx(t *testing.T) {
	f := newFixture(2, Config{Consecutive5xx: 2, MaxEjectionPercent: 100})
	f.d.Report(key(0), Result{Result: balance.Result{Failure: true}})
	f.d.Report(key(0), Result{Result: balance.Result{Err: errConn}})
	if len(f.d.Ejected()) != 1 {
		t.Fatal("Failure and Err should count as 5xx")
	}
}

func TestEjectionTimeGrows(t *testing.T) {
	f := newFixture(2, Config{Consecutive5xx: 1, MaxEjectionPercent: 100, Interval: time.Second, BaseEjectionTime: 10 * time.Second, MaxEjectionTime: 25 * time.Second})
	back := func() time.Duration { // how long until the endpoint is back
		var waited time.Duration
		for len(f.d.Ejected()) > 0 {
			f.clk.Advance(time.Second)
			waited += time.Second
			f.d.Pick(context.Background())
		}
		return waited
	}
	f.report(0, 500, 1)
	if w := back(); w != 10*time.Second {
		t.Fatalf("first ejection lasted %v, want 10s", w)
	}
	f.report(0, 500, 1)
	if w := back(); w != 20*time.Second {
		t.Fatalf("second ejection lasted %v, want 20s", w)
	}
	f.report(0, 500, 1)
	if w := back(); w != 25*time.Second {
		t.Fatalf("third ejection lasted %v, want the 25s cap", w)
	}
	if !slices.Contains(f.in.keys(), key(0)) {
		t.Fatal("not back in the wrapped balancer")
	}
}

func TestForgiveness(t *testing.T) {
	f := newFixture(2, Config{Consecutive5xx: 1, MaxEjectionPercent: 100, Interval: time.Second, BaseEjectionTime: 10 * time.Second})
	f.report(0, 500, 1) // times 1, out 10s
	f.clk.Advance(10 * time.Second)
	f.d.Pick(context.Background()) // back; times still 1
	f.clk.Advance(5 * time.Second) // a sweep is due: forgiven (times 0)
	f.d.Pick(context.Background())
	f.report(0, 500, 1) // times 1 again: 10s, not 20s
	f.clk.Advance(10 * time.Second)
	if f.d.Pick(context.Background()); len(f.d.Ejected()) != 0 {
		t.Fatal("a forgiven endpoint was ejected for longer than the base time")
	}
}

func TestMaxEjectionPercent(t *testing.T) {
	tests := []struct {
		name   string
		n, pct int
		one    bool
		want   int
	}{
		{"10 endpoints, 10%", 10, 10, false, 1},
		{"3 endpoints, default 10%: none", 3, 0, false, 0},
		{"3 endpoints, 10%, always one", 3, 10, true, 1},
		{"4 endpoints, 50%", 4, 50, false, 2},
		{"5 endpoints, 50%", 5, 50, false, 2},
		{"3 endpoints, 100%", 3, 100, false, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(tt.n, Config{Consecutive5xx: 1, MaxEjectionPercent: tt.pct, AlwaysEjectOne: tt.one})
			for i := range tt.n {
				f.report(i, 500, 1)
			}
			if got := len(f.d.Ejected()); got != tt.want {
				t.Fatalf("%d ejected, want %d", got, tt.want)
			}
		})
	}
}

func TestAllEjectedFallsBackToAll(t *testing.T) {
	f := newFixture(3, Config{Consecutive5xx: 1, MaxEjectionPercent: 100})
	for i := range 3 {
		f.report(i, 500, 1)
	}
	if len(f.d.Ejected()) != 3 || len(f.in.keys()) != 3 {
		t.Fatalf("ejected %v, wrapped set %v: want all ejected and all offered", f.d.Ejected(), f.in.keys())
	}
	if _, err := f.d.Pick(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestUpdateKeepsState(t *testing.T) {
	f := newFixture(3, Config{Consecutive5xx: 2, MaxEjectionPercent: 100})
	f.report(0, 500, 2) // ejected
	f.report(1, 500, 1) // one on its way
	f.d.Update(endpoints(4))
	if !slices.Equal(f.d.Ejected(), []string{key(0)}) {
		t.Fatalf("ejection lost: %v", f.d.Ejected())
	}
	f.report(1, 500, 1)
	if len(f.d.Ejected()) != 2 {
		t.Fatal("count lost across Update")
	}
	f.d.Update(endpoints(4)[2:]) // both ejected ones leave
	if len(f.d.Ejected()) != 0 || len(f.in.keys()) != 2 {
		t.Fatalf("after removal: ejected %v, set %v", f.d.Ejected(), f.in.keys())
	}
	f.d.Report(key(0), Result{Status: 500}) // gone: ignored
	f.d.Update(endpoints(4))                // back: fresh
	if len(f.d.Ejected()) != 0 {
		t.Fatal("a re-added endpoint kept its ejection")
	}
	// The ejected count is right after removals: two ejections allowed
	// at 50 % of 4.
	f.d.Update(endpoints(4))
	g := newFixture(4, Config{Consecutive5xx: 1, MaxEjectionPercent: 50})
	g.report(0, 500, 1)
	g.d.Update(endpoints(4)[1:])
	g.report(1, 500, 1)
	if len(g.d.Ejected()) != 1 {
		t.Fatalf("ejected %v: 1 of 3 is within 50%%", g.d.Ejected())
	}
}

func TestDisabledThresholds(t *testing.T) {
	f := newFixture(2, Config{MaxEjectionPercent: 100})
	f.report(0, 503, 100)
	if len(f.d.Ejected()) != 0 {
		t.Fatal("ejected with both detectors off")
	}
}

func TestFromProto(t *testing.T) {
	if _, ok := FromProto(nil); ok {
		t.Fatal("nil is not configured")
	}
	cfg, ok := FromProto(&destinationv1.OutlierDetection{})
	if !ok || cfg.Consecutive5xx != 5 || cfg.ConsecutiveGatewayErrors != 0 {
		t.Fatalf("defaults %+v", cfg)
	}
	cfg, _ = FromProto(&destinationv1.OutlierDetection{
		ConsecutiveGatewayErrors: 3, Interval: durationpb.New(time.Second),
		BaseEjectionTime: durationpb.New(time.Minute), MaxEjectionPercent: 150,
	})
	if cfg.Consecutive5xx != 0 || cfg.ConsecutiveGatewayErrors != 3 || cfg.Interval != time.Second ||
		cfg.BaseEjectionTime != time.Minute || cfg.MaxEjectionPercent != 100 {
		t.Fatalf("read %+v", cfg)
	}
	d := New(&recorder{}, Config{})
	if d.cfg.Interval != DefaultInterval || d.cfg.BaseEjectionTime != DefaultBaseEjectionTime ||
		d.cfg.MaxEjectionPercent != DefaultMaxEjectionPercent || d.cfg.MaxEjectionTime != DefaultMaxEjectionTime {
		t.Fatalf("New defaults %+v", d.cfg)
	}
}

// TestWithRealBalancer wraps the proxy's round robin: ejected endpoints
// are not picked.
func TestWithRealBalancer(t *testing.T) {
	rr := balance.NewRoundRobin(balance.Options{})
	d := New(rr, Config{Consecutive5xx: 1, MaxEjectionPercent: 50})
	d.Update(endpoints(4))
	d.Report(key(2), Result{Status: 500})
	for range 100 {
		p, err := d.Pick(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if p.Endpoint().Key == key(2) {
			t.Fatal("picked the ejected endpoint")
		}
		p.Done(balance.Result{})
	}
}

func TestConcurrent(t *testing.T) {
	d := New(balance.NewRoundRobin(balance.Options{}), Config{Consecutive5xx: 3, MaxEjectionPercent: 100, Interval: time.Millisecond, BaseEjectionTime: time.Millisecond})
	d.Update(endpoints(8))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				p, err := d.Pick(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				status := 200
				if (i+g)%3 == 0 {
					status = 503
				}
				p.Done(balance.Result{})
				d.Report(p.Endpoint().Key, Result{Status: status})
				if i%500 == 0 {
					d.Update(endpoints(8 - g))
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkPickReport(b *testing.B) {
	d := New(balance.NewRoundRobin(balance.Options{}), Config{Consecutive5xx: 5})
	d.Update(endpoints(16))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p, _ := d.Pick(ctx)
		p.Done(balance.Result{})
		d.Report(p.Endpoint().Key, Result{Status: 200})
	}
}
