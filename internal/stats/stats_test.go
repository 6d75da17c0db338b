package stats

import (
	"math"
	"testing"
)

func TestQuantile(t *testing.T) {
	h := Histogram{}.add(1, 25).add(10, 75).add(100, 100).add(math.Inf(1), 100)
	for _, tc := range []struct{ q, want float64 }{{0, 0}, {0.25, 1}, {0.5, 5.5}, {0.95, 82}, {1, 100}} {
		if got := h.Quantile(tc.q); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("q%v = %v, want %v", tc.q, got, tc.want)
		}
	}
	// In the +Inf bucket: the highest finite bound.
	if got := (Histogram{}.add(1, 1).add(math.Inf(1), 10)).Quantile(0.99); got != 1 {
		t.Errorf("+Inf bucket: %v", got)
	}
	if !math.IsNaN(Histogram{}.Quantile(0.5)) {
		t.Error("empty histogram has a quantile")
	}
	// A window: after minus before.
	d := h.sub(Histogram{}.add(1, 25).add(10, 25).add(100, 25).add(math.Inf(1), 25))
	if d.Total() != 75 || d.Quantile(0.5) != 7.75 {
		t.Errorf("delta %v: total %v, p50 %v", d, d.Total(), d.Quantile(0.5))
	}
}

func TestShortID(t *testing.T) {
	for in, want := range map[string]string{
		"spiffe://cluster.local/ns/default/sa/web": "default/web",
		"spiffe://cluster.local/ns/default":        "spiffe://cluster.local/ns/default",
		"10.1.2.3":                                 "10.1.2.3",
		"":                                         "",
	} {
		if got := ShortID(in); got != want {
			t.Errorf("ShortID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseSortKey(t *testing.T) {
	for _, k := range SortKeys {
		if got, err := ParseSortKey(string(k)); err != nil || got != k {
			t.Errorf("%s: %v %v", k, got, err)
		}
	}
	if _, err := ParseSortKey("size"); err == nil {
		t.Error("size accepted")
	}
}
