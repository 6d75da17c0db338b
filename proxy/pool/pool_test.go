package pool

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

func limitOf(err error) string {
	var of *OverflowError
	if errors.As(err, &of) {
		return of.Limit
	}
	return ""
}

func TestUnlimited(t *testing.T) {
	l := New(Limits{})
	for _, p := range []Proto{TCP, HTTP1, HTTP2} {
		for range 1000 {
			if _, err := l.Acquire(context.Background(), p); err != nil {
				t.Fatal(err)
			}
		}
	}
	var nilL *Limiter
	rel, err := nilL.Acquire(context.Background(), HTTP1)
	if err != nil {
		t.Fatal(err)
	}
	rel()
}

func TestLimits(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		lim  Limits
		held []Proto // acquired first, kept
		try  Proto
		want string // limit hit, "" for success
	}{
		{"tcp within", Limits{MaxConnections: 2}, []Proto{TCP}, TCP, ""},
		{"tcp over", Limits{MaxConnections: 2}, []Proto{TCP, TCP}, TCP, LimitMaxConnections},
		{"http1 holds a connection", Limits{MaxConnections: 1}, []Proto{HTTP1}, TCP, LimitMaxConnections},
		{"http2 holds no connection", Limits{MaxConnections: 1}, []Proto{HTTP2, HTTP2}, TCP, ""},
		{"http2 requests", Limits{HTTP2MaxRequests: 2}, []Proto{HTTP2, HTTP2}, HTTP2, LimitHTTP2MaxRequests},
		{"http2 requests count http1", Limits{HTTP2MaxRequests: 2}, []Proto{HTTP1, HTTP2}, HTTP1, LimitHTTP2MaxRequests},
		{"tcp does not count as a request", Limits{HTTP2MaxRequests: 1, MaxConnections: 5}, []Proto{TCP, TCP}, HTTP2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := New(tt.lim)
			for _, p := range tt.held {
				if _, err := l.Acquire(ctx, p); err != nil {
					t.Fatalf("holding %v: %v", p, err)
				}
			}
			_, err := l.Acquire(ctx, tt.try)
			if got := limitOf(err); got != tt.want {
				t.Fatalf("Acquire: %v, want limit %q", err, tt.want)
			}
			if tt.want != "" && !errors.Is(err, ErrOverflow) {
				t.Fatal("not ErrOverflow")
			}
		})
	}
}

func TestPendingQueue(t *testing.T) {
	l := New(Limits{MaxConnections: 1, HTTP1MaxPendingRequests: 2})
	ctx := context.Background()
	rel, err := l.Acquire(ctx, HTTP1)
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		i   int
		rel func()
		err error
	}
	done := make(chan got, 2)
	for i := range 2 {
		go func() {
			r, err := l.Acquire(ctx, HTTP1)
			done <- got{i, r, err}
		}()
		waitFor(t, func() bool { return l.Stats().Pending == i+1 })
	}
	// A third waiter is over the pending limit: refused at once.
	if _, err := l.Acquire(ctx, HTTP1); limitOf(err) != LimitHTTP1MaxPendingRequests {
		t.Fatalf("third waiter: %v", err)
	}
	// TCP never waits.
	if _, err := l.Acquire(ctx, TCP); limitOf(err) != LimitMaxConnections {
		t.Fatalf("tcp: %v", err)
	}
	rel()
	first := <-done
	if first.err != nil || first.i != 0 {
		t.Fatalf("first served: %+v, want waiter 0", first)
	}
	first.rel()
	second := <-done
	if second.err != nil {
		t.Fatal(second.err)
	}
	second.rel()
	s := l.Stats()
	if s.Connections != 0 || s.Pending != 0 || s.Requests != 0 {
		t.Fatalf("after all released: %+v", s)
	}
	if s.Overflows[LimitHTTP1MaxPendingRequests] != 1 || s.Overflows[LimitMaxConnections] != 1 {
		t.Fatalf("overflows %v", s.Overflows)
	}
}

func TestWaiterCancelled(t *testing.T) {
	l := New(Limits{MaxConnections: 1})
	rel, _ := l.Acquire(context.Background(), HTTP1)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := l.Acquire(ctx, HTTP1)
		errc <- err
	}()
	waitFor(t, func() bool { return l.Stats().Pending == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	rel()
	if s := l.Stats(); s.Connections != 0 || s.Pending != 0 || s.Requests != 0 {
		t.Fatalf("leaked: %+v", s)
	}
}

func TestConcurrentNeverOverLimit(t *testing.T) {
	l := New(Limits{MaxConnections: 3, HTTP1MaxPendingRequests: 4, HTTP2MaxRequests: 5})
	var mu sync.Mutex
	conns, reqs, maxConns, maxReqs := 0, 0, 0, 0
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				p := Proto((g + i) % 3)
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				rel, err := l.Acquire(ctx, p)
				cancel()
				if err != nil {
					continue
				}
				mu.Lock()
				if p != HTTP2 {
					conns++
				}
				if p != TCP {
					reqs++
				}
				maxConns, maxReqs = max(maxConns, conns), max(maxReqs, reqs)
				if p != HTTP2 {
					conns--
				}
				if p != TCP {
					reqs--
				}
				mu.Unlock()
				rel()
			}
		})
	}
	wg.Wait()
	if maxConns > 3 || maxReqs > 5 {
		t.Fatalf("max connections %d (limit 3), requests %d (limit 5)", maxConns, maxReqs)
	}
	if s := l.Stats(); s.Connections != 0 || s.Pending != 0 || s.Requests != 0 {
		t.Fatalf("leaked: %+v", s)
	}
}

func TestFromProto(t *testing.T) {
	if FromProto(nil) != (Limits{}) {
		t.Fatal("nil: limits")
	}
	got := FromProto(&destinationv1.ConnectionPool{MaxConnections: 1, Http1MaxPendingRequests: 2, Http2MaxRequests: 3, MaxRequestsPerConnection: 4})
	if got != (Limits{1, 2, 3, 4}) {
		t.Fatalf("FromProto = %+v", got)
	}
	if New(got).Limits() != got {
		t.Fatal("Limits()")
	}
}

func TestConnCounter(t *testing.T) {
	c := NewConnCounter(2)
	for i, want := range [][2]bool{{true, false}, {true, true}, {false, false}} {
		ok, last := c.Take()
		if ok != want[0] || last != want[1] {
			t.Errorf("take %d = %v, %v; want %v", i, ok, last, want)
		}
	}
	var unlimited ConnCounter
	for range 10 {
		if ok, last := unlimited.Take(); !ok || last {
			t.Fatal("unlimited counter refused")
		}
	}
}

// waitFor yields until cond holds: the waiters are goroutines that must
// first block in Acquire. The deadline only guards against a hang.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		runtime.Gosched()
	}
}

func BenchmarkAcquire(b *testing.B) {
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		lim   Limits
		proto Proto
	}{
		{"unlimited", Limits{}, HTTP1},
		{"http2", Limits{HTTP2MaxRequests: 1 << 20}, HTTP2},
		{"http1", Limits{MaxConnections: 1 << 20, HTTP2MaxRequests: 1 << 20}, HTTP1},
		{"tcp", Limits{MaxConnections: 1 << 20}, TCP},
	} {
		b.Run(c.name, func(b *testing.B) {
			l := New(c.lim)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					rel, err := l.Acquire(ctx, c.proto)
					if err != nil {
						b.Fatal(err)
					}
					rel()
				}
			})
		})
	}
}
