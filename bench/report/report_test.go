package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/meshlite/meshlite/bench/workload"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it); got:\n%s", path, got)
	}
}

func TestMarkdownGolden(t *testing.T) { golden(t, "RESULTS.golden.md", Markdown(fixture())) }

func TestQuickGolden(t *testing.T) { golden(t, "quick.golden.md", Quick(fixture())) }

// TestRenderAfterJSON checks that results.json holds everything the report
// needs: `meshbench -render` gives the same report as the run did.
func TestRenderAfterJSON(t *testing.T) {
	res := fixture()
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back Results
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if Markdown(&back) != Markdown(res) {
		t.Error("the report rendered from JSON differs from the original")
	}
}

func TestMedianAndStat(t *testing.T) {
	cases := []struct {
		in            []float64
		med, min, max float64
		n             int
	}{
		{[]float64{3, 1, 2}, 2, 1, 3, 3},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4, 4},
		{[]float64{7}, 7, 7, 7, 1},
		{[]float64{math.NaN(), 5, 1}, 3, 1, 5, 2},
	}
	for _, c := range cases {
		s := StatOf(c.in)
		if s.Med != c.med || s.Min != c.min || s.Max != c.max || s.N != c.n {
			t.Errorf("StatOf(%v) = %+v", c.in, s)
		}
	}
	if s := StatOf(nil); s.N != 0 || !math.IsNaN(s.Med) {
		t.Errorf("StatOf(nil) = %+v, want N 0 and NaN", s)
	}
}

func TestAddedPairsByRep(t *testing.T) {
	topo := map[int]float64{1: 10, 2: 20, 3: 30, 4: 99}
	direct := map[int]float64{1: 5, 2: 25, 3: 10}
	s := Added(topo, direct) // 5, -5, 20; rep 4 has no direct
	if s.Med != 5 || s.Min != -5 || s.Max != 20 || s.N != 3 {
		t.Errorf("Added = %+v, want med 5, min -5, max 20 over 3", s)
	}
}

func TestAggregate(t *testing.T) {
	res := fixture()
	groups := Aggregate(res.Latency, topologyNames(res))
	if len(groups) != 3 || groups[0].Point != TargetPoint {
		t.Fatalf("groups: %d, first %+v; want 3, the target point first", len(groups), groups[0].Point)
	}
	m, ok := Find(groups, TargetPoint, "meshlite")
	if !ok {
		t.Fatal("no meshlite cell")
	}
	// p50: 360, 370, 380 → 370; direct 110, 120, 130 → added 250 each.
	if m.P50.Med != 370 || m.AddP50.Med != 250 || m.AddP50.Min != 250 {
		t.Errorf("meshlite p50 %+v added %+v", m.P50, m.AddP50)
	}
	// p99 added: 660-410, 670-9000, 680-430 → 250, -8330, 250: the spike
	// in direct's rep 2 does not move the median.
	if m.AddP99.Med != 250 || m.AddP99.Min != -8330 {
		t.Errorf("meshlite added p99 %+v", m.AddP99)
	}
	if len(m.Sides) != 2 || m.Sides[0].Side != "client" {
		t.Fatalf("sides %+v", m.Sides)
	}
	// 0.9 CPU s over 6000 requests = 0.15 s per 1000.
	if got := m.Sides[0].CPUPer1k.Med; math.Abs(got-0.15) > 1e-12 {
		t.Errorf("client CPU per 1000 = %v, want 0.15", got)
	}
	if got := m.Sides[0].GCPer1k.Med; got != 2 {
		t.Errorf("client GC per 1000 = %v, want 2", got)
	}
	d, _ := Find(groups, TargetPoint, "direct")
	if d.AddP50.N != 0 || len(d.Sides) != 0 {
		t.Errorf("direct has added latency %+v or proxies %+v", d.AddP50, d.Sides)
	}
	if n, _ := Find(groups, TargetPoint, "nginx-mtls"); n.Errors != 2 || n.Unsent != 1 {
		t.Errorf("nginx errors %d unsent %d", n.Errors, n.Unsent)
	}
	if len(m.Curve) != 7 || m.Curve[1] != (CurvePoint{P: 50, US: 370}) {
		t.Errorf("median curve %+v", m.Curve)
	}
}

func TestTargets(t *testing.T) {
	res := fixture()
	got := Targets(res, Aggregate(res.Latency, topologyNames(res)))
	// latency mTLS, mTLS below peers, plaintext latency (reference);
	// RSS, CPU and bulk of the mTLS then the plaintext pair.
	want := []string{Pass, Pass, Pass, Fail, Pass, Pass, Fail, Fail, Pass}
	if len(got) != len(want) {
		t.Fatalf("%d targets, want %d", len(got), len(want))
	}
	for i, tg := range got {
		if tg.Status != want[i] {
			t.Errorf("target %q: %s (%s), want %s", tg.Name, tg.Status, tg.Got, want[i])
		}
	}
	// The latency goals are read on meshlite-mtls: p99 700, 710, 720 µs
	// against direct's 410, 9000, 430 adds 290 µs (median).
	for i, w := range []string{
		"+0.290 (-8.290…+0.290) ms",
		"meshlite-mtls +0.290 vs haproxy-mtls +0.400, nginx-mtls +0.500 ms",
		"+0.250 (-8.330…+0.250) ms",
		"30 % (6.00 of 20.00 Gbit/s)",
	} {
		idx := []int{0, 1, 2, 7}[i]
		if got[idx].Got != w {
			t.Errorf("target %q measured %q, want %q", got[idx].Name, got[idx].Got, w)
		}
	}
	// A pair "faster" than direct at p99 means a disturbed direct run.
	noisy := fixture()
	for i := range noisy.Latency {
		if noisy.Latency[i].Topology == "direct" {
			noisy.Latency[i].Latency.P99 = 50_000
		}
	}
	got = Targets(noisy, Aggregate(noisy.Latency, topologyNames(noisy)))
	for _, i := range []int{0, 1, 2} {
		if got[i].Status != Noisy {
			t.Errorf("disturbed direct: %q is %s, want %s", got[i].Name, got[i].Status, Noisy)
		}
	}
	// Without meshlite-mtls, its targets are n/a; the plaintext pair's
	// are still read.
	plain := fixture()
	plain.Latency = slices.DeleteFunc(plain.Latency, func(r LatencyRun) bool { return r.Topology == "meshlite-mtls" })
	got = Targets(plain, Aggregate(plain.Latency, topologyNames(plain)))
	for i, w := range []string{NA, NA, Pass, NA, Pass, NA, Fail} {
		if got[i].Status != w {
			t.Errorf("without meshlite-mtls: %q is %s, want %s", got[i].Name, got[i].Status, w)
		}
	}
	// Without peers or iperf3, those targets are n/a, not failures.
	res.Throughput = nil
	res.Latency = res.Latency[:0:0]
	for _, tg := range Targets(res, nil) {
		if tg.Status != NA {
			t.Errorf("target %q on an empty run: %s", tg.Name, tg.Status)
		}
	}
}

func TestFormat(t *testing.T) {
	cases := map[string]string{
		statMS(Stat{Med: 412.3, Min: 401, Max: 450, N: 3}):     "0.412 (0.401–0.450)",
		statMS(Stat{Med: 412.3, Min: 412.3, Max: 412.3, N: 1}): "0.412",
		statMS(Stat{N: 0}):                                  dash,
		addMS(Stat{Med: -0.2, N: 2}):                        "0.000",
		addMS(Stat{Med: 1234, N: 2}):                        "+1.234",
		addMSSpread(Stat{Med: 50, Min: -20, Max: 90, N: 3}): "+0.050 (-0.020…+0.090)",
		mb(17_900_000):                                      "17.9",
		mb(math.NaN()):                                      dash,
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestNines(t *testing.T) {
	for p, want := range map[float64]float64{0: 0, 90: 1, 99: 2, 99.9: 3, 99.99: 4} {
		if got := Nines(p); math.Abs(got-want) > 1e-9 {
			t.Errorf("Nines(%v) = %v, want %v", p, got, want)
		}
	}
}

func TestCurveSeries(t *testing.T) {
	names, series := CurveSeries(fixture(), TargetPoint)
	if len(names) != 5 || names[1] != "meshlite" || names[2] != "meshlite-mtls" {
		t.Fatalf("names %v", names)
	}
	// 5000 samples: 99.99 (1 in 10000) and 100 are left out.
	if n := len(series[1]); n != 5 {
		t.Errorf("%d points, want 5 (0, 50, 90, 99, 99.9)", n)
	}
	if series[1][1].X != Nines(50) || series[1][1].Y != 0.37 {
		t.Errorf("point %+v, want (nines(50), 0.37 ms)", series[1][1])
	}
}

func TestWritePlot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latency.png")
	if err := WritePlot(fixture(), TargetPoint, path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Error("not a PNG")
	}
	other := workload.Point{Workload: workload.GRPC, Rate: 1, Conns: 1, Streams: 1}
	if err := WritePlot(fixture(), other, path); err == nil {
		t.Error("plot of a point without runs: want an error")
	}
}
