package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/meshlite/meshlite/bench/workload"
)

// TargetPoint is the load at which the latency, memory and CPU targets are
// read, and whose latency curve is plotted.
var TargetPoint = workload.Point{Workload: workload.HTTP1, Rate: 1000, Conns: 16, Streams: 1}

// Target limits.
const (
	maxAddedP99US   = 300  // µs
	maxRSSBytes     = 20e6 // 20 MB
	maxCPUPer1k     = 0.1  // cores per 1000 RPS = CPU s per 1000 requests
	minBulkFraction = 0.5  // of direct
	meshlite        = "meshlite"
	meshliteMTLS    = "meshlite-mtls"
	direct          = "direct"
)

// mtlsPeers are the pairs the meshlite pair with mTLS must beat.
var mtlsPeers = []string{"haproxy-mtls", "nginx-mtls"}

// Status of a target.
const (
	Pass = "PASS"
	Fail = "FAIL"
	NA   = "n/a"
	// Noisy means the measurement says a proxy pair was faster than no
	// proxy at all, which only a disturbed direct run can produce.
	Noisy = "NOISY"
)

// noiseFloorUS is how far below zero an added latency may fall before it
// is taken as a sign of a disturbed run rather than measurement jitter.
const noiseFloorUS = -50

// Target is one goal and how this run did against it.
type Target struct {
	Name, Goal, Got, Status string
}

func verdict(ok bool) string {
	if ok {
		return Pass
	}
	return Fail
}

// meshlitePair names the two meshlite topologies in target names.
var meshlitePair = map[string]string{meshliteMTLS: "mTLS pair", meshlite: "plaintext pair"}

// Targets checks meshlite against the project's goals. The latency goals
// are the meshlite pair's with mutual TLS (meshlite-mtls), against
// HAProxy's and nginx's mTLS pairs; the plaintext pair's added latency
// follows for reference. Memory, CPU and bulk throughput are checked on
// both pairs, mTLS first. A target whose measurement is missing from this
// run is n/a.
func Targets(res *Results, groups []Group) []Target {
	at := " (" + TargetPoint.Label() + ", HTTP/1.1)"
	out := []Target{
		addedP99Target(groups, meshliteMTLS, "added p99 latency of the meshlite pair with mTLS"+at),
		belowPeersTarget(groups, meshliteMTLS, "added p99 of the meshlite pair with mTLS below HAProxy's and nginx's mTLS pairs"+at),
		addedP99Target(groups, meshlite, "added p99 latency of the plaintext meshlite pair, for reference"+at),
	}
	for _, topo := range []string{meshliteMTLS, meshlite} {
		out = append(out, rssTarget(groups, topo, "RSS of each meshlite proxy, "+meshlitePair[topo]+at))
	}
	for _, topo := range []string{meshliteMTLS, meshlite} {
		out = append(out, cpuTarget(groups, topo, "CPU of each meshlite proxy, "+meshlitePair[topo]+at))
	}
	for _, topo := range []string{meshliteMTLS, meshlite} {
		out = append(out, bulkTarget(res, topo, "opaque TCP bulk throughput, meshlite "+meshlitePair[topo]+" (iperf3, one stream)"))
	}
	return out
}

// addedP99Target: topo's added p99 at the target point under 0.3 ms.
func addedP99Target(groups []Group, topo, name string) Target {
	t := Target{Name: name, Goal: "< 0.300 ms", Status: NA, Got: dash}
	cell, ok := Find(groups, TargetPoint, topo)
	if !ok || cell.AddP99.N == 0 {
		return t
	}
	t.Got = addMSSpread(cell.AddP99) + " ms"
	t.Status = verdict(cell.AddP99.Med < maxAddedP99US)
	if cell.AddP99.Med < noiseFloorUS {
		t.Status = Noisy
	}
	return t
}

// belowPeersTarget: topo's added p99 below every mTLS peer's that ran.
func belowPeersTarget(groups []Group, topo, name string) Target {
	t := Target{Name: name, Goal: topo + " < " + strings.Join(mtlsPeers, ", "), Status: NA, Got: dash}
	cell, ok := Find(groups, TargetPoint, topo)
	if !ok || cell.AddP99.N == 0 {
		return t
	}
	var got []string
	pass, seen := true, 0
	for _, peer := range mtlsPeers {
		pc, found := Find(groups, TargetPoint, peer)
		if !found || pc.AddP99.N == 0 {
			continue
		}
		seen++
		got = append(got, fmt.Sprintf("%s %s", peer, addMS(pc.AddP99)))
		pass = pass && cell.AddP99.Med < pc.AddP99.Med
	}
	if seen == 0 {
		return t
	}
	t.Got = fmt.Sprintf("%s %s vs %s ms", topo, addMS(cell.AddP99), strings.Join(got, ", "))
	t.Status = verdict(pass)
	if cell.AddP99.Med < noiseFloorUS {
		t.Status = Noisy
	}
	return t
}

// rssTarget: the peak RSS of each of topo's proxies at the target point.
func rssTarget(groups []Group, topo, name string) Target {
	t := Target{Name: name, Goal: "< 20 MB (peak)", Status: NA, Got: dash}
	cell, ok := Find(groups, TargetPoint, topo)
	if !ok || len(cell.Sides) == 0 {
		return t
	}
	worst := worstSide(cell.Sides, func(s SideUsage) float64 { return s.RSSPeak.Med })
	t.Got = "peak " + pair(cell.Sides, func(s SideUsage) string { return mb(s.RSSPeak.Med) }) +
		" MB, steady " + pair(cell.Sides, func(s SideUsage) string { return mb(s.RSSSteady.Med) }) +
		" MB, of which anonymous (heap, stacks) " + pair(cell.Sides, func(s SideUsage) string { return mb(s.AnonSteady.Med) }) + " MB (client · server)"
	t.Status = verdict(worst < maxRSSBytes)
	return t
}

// worstSide is the largest of v over the sides.
func worstSide(sides []SideUsage, v func(SideUsage) float64) float64 {
	worst := 0.0
	for _, s := range sides {
		worst = math.Max(worst, v(s))
	}
	return worst
}

// cpuTarget: the CPU per 1000 requests of each of topo's proxies at the
// target point.
func cpuTarget(groups []Group, topo, name string) Target {
	t := Target{Name: name, Goal: "< 0.1 core per 1000 RPS", Status: NA, Got: dash}
	cell, ok := Find(groups, TargetPoint, topo)
	if !ok || len(cell.Sides) == 0 {
		return t
	}
	worst := worstSide(cell.Sides, func(s SideUsage) float64 { return s.CPUPer1k.Med })
	t.Got = pair(cell.Sides, func(s SideUsage) string { return num(s.CPUPer1k.Med, 3) }) + " core per 1000 RPS (client · server)"
	t.Status = verdict(worst < maxCPUPer1k)
	return t
}

// bulkTarget: topo's iperf3 rate as a share of direct's.
func bulkTarget(res *Results, topo, name string) Target {
	t := Target{Name: name, Goal: "≥ 50 % of direct", Status: NA, Got: dash}
	d, m := throughput(res, direct, "iperf3"), throughput(res, topo, "iperf3")
	if d.N > 0 && m.N > 0 && d.Med > 0 {
		frac := m.Med / d.Med
		t.Got = fmt.Sprintf("%.0f %% (%s of %s Gbit/s)", frac*100, num(m.Med/1e9, 2), num(d.Med/1e9, 2))
		t.Status = verdict(frac >= minBulkFraction)
	}
	return t
}

// throughput returns the Stat of a tool's rate on a topology.
func throughput(res *Results, topo, tool string) Stat {
	var v []float64
	for _, r := range res.Throughput {
		if r.Topology == topo && r.Tool == tool {
			v = append(v, r.Rate)
		}
	}
	return StatOf(v)
}
