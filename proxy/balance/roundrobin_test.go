package balance

import (
	"math/rand/v2"
	"testing"
)

func TestRoundRobinCycles(t *testing.T) {
	type step struct {
		update []Endpoint // nil: no update
		picks  int
		want   string
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"exact cycle", []step{{eps("a", "b", "c"), 9, "abcabcabc"}}},
		{"one endpoint", []step{{eps("a"), 3, "aaa"}}},
		{"cursor survives an added endpoint", []step{
			{eps("a", "b", "c"), 2, "ab"},
			{eps("a", "b", "c", "d"), 6, "cdabcd"},
		}},
		{"cursor survives a removed endpoint", []step{
			{eps("a", "b", "c", "d"), 2, "ab"},
			{eps("a", "c", "d"), 6, "dacdac"}, // cursor 2 of 3,
		}},
		{"same set again changes nothing", []step{
			{eps("a", "b", "c"), 2, "ab"},
			{eps("a", "b", "c"), 4, "cabc"},
		}},
		{"weights are ignored", []step{{weighted(5, 1), 4, "abab"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewRoundRobin(Options{Rand: constSource(0)})
			for _, s := range tc.steps {
				if s.update != nil {
					b.Update(s.update)
				}
				if got := sequence(t, b, s.picks); got != s.want {
					t.Errorf("picks %q, want %q", got, s.want)
				}
			}
		})
	}
}

func TestRoundRobinEveryWindowHasEach(t *testing.T) {
	b := NewRoundRobin(Options{Rand: rand.NewPCG(7, 8)}) // random start
	b.Update(eps("a", "b", "c", "d", "e"))
	for w := range 20 {
		got := counts(t, b, 5)
		if len(got) != 5 {
			t.Fatalf("window %d: %v, want each of 5 endpoints once", w, got)
		}
	}
}
