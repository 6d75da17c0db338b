package detect

import (
	"net/netip"
	"sync"
	"time"
)

// Memo remembers destinations that turned out to be server-speaks-first, so
// later connections to them skip detection and its first-byte wait. It holds
// at most Max entries, each for TTL; the oldest entry makes room for a new
// one. The zero value is not usable: use NewMemo.
type Memo struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[netip.AddrPort]time.Time // destination → expiry
}

// NewMemo returns a Memo of at most max destinations remembered for ttl
// each. now is the clock (time.Now when nil).
func NewMemo(max int, ttl time.Duration, now func() time.Time) *Memo {
	if now == nil {
		now = time.Now
	}
	return &Memo{ttl: ttl, max: max, now: now, entries: make(map[netip.AddrPort]time.Time)}
}

// Remember marks dst as server-speaks-first.
func (m *Memo) Remember(dst netip.AddrPort) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.entries[dst]; !ok && len(m.entries) >= m.max {
		m.evict(now)
	}
	m.entries[dst] = now.Add(m.ttl)
}

// evict drops expired entries, or the one closest to expiry when none has
// expired. Called with mu held; O(n) but only when the memo is full.
func (m *Memo) evict(now time.Time) {
	var (
		oldest    netip.AddrPort
		oldestExp time.Time
		dropped   bool
	)
	for k, exp := range m.entries {
		if !exp.After(now) {
			delete(m.entries, k)
			dropped = true
			continue
		}
		if oldestExp.IsZero() || exp.Before(oldestExp) {
			oldest, oldestExp = k, exp
		}
	}
	if !dropped && !oldestExp.IsZero() {
		delete(m.entries, oldest)
	}
}

// ServerFirst reports whether dst is remembered as server-speaks-first.
func (m *Memo) ServerFirst(dst netip.AddrPort) bool {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	exp, ok := m.entries[dst]
	if ok && !exp.After(now) {
		delete(m.entries, dst)
		return false
	}
	return ok
}

// Len returns how many destinations are remembered.
func (m *Memo) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}
