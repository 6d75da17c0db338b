package report_test

import (
	"fmt"

	"github.com/meshlite/meshlite/bench/report"
)

// Added pairs each repetition of a topology with direct's in the same
// round, so a disturbed direct run (rep 2 here) does not make the proxy
// look free.
func ExampleAdded() {
	meshlite := map[int]float64{1: 660, 2: 670, 3: 680} // p99, µs
	direct := map[int]float64{1: 410, 2: 9000, 3: 430}
	s := report.Added(meshlite, direct)
	fmt.Printf("added p99: median %.0f µs, spread %.0f to %.0f µs over %d reps\n", s.Med, s.Min, s.Max, s.N)
	// Output: added p99: median 250 µs, spread -8330 to 250 µs over 3 reps
}

// Nines is the x axis of the latency plot.
func ExampleNines() {
	for _, p := range []float64{50, 90, 99, 99.9} {
		fmt.Printf("p%g → %.2f\n", p, report.Nines(p))
	}
	// Output:
	// p50 → 0.30
	// p90 → 1.00
	// p99 → 2.00
	// p99.9 → 3.00
}
