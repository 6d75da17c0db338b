package retry

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Budget defaults (Linkerd's).
const (
	DefaultBudgetRatio        = 0.2
	DefaultBudgetMinPerSecond = 10
	DefaultBudgetTTL          = 10 * time.Second
)

// slots is how many windows a Budget's TTL is cut into.
const slots = 10

// BudgetConfig configures a Budget. The zero value gives the defaults.
type BudgetConfig struct {
	// Ratio is how many retries each request earns: 0.2 allows one retry
	// per five requests. Default (0): 0.2; negative: none (only
	// MinPerSecond).
	Ratio float64
	// MinPerSecond is the rate of retries always allowed, however few the
	// requests. Default (0): 10; negative: none.
	MinPerSecond int
	// TTL is how long a request's deposit (and a retry's withdrawal)
	// counts. Default: 10s; at least 1s.
	TTL time.Duration
	// Clock returns the current time. Default: time.Now.
	Clock func() time.Time
}

// Budget limits retries to a share of the requests of the recent past, so
// that retries cannot multiply the load on a failing service. Deposit once
// per request; Withdraw before each retry. It is safe for concurrent use;
// Deposit and Withdraw take no lock except once per TTL/10 to rotate.
type Budget struct {
	deposit  int64 // units a request earns
	withdraw int64 // units a retry costs
	reserve  int64 // units always there (MinPerSecond × TTL)
	window   int64 // ns per slot
	now      func() time.Time
	epoch    time.Time

	cur     atomic.Int64 // units of the current window
	past    atomic.Int64 // sum of ring
	nextRot atomic.Int64 // ns (since epoch) when the current window ends

	mu   sync.Mutex // guards ring and idx; serialises rotation
	ring [slots - 1]int64
	idx  int
}

// NewBudget returns a budget configured by cfg.
func NewBudget(cfg BudgetConfig) *Budget {
	if cfg.Ratio == 0 {
		cfg.Ratio = DefaultBudgetRatio
	}
	if cfg.MinPerSecond == 0 {
		cfg.MinPerSecond = DefaultBudgetMinPerSecond
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultBudgetTTL
	}
	cfg.TTL = max(cfg.TTL, time.Second)
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	b := &Budget{now: cfg.Clock, window: int64(cfg.TTL / slots)}
	b.epoch = b.now()
	// Integer units: a request earns 1000, a retry costs 1000/Ratio.
	switch {
	case cfg.Ratio > 0:
		b.deposit, b.withdraw = 1000, int64(math.Round(1000/cfg.Ratio))
	default:
		b.deposit, b.withdraw = 0, 1000
	}
	b.withdraw = max(b.withdraw, 1)
	if cfg.MinPerSecond > 0 {
		b.reserve = int64(cfg.MinPerSecond) * int64(cfg.TTL/time.Second) * b.withdraw
	}
	b.nextRot.Store(b.window)
	return b
}

// Deposit records one request (not a retry).
func (b *Budget) Deposit() {
	b.rotate()
	b.cur.Add(b.deposit)
}

// Withdraw takes the cost of one retry from the budget, and reports
// whether there was enough: false means do not retry.
func (b *Budget) Withdraw() bool {
	b.rotate()
	for {
		c := b.cur.Load()
		if b.reserve+b.past.Load()+c < b.withdraw {
			return false
		}
		if b.cur.CompareAndSwap(c, c-b.withdraw) {
			return true
		}
	}
}

// Balance is how many retries the budget would allow now.
func (b *Budget) Balance() int {
	b.rotate()
	return int(max(0, b.reserve+b.past.Load()+b.cur.Load()) / b.withdraw)
}

// rotate ends the current window when its time is up: its units join the
// ring, the oldest leave.
func (b *Budget) rotate() {
	now := int64(b.now().Sub(b.epoch))
	if now < b.nextRot.Load() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	next := b.nextRot.Load()
	if now < next {
		return
	}
	elapsed := (now-next)/b.window + 1 // windows ended
	moved := b.cur.Swap(0)
	for i := int64(0); i < min(elapsed, slots); i++ {
		b.past.Add(-b.ring[b.idx])
		b.ring[b.idx] = moved
		b.past.Add(moved)
		moved = 0
		b.idx = (b.idx + 1) % len(b.ring)
	}
	b.nextRot.Store(next + elapsed*b.window)
}
