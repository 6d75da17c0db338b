package retry

import (
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func withdrawAll(b *Budget) int {
	n := 0
	for b.Withdraw() {
		n++
		if n > 1_000_000 {
			panic("unbounded budget")
		}
	}
	return n
}

func TestBudgetFloor(t *testing.T) {
	clk := newFakeClock()
	b := NewBudget(BudgetConfig{Clock: clk.Now})
	// No requests at all: the floor allows 10/s over the 10 s TTL.
	if got := withdrawAll(b); got != 100 {
		t.Fatalf("floor allowed %d retries, want 100", got)
	}
	// The withdrawals expire with the TTL.
	clk.Advance(5 * time.Second)
	if b.Withdraw() {
		t.Fatal("withdrew before the spent retries expired")
	}
	clk.Advance(5 * time.Second)
	if got := withdrawAll(b); got != 100 {
		t.Fatalf("after the TTL: %d retries, want 100", got)
	}
}

func TestBudgetRatio(t *testing.T) {
	clk := newFakeClock()
	b := NewBudget(BudgetConfig{Clock: clk.Now, MinPerSecond: -1})
	if b.Withdraw() {
		t.Fatal("withdrew from an empty budget without a floor")
	}
	for range 1000 {
		b.Deposit()
	}
	if got := withdrawAll(b); got != 200 {
		t.Fatalf("1000 requests allowed %d retries, want 200", got)
	}
	for range 5 {
		b.Deposit()
	}
	if !b.Withdraw() || b.Withdraw() {
		t.Fatal("5 more requests should allow exactly one retry")
	}
}

func TestBudgetSlidingWindow(t *testing.T) {
	clk := newFakeClock()
	b := NewBudget(BudgetConfig{Clock: clk.Now, MinPerSecond: -1, Ratio: 0.5})
	for range 100 {
		b.Deposit() // t = 0
	}
	clk.Advance(5 * time.Second)
	for range 100 {
		b.Deposit() // t = 5 s
	}
	if got := b.Balance(); got != 100 {
		t.Fatalf("Balance at 5s = %d, want 100", got)
	}
	clk.Advance(5 * time.Second) // t = 10 s: the first deposits expired
	if got := b.Balance(); got != 50 {
		t.Fatalf("Balance at 10s = %d, want 50", got)
	}
	clk.Advance(time.Hour) // long idle: everything expired
	if got := b.Balance(); got != 0 {
		t.Fatalf("Balance after an hour = %d, want 0", got)
	}
}

func TestBudgetDefaultsUnderFailureStorm(t *testing.T) {
	// 1000 requests per second for a minute, every one wanting a retry:
	// retries stay near 20 % of requests plus the floor.
	clk := newFakeClock()
	b := NewBudget(BudgetConfig{Clock: clk.Now})
	var reqs, retries int
	for range 60 * 1000 {
		clk.Advance(time.Millisecond)
		b.Deposit()
		reqs++
		if b.Withdraw() {
			retries++
		}
	}
	ratio := float64(retries) / float64(reqs)
	if ratio < 0.2 || ratio > 0.25 {
		t.Fatalf("retry ratio %.3f, want within [0.2, 0.25]", ratio)
	}
}

func TestBudgetConcurrent(t *testing.T) {
	b := NewBudget(BudgetConfig{MinPerSecond: -1})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				b.Deposit()
			}
		})
	}
	wg.Wait()
	var mu sync.Mutex
	got := 0
	for range 8 {
		wg.Go(func() {
			n := withdrawAll(b)
			mu.Lock()
			got += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if got != 1600 {
		t.Fatalf("concurrent withdrawals got %d, want 1600", got)
	}
}

func BenchmarkBudget(b *testing.B) {
	bu := NewBudget(BudgetConfig{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			bu.Deposit()
			bu.Withdraw()
		}
	})
}
