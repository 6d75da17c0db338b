package balance

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func newTestEWMA(clk *fakeClock, o Options) *PeakEWMA {
	o.Clock = clk.Now
	if o.Rand == nil {
		o.Rand = rand.NewPCG(1, 2)
	}
	return NewPeakEWMA(o)
}

// state returns the EWMA state of the endpoint with key.
func (b *PeakEWMA) state(key string) *ewmaState {
	for _, m := range *b.set.Load() {
		if m.ep.Key == key {
			return m.s
		}
	}
	return nil
}

// estimate is the latency estimate at now in nanoseconds, decayed toward
// zero since the last observation, as Pick sees it.
func (s *ewmaState) estimate(now int64) float64 {
	est := math.Float64frombits(s.est.Load())
	if dt := now - s.stamp.Load(); dt > 0 {
		est *= math.Exp(-float64(dt) / s.p.decay)
	}
	return est
}

func (b *PeakEWMA) estimate(key string) time.Duration {
	return time.Duration(b.state(key).estimate(b.params.clock.nanos()))
}

// observe picks key (retrying other picks) and reports r for it.
func observe(t *testing.T, b Balancer, key string, r Result) {
	t.Helper()
	for range 1000 {
		p := pick(t, b)
		if p.Endpoint().Key == key {
			p.Done(r)
			return
		}
		p.Done(Result{})
	}
	t.Fatalf("%s never picked", key)
}

func TestPeakEWMAAvoidsSlowEndpoint(t *testing.T) {
	for _, tc := range []struct {
		name string
		gap  time.Duration
	}{
		{"light load", 10 * time.Millisecond},
		{"busy", 2 * time.Millisecond},
		{"saturating", 500 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{}
			b := newTestEWMA(clk, Options{})
			b.Update(eps("a", "b", "c"))
			got := simulate(t, b, clk, 10_000, tc.gap, func(key string) time.Duration {
				if key == "c" {
					return 100 * time.Millisecond
				}
				return 10 * time.Millisecond
			})
			if s := share(got, "c"); s >= 0.10 {
				t.Errorf("slow endpoint got %.1f%% of requests, want < 10%%: %v", 100*s, got)
			}
			t.Logf("%v", got)
		})
	}
}

func TestPeakEWMAPeakAndDecay(t *testing.T) {
	for _, decay := range []time.Duration{0, 2 * time.Second} {
		tau := or(decay, DefaultDecay)
		t.Run(tau.String(), func(t *testing.T) {
			clk := &fakeClock{}
			b := newTestEWMA(clk, Options{Decay: decay})
			b.Update(eps("a"))
			ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
			steps := []struct {
				name    string
				advance time.Duration
				observe time.Duration // 0: none
				want    time.Duration
			}{
				{"unmeasured is DefaultRTT", 0, 0, DefaultRTT},
				{"first measurement replaces the default", 0, 10 * time.Millisecond, ms(10)},
				{"spike is taken at once", 0, 100 * time.Millisecond, ms(100)},
				{"estimate decays toward zero between measurements", tau, 0, ms(100 / math.E)},
				{"after one decay period a measurement pulls it 1-1/e of the way", 0, 10 * time.Millisecond, ms(10 + 90/math.E)},
				{"a peak above the estimate is taken at once again", time.Second, 200 * time.Millisecond, ms(200)},
				{"right after, a low measurement barely moves it", 0, time.Millisecond, ms(200)},
			}
			for _, s := range steps {
				clk.Advance(s.advance)
				if s.observe > 0 {
					observe(t, b, "a", Result{Latency: s.observe})
				}
				got := b.estimate("a")
				if d := got - s.want; d < -time.Microsecond || d > time.Microsecond {
					t.Errorf("%s: estimate %v, want %v", s.name, got, s.want)
				}
			}
		})
	}
}

func TestPeakEWMATriesUnmeasured(t *testing.T) {
	t.Run("among slow endpoints at once", func(t *testing.T) {
		clk := &fakeClock{}
		b := newTestEWMA(clk, Options{})
		b.Update(eps("a", "b"))
		observe(t, b, "a", Result{Latency: 100 * time.Millisecond})
		observe(t, b, "b", Result{Latency: 100 * time.Millisecond})
		b.Update(eps("a", "b", "new"))
		got := counts(t, b, 10)
		if got["new"] < 5 {
			t.Errorf("new endpoint picked %d of 10 times, want it preferred: %v", got["new"], got)
		}
	})
	t.Run("among fast endpoints as its default decays", func(t *testing.T) {
		clk := &fakeClock{}
		b := newTestEWMA(clk, Options{})
		b.Update(eps("a", "b"))
		lat := func(string) time.Duration { return 5 * time.Millisecond }
		simulate(t, b, clk, 100, 10*time.Millisecond, lat)
		b.Update(eps("a", "b", "new"))
		got := simulate(t, b, clk, 6000, 10*time.Millisecond, lat) // a minute
		if got["new"] == 0 {
			t.Fatalf("new endpoint never tried in a minute: %v", got)
		}
		// Once measured as fast as the others, it gets its share.
		got = simulate(t, b, clk, 6000, 10*time.Millisecond, lat)
		if s := share(got, "new"); s < 0.25 {
			t.Errorf("measured new endpoint got %.1f%%, want about a third: %v", 100*s, got)
		}
	})
}

func TestPeakEWMAPendingRaisesCost(t *testing.T) {
	clk := &fakeClock{}
	b := newTestEWMA(clk, Options{})
	b.Update(eps("a", "b"))
	first := pick(t, b)
	second := pick(t, b)
	if first.Endpoint().Key == second.Endpoint().Key {
		t.Fatalf("two picks with one in flight both went to %s", first.Endpoint().Key)
	}
	second.Done(Result{Latency: 30 * time.Millisecond})
	third := pick(t, b)
	if third.Endpoint().Key == first.Endpoint().Key {
		t.Errorf("picked %s again with a request in flight", third.Endpoint().Key)
	}
}

func TestPeakEWMAErrorIsNotFast(t *testing.T) {
	clk := &fakeClock{}
	b := newTestEWMA(clk, Options{})
	b.Update(eps("a", "b"))
	observe(t, b, "a", Result{Latency: time.Millisecond, Err: errors.New("connection refused")})
	observe(t, b, "b", Result{Latency: 20 * time.Millisecond})
	if got := b.estimate("a"); got < DefaultErrorRTT {
		t.Errorf("estimate after a fast failure is %v, want at least %v", got, DefaultErrorRTT)
	}
	if got := counts(t, b, 100); got["a"] != 0 {
		t.Errorf("failing endpoint still picked: %v", got)
	}
}

func TestPeakEWMAUpdateKeepsState(t *testing.T) {
	clk := &fakeClock{}
	b := newTestEWMA(clk, Options{})
	b.Update(eps("a", "b"))
	observe(t, b, "a", Result{Latency: 100 * time.Millisecond})
	held := pick(t, b) // goes to b, the cheaper
	b.Update(eps("a", "b", "c"))
	if got := b.estimate("a"); got != 100*time.Millisecond {
		t.Errorf("estimate of a kept endpoint is %v, want 100ms", got)
	}
	if got := b.state("b").pending.Load(); got != 1 {
		t.Errorf("pending of a kept endpoint is %d, want 1", got)
	}
	b.Update(eps("c"))
	held.Done(Result{Latency: time.Second}) // for a removed endpoint: harmless
	b.Update(eps("a", "b", "c"))
	if got := b.estimate("a"); got != DefaultRTT {
		t.Errorf("estimate of a re-added endpoint is %v, want DefaultRTT", got)
	}
	if got := b.state("b").pending.Load(); got != 0 {
		t.Errorf("pending of a re-added endpoint is %d, want 0", got)
	}
}
