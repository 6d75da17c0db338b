package balance

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

var allKinds = []string{KindPeakEWMA, KindLeastRequest, KindRoundRobin, KindWeightedRoundRobin, KindRandom}

// eachBalancer runs f for every kind, bare and inside failure accrual.
func eachBalancer(t *testing.T, f func(t *testing.T, b Balancer)) {
	for _, kind := range allKinds {
		for _, bare := range []bool{true, false} {
			name := kind + "/accrual"
			if bare {
				name = kind + "/bare"
			}
			t.Run(name, func(t *testing.T) {
				b, err := New(kind, Options{NoFailureAccrual: bare})
				if err != nil {
					t.Fatal(err)
				}
				f(t, b)
			})
		}
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		kind string
		want Balancer
	}{
		{"", (*PeakEWMA)(nil)},
		{"peak-ewma", (*PeakEWMA)(nil)},
		{"least-request", (*LeastRequest)(nil)},
		{"least-conn", (*LeastRequest)(nil)},
		{"LEAST_CONN", (*LeastRequest)(nil)},
		{"LEAST_REQUEST", (*LeastRequest)(nil)},
		{"round-robin", (*RoundRobin)(nil)},
		{" ROUND_ROBIN ", (*RoundRobin)(nil)},
		{"weighted-round-robin", (*WeightedRoundRobin)(nil)},
		{"random", (*Random)(nil)},
		{"RANDOM", (*Random)(nil)},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			b, err := New(tc.kind, Options{NoFailureAccrual: true})
			if err != nil {
				t.Fatalf("New(%q): %v", tc.kind, err)
			}
			if reflect.TypeOf(b) != reflect.TypeOf(tc.want) {
				t.Errorf("New(%q) is %T, want %T", tc.kind, b, tc.want)
			}
			b, _ = New(tc.kind, Options{})
			if _, ok := b.(*FailureAccrual); !ok {
				t.Errorf("New(%q) with default options is %T, want *FailureAccrual", tc.kind, b)
			}
		})
	}
	for _, bad := range []string{"p2c", "roundrobin", "least", "ring-hash"} {
		t.Run(bad, func(t *testing.T) {
			_, err := New(bad, Options{})
			if !errors.Is(err, ErrUnknownKind) {
				t.Fatalf("New(%q) error %v, want ErrUnknownKind", bad, err)
			}
			if !strings.Contains(err.Error(), `"`+bad+`"`) || !strings.Contains(err.Error(), KindPeakEWMA) {
				t.Errorf("New(%q) error %q should name the input and the choices", bad, err)
			}
		})
	}
}

func TestNoEndpoints(t *testing.T) {
	eachBalancer(t, func(t *testing.T, b Balancer) {
		ctx := context.Background()
		if _, err := b.Pick(ctx); !errors.Is(err, ErrNoEndpoints) {
			t.Errorf("Pick before Update: %v, want ErrNoEndpoints", err)
		}
		b.Update(eps("a"))
		if _, err := b.Pick(ctx); err != nil {
			t.Errorf("Pick with one endpoint: %v", err)
		}
		b.Update(nil)
		if _, err := b.Pick(ctx); !errors.Is(err, ErrNoEndpoints) {
			t.Errorf("Pick after Update(nil): %v, want ErrNoEndpoints", err)
		}
	})
}

func TestRemovedEndpoint(t *testing.T) {
	eachBalancer(t, func(t *testing.T, b Balancer) {
		b.Update(eps("a", "b"))
		var held []Pick
		for range 10 {
			held = append(held, pick(t, b))
		}
		b.Update(eps("b", "c"))
		for _, p := range held { // Done for removed endpoints: harmless
			p.Done(Result{Err: errRefused})
		}
		if got := counts(t, b, 100); got["a"] != 0 {
			t.Errorf("removed endpoint picked: %v", got)
		}
		b.Update(eps("a", "b", "c"))
		if got := counts(t, b, 300); got["a"] == 0 {
			t.Errorf("re-added endpoint not picked: %v", got)
		}
	})
}

func TestNormalize(t *testing.T) {
	ap := netip.MustParseAddrPort("10.0.0.5:8080")
	got := normalize([]Endpoint{
		{Addr: ap},
		{Key: "x", Weight: 3},
		{Key: "x", Weight: 9}, // duplicate: dropped
		{Key: "10.0.0.5:8080", Weight: 2},
	})
	want := []Endpoint{{Key: "10.0.0.5:8080", Addr: ap, Weight: 1}, {Key: "x", Weight: 3}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("normalize:\n got %+v\nwant %+v", got, want)
	}
}

func TestZeroPick(t *testing.T) {
	var p Pick
	p.Done(Result{})
	if !reflect.DeepEqual(p.Endpoint(), Endpoint{}) {
		t.Errorf("zero Pick has endpoint %+v", p.Endpoint())
	}
	var got Result
	p = NewPick(endpoint("a", 1), func(r Result) { got = r })
	p.Done(Result{Failure: true})
	if p.Endpoint().Key != "a" || !got.Failure {
		t.Errorf("NewPick: endpoint %q, done got %+v", p.Endpoint().Key, got)
	}
}
