package balance

import (
	"math/rand/v2"
	"testing"
)

func TestRandomShares(t *testing.T) {
	for _, tc := range []struct {
		name string
		eps  []Endpoint
		want map[string]float64
	}{
		{"weighted 3:1", weighted(3, 1), map[string]float64{"a": 0.75, "b": 0.25}},
		{"weighted 1:2:5", weighted(1, 2, 5), map[string]float64{"a": 0.125, "b": 0.25, "c": 0.625}},
		{"uniform", eps("a", "b", "c", "d"), map[string]float64{"a": 0.25, "b": 0.25, "c": 0.25, "d": 0.25}},
		{"zero weight is one", weighted(0, 1), map[string]float64{"a": 0.5, "b": 0.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewRandom(Options{Rand: rand.NewPCG(9, 10)})
			b.Update(tc.eps)
			got := counts(t, b, 40_000)
			for k, want := range tc.want {
				if s := share(got, k); s < want*0.97 || s > want*1.03 {
					t.Errorf("%s got %.2f%%, want %.2f%% ±3%%: %v", k, 100*s, 100*want, got)
				}
			}
		})
	}
}

func TestRandomWeightUpdate(t *testing.T) {
	b := NewRandom(Options{Rand: rand.NewPCG(11, 12)})
	b.Update(weighted(3, 1))
	b.Update(weighted(1, 3))
	if s := share(counts(t, b, 40_000), "b"); s < 0.75*0.97 || s > 0.75*1.03 {
		t.Errorf("b got %.2f%% after reweighting to 1:3, want 75%%", 100*s)
	}
}
