package balance

import (
	"strings"
	"testing"
)

func TestWeightedRoundRobinSequence(t *testing.T) {
	for _, tc := range []struct {
		name    string
		weights []uint32
		want    string
	}{
		{"nginx 5,1,1", []uint32{5, 1, 1}, "aabacaa"},
		{"equal", []uint32{1, 1, 1}, "abc"},
		{"zero is one", []uint32{0, 0}, "ab"},
		{"3:1", []uint32{3, 1}, "aaba"},
		{"2:1:1", []uint32{2, 1, 1}, "abca"},
		{"one endpoint", []uint32{4}, "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewWeightedRoundRobin(Options{})
			b.Update(weighted(tc.weights...))
			want := strings.Repeat(tc.want, 3)
			if got := sequence(t, b, len(want)); got != want {
				t.Errorf("picks %q, want %q", got, want)
			}
		})
	}
}

func TestWeightedRoundRobinShares(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before []Endpoint // picked 1001 times first, to leave it mid-cycle
		after  []Endpoint
		want   map[string]int // over 4000 picks
		slack  int
	}{
		{"3:1 exactly", nil, weighted(3, 1), map[string]int{"a": 3000, "b": 1000}, 0},
		{"same set again keeps the cycle", weighted(3, 1), weighted(3, 1), map[string]int{"a": 3000, "b": 1000}, 0},
		{"weights changed to 1:3", weighted(3, 1), weighted(1, 3), map[string]int{"a": 1000, "b": 3000}, 2},
		{"endpoint added", weighted(3, 1), weighted(3, 1, 4), map[string]int{"a": 1500, "b": 500, "c": 2000}, 2},
		{"endpoint removed", weighted(3, 1, 4), weighted(3, 1), map[string]int{"a": 3000, "b": 1000}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewWeightedRoundRobin(Options{})
			if tc.before != nil {
				b.Update(tc.before)
				counts(t, b, 1001)
			}
			b.Update(tc.after)
			got := counts(t, b, 4000)
			for k, want := range tc.want {
				if d := got[k] - want; d < -tc.slack || d > tc.slack {
					t.Errorf("%s picked %d times, want %d±%d: %v", k, got[k], want, tc.slack, got)
				}
			}
		})
	}
}

func TestWeightedRoundRobinContinuesAcrossSameUpdate(t *testing.T) {
	b := NewWeightedRoundRobin(Options{})
	b.Update(weighted(5, 1, 1))
	got := sequence(t, b, 3)
	b.Update(weighted(5, 1, 1))
	got += sequence(t, b, 11)
	if want := "aabacaaaabacaa"; got != want {
		t.Errorf("picks %q, want %q", got, want)
	}
}
