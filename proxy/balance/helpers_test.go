package balance

import (
	"container/heap"
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Unix(1_700_000_000, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// constSource always returns the same number: 0 makes round robin start at
// the first endpoint and jitter nothing; ^0 makes jitter its maximum.
type constSource uint64

func (s constSource) Uint64() uint64 { return uint64(s) }

func endpoint(key string, port uint16) Endpoint { return Endpoint{Key: key, Addr: addr(port)} }

func addr(port uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, 1}), port)
}

// eps returns endpoints keyed by the given names, weight 0 (so 1).
func eps(keys ...string) []Endpoint {
	out := make([]Endpoint, len(keys))
	for i, k := range keys {
		out[i] = endpoint(k, uint16(8000+i))
	}
	return out
}

// weighted returns endpoints a, b, c, ... with the given weights.
func weighted(ws ...uint32) []Endpoint {
	out := make([]Endpoint, len(ws))
	for i, w := range ws {
		out[i] = endpoint(string(rune('a'+i)), uint16(8000+i))
		out[i].Weight = w
	}
	return out
}

// pick picks once and fails the test on error.
func pick(t testing.TB, b Balancer) Pick {
	t.Helper()
	p, err := b.Pick(context.Background())
	if err != nil {
		t.Fatalf("Pick: %v", err)
	}
	return p
}

// sequence picks n times, calling Done at once, and returns the keys.
func sequence(t testing.TB, b Balancer, n int) string {
	t.Helper()
	var s []byte
	for range n {
		p := pick(t, b)
		s = append(s, p.Endpoint().Key...)
		p.Done(Result{})
	}
	return string(s)
}

// counts picks n times, calling Done at once, and counts the keys.
func counts(t testing.TB, b Balancer, n int) map[string]int {
	t.Helper()
	c := map[string]int{}
	for range n {
		p := pick(t, b)
		c[p.Endpoint().Key]++
		p.Done(Result{})
	}
	return c
}

// inflight is a simulated request that ends at a given time.
type inflight struct {
	end     int64
	latency time.Duration
	p       Pick
}

type inflightHeap []inflight

func (h inflightHeap) Len() int           { return len(h) }
func (h inflightHeap) Less(i, j int) bool { return h[i].end < h[j].end }
func (h inflightHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *inflightHeap) Push(x any)        { *h = append(*h, x.(inflight)) }
func (h *inflightHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// simulate sends n requests through b, one every gap of clk's time; a
// request to endpoint k takes latency(k) and its Done comes when the clock
// has passed its end. All are done when it returns. It returns how many requests each endpoint got.
func simulate(t testing.TB, b Balancer, clk *fakeClock, n int, gap time.Duration, latency func(key string) time.Duration) map[string]int {
	t.Helper()
	got := map[string]int{}
	var h inflightHeap
	for range n {
		for h.Len() > 0 && h[0].end <= clk.ns.Load() {
			r := heap.Pop(&h).(inflight)
			r.p.Done(Result{Latency: r.latency})
		}
		p := pick(t, b)
		key := p.Endpoint().Key
		got[key]++
		lat := latency(key)
		heap.Push(&h, inflight{end: clk.ns.Load() + int64(lat), latency: lat, p: p})
		clk.Advance(gap)
	}
	for h.Len() > 0 {
		r := heap.Pop(&h).(inflight)
		if d := r.end - clk.ns.Load(); d > 0 {
			clk.Advance(time.Duration(d))
		}
		r.p.Done(Result{Latency: r.latency})
	}
	return got
}

func share(c map[string]int, key string) float64 {
	total := 0
	for _, n := range c {
		total += n
	}
	return float64(c[key]) / float64(total)
}
