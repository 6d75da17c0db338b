package balance

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestLeastRequestBalancesInFlight(t *testing.T) {
	for _, tc := range []struct {
		name      string
		endpoints int
		finish    float64 // chance that a pick also ends a random older request
		maxGap    int64   // most minus fewest in flight
		maxOver   int64   // most minus the mean rounded up
	}{
		// Full scan: only the picks decide, so counts stay within one;
		// random ends can open a gap of one more.
		{"3, none end", 3, 0, 1, 0},
		{"16, none end", 16, 0, 1, 0},
		{"10, some end", 10, 0.7, 2, 1},
		{"16, most end", 16, 0.95, 2, 1},
		// Power of two choices bounds the overload, max - mean, by about
		// log log n; the least loaded lag further, by about log n.
		{"17, none end", 17, 0, 6, 2},
		{"100, none end", 100, 0, 8, 3},
		{"100, some end", 100, 0.7, 12, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewLeastRequest(Options{Rand: rand.NewPCG(1, 4)})
			keys := make([]string, tc.endpoints)
			for i := range keys {
				keys[i] = fmt.Sprint(i)
			}
			b.Update(eps(keys...))
			sim := rand.New(rand.NewPCG(5, 6))
			var open []Pick
			for i := range 100 * tc.endpoints {
				open = append(open, pick(t, b))
				if sim.Float64() < tc.finish {
					j := sim.IntN(len(open))
					open[j].Done(Result{})
					open = slices.Delete(open, j, j+1)
				}
				gap, over := inFlightSpread(b)
				if gap > tc.maxGap || over > tc.maxOver {
					t.Fatalf("after %d picks in flight: max-min %d (want <= %d), max-mean %d (want <= %d)",
						i+1, gap, tc.maxGap, over, tc.maxOver)
				}
			}
		})
	}
}

// inFlightSpread returns the most minus the fewest requests in flight on an
// endpoint, and the most minus the mean rounded up.
func inFlightSpread(b *LeastRequest) (gap, over int64) {
	ms := *b.set.Load()
	lo, hi, sum := int64(1<<62), int64(-1), int64(0)
	for _, m := range ms {
		n := m.s.n.Load()
		lo, hi, sum = min(lo, n), max(hi, n), sum+n
	}
	n := int64(len(ms))
	return hi - lo, hi - (sum+n-1)/n
}

func TestLeastRequestFollowsDone(t *testing.T) {
	b := NewLeastRequest(Options{})
	b.Update(eps("a", "b"))
	first := pick(t, b)
	second := pick(t, b)
	if first.Endpoint().Key == second.Endpoint().Key {
		t.Fatalf("both picks went to %s", first.Endpoint().Key)
	}
	second.Done(Result{})
	for range 5 { // first is still in flight: the other endpoint wins every time
		p := pick(t, b)
		if p.Endpoint().Key == first.Endpoint().Key {
			t.Fatalf("picked %s, which has a request in flight, over an idle endpoint", p.Endpoint().Key)
		}
		p.Done(Result{})
	}
}

func TestLeastRequestUpdateKeepsCounts(t *testing.T) {
	b := NewLeastRequest(Options{})
	b.Update(eps("a", "b"))
	held := []Pick{pick(t, b), pick(t, b), pick(t, b)}
	b.Update(eps("a", "b", "c"))
	var sum int64
	for _, m := range *b.set.Load() {
		sum += m.s.n.Load()
	}
	if sum != 3 {
		t.Errorf("in flight after Update: %d, want 3", sum)
	}
	if got := pick(t, b).Endpoint().Key; got != "c" {
		t.Errorf("picked %s, want the idle new endpoint c", got)
	}
	b.Update(eps("c"))
	for _, p := range held {
		p.Done(Result{}) // removed endpoints: harmless
	}
}
