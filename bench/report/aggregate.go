package report

import (
	"math"
	"slices"

	"github.com/meshlite/meshlite/bench/workload"
)

// Stat is the median and spread of repeated measurements.
type Stat struct {
	Med, Min, Max float64
	N             int
}

// StatOf summarises vals; NaNs are ignored. N is 0 when nothing is left.
func StatOf(vals []float64) Stat {
	v := slices.DeleteFunc(slices.Clone(vals), math.IsNaN)
	if len(v) == 0 {
		return Stat{Med: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	slices.Sort(v)
	return Stat{Med: Median(v), Min: v[0], Max: v[len(v)-1], N: len(v)}
}

// Median returns the median of sorted values (the mean of the two middle
// ones for an even count), NaN for none.
func Median(sorted []float64) float64 {
	n := len(sorted)
	switch {
	case n == 0:
		return math.NaN()
	case n%2 == 1:
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// Added returns, for each repetition present in both, the topology's value
// minus direct's, then their Stat: the latency the topology adds, paired
// by repetition so that noise shared by back-to-back runs cancels.
func Added(topo, direct map[int]float64) Stat {
	var d []float64
	for rep, v := range topo {
		if b, ok := direct[rep]; ok {
			d = append(d, v-b)
		}
	}
	return StatOf(d)
}

// SideUsage summarises one side's proxy over the repetitions.
type SideUsage struct {
	Side string
	// CPUPer1k is CPU seconds per 1000 requests, which is also cores per
	// 1000 RPS.
	CPUPer1k Stat
	// RSSSteady and RSSPeak are bytes; AnonSteady is the anonymous part
	// of RSSSteady (heap and stacks, no file pages).
	RSSSteady, RSSPeak, AnonSteady Stat
	// GCPer1k is GC cycles per 1000 requests (N 0 when unknown).
	GCPer1k Stat
}

// Cell is one topology at one load point, over its repetitions.
type Cell struct {
	Topology string
	// Latency percentiles in µs.
	P50, P90, P99, P999, Max Stat
	// Added latency over direct in µs, paired by repetition; N 0 for
	// direct itself or when direct is missing.
	AddP50, AddP90, AddP99, AddP999 Stat
	Achieved                        Stat
	Requests, Errors, Unsent        int64
	Sides                           []SideUsage
	// Curve is the median latency (µs) at each plotted percentile.
	Curve []CurvePoint
	// Samples is the smallest request count of a repetition.
	Samples int64
}

// Group is every topology at one load point.
type Group struct {
	Point workload.Point
	Cells []Cell
}

// Aggregate groups runs by load point (in plan order: the order in which
// points first appear) and, within a point, by topology in the order
// given.
func Aggregate(runs []LatencyRun, topologies []string) []Group {
	var points []workload.Point
	byPoint := map[workload.Point][]LatencyRun{}
	for _, r := range runs {
		if _, ok := byPoint[r.Point]; !ok {
			points = append(points, r.Point)
		}
		byPoint[r.Point] = append(byPoint[r.Point], r)
	}
	var out []Group
	for _, p := range points {
		rs := byPoint[p]
		direct := perRep(rs, "direct")
		g := Group{Point: p}
		for _, t := range topologies {
			var mine []LatencyRun
			for _, r := range rs {
				if r.Topology == t {
					mine = append(mine, r)
				}
			}
			if len(mine) > 0 {
				g.Cells = append(g.Cells, cell(t, mine, direct))
			}
		}
		out = append(out, g)
	}
	return out
}

// perRep maps each repetition of topology t to its runs' latencies.
func perRep(rs []LatencyRun, t string) map[int]LatencyRun {
	m := map[int]LatencyRun{}
	for _, r := range rs {
		if r.Topology == t {
			m[r.Rep] = r
		}
	}
	return m
}

func cell(t string, runs []LatencyRun, direct map[int]LatencyRun) Cell {
	c := Cell{Topology: t, Samples: math.MaxInt64}
	pick := func(f func(Percentiles) float64) (Stat, map[int]float64) {
		var v []float64
		m := map[int]float64{}
		for _, r := range runs {
			v = append(v, f(r.Latency))
			m[r.Rep] = f(r.Latency)
		}
		return StatOf(v), m
	}
	directOf := func(f func(Percentiles) float64) map[int]float64 {
		m := map[int]float64{}
		for rep, r := range direct {
			m[rep] = f(r.Latency)
		}
		return m
	}
	fields := []struct {
		f        func(Percentiles) float64
		val, add *Stat
	}{
		{func(p Percentiles) float64 { return p.P50 }, &c.P50, &c.AddP50},
		{func(p Percentiles) float64 { return p.P90 }, &c.P90, &c.AddP90},
		{func(p Percentiles) float64 { return p.P99 }, &c.P99, &c.AddP99},
		{func(p Percentiles) float64 { return p.P999 }, &c.P999, &c.AddP999},
		{func(p Percentiles) float64 { return p.Max }, &c.Max, nil},
	}
	for _, f := range fields {
		s, reps := pick(f.f)
		*f.val = s
		if f.add != nil {
			*f.add = Stat{Med: math.NaN(), Min: math.NaN(), Max: math.NaN()}
			if t != "direct" {
				*f.add = Added(reps, directOf(f.f))
			}
		}
	}
	var ach []float64
	for _, r := range runs {
		ach = append(ach, r.Achieved)
		c.Requests += r.Requests
		c.Errors += r.Errors
		c.Unsent += r.Unsent
		c.Samples = min(c.Samples, r.Requests-r.Errors)
	}
	c.Achieved = StatOf(ach)
	c.Sides = sides(runs)
	c.Curve = medianCurve(runs)
	return c
}

// sides summarises each proxy side over the runs, client first.
func sides(runs []LatencyRun) []SideUsage {
	var order []string
	for _, r := range runs {
		for _, p := range r.Proxies {
			if !slices.Contains(order, p.Side) {
				order = append(order, p.Side)
			}
		}
	}
	slices.Sort(order) // "client" < "server"
	var out []SideUsage
	for _, side := range order {
		var cpu, steady, peak, anon, gc []float64
		for _, r := range runs {
			for _, p := range r.Proxies {
				if p.Side != side || r.Handled <= 0 {
					continue
				}
				cpu = append(cpu, p.CPUSeconds/r.Handled*1000)
				steady = append(steady, float64(p.RSSSteady))
				peak = append(peak, float64(p.RSSPeak))
				if p.AnonSteady > 0 {
					anon = append(anon, float64(p.AnonSteady))
				}
				if p.GCCycles >= 0 {
					gc = append(gc, p.GCCycles/r.Handled*1000)
				}
			}
		}
		out = append(out, SideUsage{Side: side, CPUPer1k: StatOf(cpu), RSSSteady: StatOf(steady),
			RSSPeak: StatOf(peak), AnonSteady: StatOf(anon), GCPer1k: StatOf(gc)})
	}
	return out
}

// medianCurve is the median, over runs, of the latency at each percentile
// of the first run's curve.
func medianCurve(runs []LatencyRun) []CurvePoint {
	if len(runs) == 0 {
		return nil
	}
	var out []CurvePoint
	for i, pt := range runs[0].Curve {
		var v []float64
		for _, r := range runs {
			if i < len(r.Curve) && r.Curve[i].P == pt.P {
				v = append(v, r.Curve[i].US)
			}
		}
		out = append(out, CurvePoint{P: pt.P, US: StatOf(v).Med})
	}
	return out
}

// Find returns the cell of topology t at point p, if any.
func Find(groups []Group, p workload.Point, t string) (Cell, bool) {
	for _, g := range groups {
		if g.Point != p {
			continue
		}
		for _, c := range g.Cells {
			if c.Topology == t {
				return c, true
			}
		}
	}
	return Cell{}, false
}
