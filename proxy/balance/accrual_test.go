package balance

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

var errRefused = errors.New("connection refused")

// newTestAccrual wraps a round robin over keys in failure accrual with a
// fake clock; src nil means constSource(0): no jitter, fixed choices.
func newTestAccrual(t *testing.T, a AccrualOptions, src rand.Source, keys ...string) (*FailureAccrual, *fakeClock) {
	t.Helper()
	if src == nil {
		src = constSource(0)
	}
	clk := &fakeClock{}
	o := Options{Clock: clk.Now, Rand: src, Accrual: a}
	f := NewFailureAccrual(NewRoundRobin(o), o)
	f.Update(eps(keys...))
	return f, clk
}

// failN picks until key has been picked n times, failing those picks with
// r (a connection error when zero) and the others not.
func failN(t *testing.T, b Balancer, key string, n int, r Result) {
	t.Helper()
	if r == (Result{}) {
		r = Result{Err: errRefused}
	}
	for i := 0; n > 0; i++ {
		if i > 1000 {
			t.Fatalf("%s not picked in 1000 picks", key)
		}
		p := pick(t, b)
		if p.Endpoint().Key != key {
			p.Done(Result{})
			continue
		}
		p.Done(r)
		n--
	}
}

func wantPicked(t *testing.T, b Balancer, key string, picked bool) {
	t.Helper()
	got := counts(t, b, 100)
	if (got[key] > 0) != picked {
		t.Errorf("%s picked %d times in 100, want picked: %v (%v)", key, got[key], picked, got)
	}
}

func TestAccrualSetsAsideAfterConsecutiveFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts AccrualOptions
		n    int
	}{
		{"default 7", AccrualOptions{}, DefaultFailures},
		{"3", AccrualOptions{Failures: 3}, 3},
		{"5xx counted when asked", AccrualOptions{Failures: 3, CountFailures: true}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := newTestAccrual(t, tc.opts, nil, "a", "b", "c")
			r := Result{Err: errRefused}
			if tc.opts.CountFailures {
				r = Result{Failure: true}
			}
			failN(t, f, "a", tc.n-1, r)
			failN(t, f, "a", 1, r) // still picked after n-1
			wantPicked(t, f, "a", false)
		})
	}
	t.Run("a success resets the count", func(t *testing.T) {
		f, _ := newTestAccrual(t, AccrualOptions{Failures: 3}, nil, "a", "b")
		failN(t, f, "a", 2, Result{})
		failN(t, f, "a", 1, Result{Latency: time.Millisecond})
		failN(t, f, "a", 2, Result{})
		wantPicked(t, f, "a", true)
	})
	t.Run("5xx not counted by default", func(t *testing.T) {
		f, _ := newTestAccrual(t, AccrualOptions{Failures: 3}, nil, "a", "b")
		failN(t, f, "a", 10, Result{Failure: true})
		wantPicked(t, f, "a", true)
	})
}

func TestAccrualProbesAfterBackoff(t *testing.T) {
	f, clk := newTestAccrual(t, AccrualOptions{Failures: 3}, nil, "a", "b", "c")
	failN(t, f, "a", 3, Result{})
	clk.Advance(DefaultMinBackoff - 1)
	wantPicked(t, f, "a", false)
	clk.Advance(1)
	probe := pick(t, f)
	if got := probe.Endpoint().Key; got != "a" {
		t.Fatalf("first pick after the backoff is %s, want the probe of a", got)
	}
	wantPicked(t, f, "a", false) // one probe at a time
	probe.Done(Result{Latency: time.Millisecond})
	wantPicked(t, f, "a", true)
	// Restored with a fresh backoff: the next ejection waits MinBackoff.
	failN(t, f, "a", 3, Result{})
	clk.Advance(DefaultMinBackoff)
	if got := pick(t, f).Endpoint().Key; got != "a" {
		t.Errorf("after restore and new ejection, probe due after %v went to %s", DefaultMinBackoff, got)
	}
}

func TestAccrualBackoffDoubles(t *testing.T) {
	f, clk := newTestAccrual(t, AccrualOptions{Failures: 1}, nil, "a", "b")
	failN(t, f, "a", 1, Result{})
	for _, wait := range []time.Duration{1, 2, 4, 8, 16, 32, 60, 60} {
		wait *= time.Second
		clk.Advance(wait - 1)
		wantPicked(t, f, "a", false)
		clk.Advance(1)
		probe := pick(t, f)
		if got := probe.Endpoint().Key; got != "a" {
			t.Fatalf("no probe of a %v after the last failure: picked %s", wait, got)
		}
		probe.Done(Result{Err: errRefused})
	}
}

func TestAccrualJitter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		jitter float64
		wait   time.Duration // with the largest random draw
	}{
		{"default 0.5", 0, 1500 * time.Millisecond},
		{"0.2", 0.2, 1200 * time.Millisecond},
		{"none", -1, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, clk := newTestAccrual(t, AccrualOptions{Failures: 1, Jitter: tc.jitter}, constSource(^uint64(0)), "a", "b")
			failN(t, f, "a", 1, Result{})
			clk.Advance(tc.wait - time.Millisecond)
			wantPicked(t, f, "a", false)
			clk.Advance(time.Millisecond)
			if got := pick(t, f).Endpoint().Key; got != "a" {
				t.Errorf("no probe of a after %v: picked %s", tc.wait, got)
			}
		})
	}
}

func TestAccrualAllSetAsideFallsBack(t *testing.T) {
	f, _ := newTestAccrual(t, AccrualOptions{Failures: 2}, rand.NewPCG(1, 2), "a", "b")
	failN(t, f, "a", 2, Result{})
	failN(t, f, "b", 2, Result{})
	got := map[string]int{}
	for range 100 { // failures while all are set aside change nothing
		p := pick(t, f)
		got[p.Endpoint().Key]++
		p.Done(Result{Err: errRefused})
	}
	if got["a"] == 0 || got["b"] == 0 {
		t.Fatalf("with all set aside, picks went to %v, want among all", got)
	}
	p := pick(t, f)
	key := p.Endpoint().Key
	p.Done(Result{Latency: time.Millisecond})
	if got := counts(t, f, 50); got[key] != 50 {
		t.Errorf("after a success on %s while all were set aside: %v, want it restored and alone", key, got)
	}
}

func TestAccrualUpdate(t *testing.T) {
	f, clk := newTestAccrual(t, AccrualOptions{Failures: 1}, nil, "a", "b", "c")
	failN(t, f, "a", 1, Result{})
	f.Update(eps("a", "b", "c", "d"))
	wantPicked(t, f, "a", false) // stays set aside
	clk.Advance(DefaultMinBackoff)
	probe := pick(t, f)
	if probe.Endpoint().Key != "a" {
		t.Fatalf("picked %s, want the probe of a", probe.Endpoint().Key)
	}
	f.Update(eps("b", "c", "d"))
	probe.Done(Result{}) // for a removed endpoint: harmless
	wantPicked(t, f, "a", false)
	f.Update(eps("a", "b", "c", "d"))
	wantPicked(t, f, "a", true) // back fresh
}

func TestAccrualPassesDoneThrough(t *testing.T) {
	lr := NewLeastRequest(Options{})
	twice := NewFailureAccrual(NewFailureAccrual(lr, Options{}), Options{}) // three doners per Pick
	twice.Update(eps("a"))
	p := pick(t, twice)
	if n := (*lr.set.Load())[0].s.n.Load(); n != 1 {
		t.Fatalf("inner in flight %d after Pick, want 1", n)
	}
	p.Done(Result{})
	if n := (*lr.set.Load())[0].s.n.Load(); n != 0 {
		t.Errorf("inner in flight %d after Done, want 0", n)
	}
}

func TestAccrualStaleProbeIgnored(t *testing.T) {
	f, clk := newTestAccrual(t, AccrualOptions{Failures: 1}, nil, "a", "b")
	failN(t, f, "a", 1, Result{})
	failN(t, f, "b", 1, Result{})
	clk.Advance(DefaultMinBackoff)
	probeA, probeB := pick(t, f), pick(t, f)
	if probeA.Endpoint().Key != "a" || probeB.Endpoint().Key != "b" {
		t.Fatalf("probes went to %s and %s, want a and b", probeA.Endpoint().Key, probeB.Endpoint().Key)
	}
	fallback := pick(t, f) // none left: fallback, to a with this source
	if fallback.Endpoint().Key != "a" {
		t.Fatalf("fallback went to %s, want a", fallback.Endpoint().Key)
	}
	fallback.Done(Result{}) // restores a
	probeA.Done(Result{Err: errRefused})
	if st := f.set.Load().byKey["a"].state; st != healthy {
		t.Errorf("a failed probe after a was restored set it aside again (state %d)", st)
	}
	probeB.Done(Result{})
	if got := counts(t, f, 10); got["a"] != 5 || got["b"] != 5 {
		t.Errorf("after both are back: %v, want a and b in turn", got)
	}
}

// TestAccrualOnChange: OnChange hears of the set-aside and of the return,
// once each, not of the failed probes in between; and with the endpoint as
// last updated.
func TestAccrualOnChange(t *testing.T) {
	type change struct {
		key      string
		weight   uint32
		setAside bool
	}
	var got []change
	opts := AccrualOptions{Failures: 2, OnChange: func(ep Endpoint, setAside bool) {
		got = append(got, change{ep.Key, ep.Weight, setAside})
	}}
	f, clk := newTestAccrual(t, opts, nil, "a", "b")
	f.Update([]Endpoint{{Key: "a", Weight: 5}, {Key: "b"}})
	failN(t, f, "a", 2, Result{})
	for range 2 { // two failed probes
		clk.Advance(time.Hour)
		probe := pick(t, f)
		if probe.Endpoint().Key != "a" {
			t.Fatalf("probe went to %s", probe.Endpoint().Key)
		}
		probe.Done(Result{Err: errRefused})
	}
	clk.Advance(time.Hour)
	pick(t, f).Done(Result{Latency: time.Millisecond}) // the probe succeeds
	want := []change{{"a", 5, true}, {"a", 5, false}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("OnChange calls %v, want %v", got, want)
	}
}

// TestAccrualUnused: a pick given back unused neither resets the count of
// consecutive failures nor ends a probe as a success or failure.
func TestAccrualUnused(t *testing.T) {
	f, clk := newTestAccrual(t, AccrualOptions{Failures: 2}, nil, "a", "b")
	failN(t, f, "a", 1, Result{})
	failN(t, f, "a", 1, Result{Unused: true})
	failN(t, f, "a", 1, Result{})
	wantPicked(t, f, "a", false) // the second consecutive failure

	clk.Advance(time.Hour)
	probe := pick(t, f)
	if probe.Endpoint().Key != "a" {
		t.Fatalf("probe went to %s", probe.Endpoint().Key)
	}
	probe.Done(Result{Unused: true})
	again := pick(t, f)
	if again.Endpoint().Key != "a" {
		t.Fatalf("after an unused probe the next pick went to %s, want a probe of a again", again.Endpoint().Key)
	}
	// It is a probe: one failure sets a aside again (a restored endpoint
	// would take two).
	again.Done(Result{Err: errRefused})
	wantPicked(t, f, "a", false)
}
