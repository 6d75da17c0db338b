package fault

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// draw is a Source whose next draw in [0, scale) is exactly k.
type draw uint64

func (d draw) Uint64() uint64 {
	k := uint64(d)
	hi := (k<<32 + scale - 1) / scale // smallest hi with hi*scale>>32 == k
	return hi << 32
}

func delayFault(d time.Duration, pct float64) *destinationv1.Fault {
	return &destinationv1.Fault{Delay: &destinationv1.Fault_Delay{FixedDelay: durationpb.New(d), Percentage: pct}}
}

func abortFault(status, grpc uint32, pct float64) *destinationv1.Fault {
	return &destinationv1.Fault{Abort: &destinationv1.Fault_Abort{HttpStatus: status, GrpcStatus: grpc, Percentage: pct}}
}

func TestCompile(t *testing.T) {
	tests := []struct {
		name    string
		in      *destinationv1.Fault
		wantNil bool
		wantErr bool
	}{
		{"nil", nil, true, false},
		{"empty", &destinationv1.Fault{}, true, false},
		{"zero percent delay", delayFault(time.Second, 0), true, false},
		{"zero delay", delayFault(0, 50), true, false},
		{"delay", delayFault(time.Second, 50), false, false},
		{"abort", abortFault(503, 0, 100), false, false},
		{"grpc only", abortFault(0, 14, 100), false, false},
		{"no status", abortFault(0, 0, 100), false, true},
		{"bad status", abortFault(700, 0, 100), false, true},
		{"status 199", abortFault(199, 0, 100), false, true},
		{"bad grpc", abortFault(0, 17, 100), false, true},
		{"over 100", abortFault(503, 0, 100.5), false, true},
		{"negative", delayFault(time.Second, -1), false, true},
		{"nan", delayFault(time.Second, math.NaN()), false, true},
		{"negative delay", delayFault(-time.Second, 10), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Compile(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("err %v does not wrap ErrInvalid", err)
			}
			if !tt.wantErr && (f == nil) != tt.wantNil {
				t.Errorf("fault = %v, want nil %v", f, tt.wantNil)
			}
		})
	}
}

func TestDecideBoundaries(t *testing.T) {
	tests := []struct {
		name   string
		pct    float64
		draw   uint64
		inject bool
	}{
		{"0.001% hits draw 0", 0.001, 0, true},
		{"0.001% misses draw 1", 0.001, 1, false},
		{"12.345% hits 12344", 12.345, 12344, true},
		{"12.345% misses 12345", 12.345, 12345, false},
		{"rounds to 3 decimals", 12.3455, 12345, true},
		{"100% hits the last draw", 100, scale - 1, true},
		{"50% misses 50000", 50, 50000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Compile(&destinationv1.Fault{
				Delay: &destinationv1.Fault_Delay{FixedDelay: durationpb.New(time.Second), Percentage: tt.pct},
				Abort: &destinationv1.Fault_Abort{HttpStatus: 500, GrpcStatus: 14, Percentage: tt.pct},
			})
			if err != nil {
				t.Fatal(err)
			}
			delay, status, grpc := f.Decide(draw(tt.draw))
			if got := delay == time.Second; got != tt.inject {
				t.Errorf("delayed = %v, want %v", got, tt.inject)
			}
			if got := status == 500 && grpc == 14; got != tt.inject {
				t.Errorf("aborted = %v (%d, %d), want %v", got, status, grpc, tt.inject)
			}
		})
	}
}

func TestDecideNil(t *testing.T) {
	var f *Fault
	if d, s, g := f.Decide(nil); d != 0 || s != 0 || g != 0 {
		t.Fatalf("nil fault decided %v %d %d", d, s, g)
	}
}

func TestGRPCOnlyAbort(t *testing.T) {
	f, err := Compile(abortFault(0, 14, 100))
	if err != nil {
		t.Fatal(err)
	}
	if _, s, g := f.Decide(nil); s != DefaultAbortStatus || g != 14 {
		t.Fatalf("Decide = %d, %d; want %d, 14", s, g, DefaultAbortStatus)
	}
}

// TestDistribution checks the rate over many draws from a seeded source:
// deterministic, and independent draws for delay and abort.
func TestDistribution(t *testing.T) {
	f, err := Compile(&destinationv1.Fault{
		Delay: &destinationv1.Fault_Delay{FixedDelay: durationpb.New(time.Millisecond), Percentage: 25},
		Abort: &destinationv1.Fault_Abort{HttpStatus: 503, Percentage: 10},
	})
	if err != nil {
		t.Fatal(err)
	}
	src := rand.NewPCG(1, 2)
	const n = 200_000
	var delayed, aborted, both int
	for range n {
		d, s, _ := f.Decide(src)
		if d > 0 {
			delayed++
		}
		if s > 0 {
			aborted++
		}
		if d > 0 && s > 0 {
			both++
		}
	}
	check := func(name string, got int, want float64) {
		if r := float64(got) / n; math.Abs(r-want) > 0.005 {
			t.Errorf("%s rate %.4f, want %.4f", name, r, want)
		}
	}
	check("delay", delayed, 0.25)
	check("abort", aborted, 0.10)
	check("both", both, 0.025)
}

func TestAccessors(t *testing.T) {
	f, _ := Compile(&destinationv1.Fault{
		Delay: &destinationv1.Fault_Delay{FixedDelay: durationpb.New(time.Second), Percentage: 1.5},
		Abort: &destinationv1.Fault_Abort{HttpStatus: 429, Percentage: 0.25},
	})
	if d, p := f.Delay(); d != time.Second || p != 1.5 {
		t.Errorf("Delay() = %v, %v", d, p)
	}
	if s, g, p := f.Abort(); s != 429 || g != 0 || p != 0.25 {
		t.Errorf("Abort() = %d, %d, %v", s, g, p)
	}
}

func BenchmarkDecide(b *testing.B) {
	f, _ := Compile(&destinationv1.Fault{
		Delay: &destinationv1.Fault_Delay{FixedDelay: durationpb.New(time.Second), Percentage: 1},
		Abort: &destinationv1.Fault_Abort{HttpStatus: 503, Percentage: 1},
	})
	b.ReportAllocs()
	for b.Loop() {
		f.Decide(nil)
	}
}
