package report

import (
	"fmt"
	"strings"

	"github.com/meshlite/meshlite/bench/workload"
)

// Quick renders `make bench-quick`'s table: latency and added latency per
// workload and topology, the proxies' memory idle and under the load, their
// CPU, and the targets this run can check.
func Quick(res *Results) string {
	var b strings.Builder
	m := res.Meta
	topos := topologyNames(res)
	groups := Aggregate(res.Latency, topos)
	fmt.Fprintf(&b, "# meshlite bench-quick, %s\n\n", m.Date.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "%s, %d cores; kernel %s; %s; meshlite %s.\n", m.CPU, m.Cores, m.Kernel, m.GoVersion, m.Commit)
	fmt.Fprintf(&b, "%d repetition(s) of a %.0f s window after %.0f s warm-up; loadgen open loop, latency corrected for coordinated omission; proxies with %d threads; milliseconds.\n",
		m.Reps, m.WindowS, m.WarmupS, m.Threads)
	fmt.Fprintf(&b, "The machine is shared: %s.\n\n", loadNote(res))

	var rows, cost [][]string
	for _, g := range groups {
		w, _ := workload.Lookup(g.Point.Workload)
		name := w.Name + ", " + g.Point.Label()
		for _, c := range g.Cells {
			rows = append(rows, []string{name, c.Topology, statMS(c.P50), statMS(c.P90), statMS(c.P99), statMS(c.P999), statMS(c.Max),
				addMS(c.AddP50), addMS(c.AddP99), num(c.Achieved.Med, 0), fmt.Sprint(c.Errors)})
			if len(c.Sides) == 0 {
				continue
			}
			cost = append(cost, []string{name, c.Topology, idleRSS(res, c.Topology),
				pair(c.Sides, func(s SideUsage) string { return mb(s.RSSSteady.Med) }),
				pair(c.Sides, func(s SideUsage) string { return mb(s.AnonSteady.Med) }),
				pair(c.Sides, func(s SideUsage) string { return mb(s.RSSPeak.Med) }),
				pair(c.Sides, func(s SideUsage) string { return num(s.CPUPer1k.Med, 3) }),
				pair(c.Sides, func(s SideUsage) string {
					if s.GCPer1k.N == 0 {
						return dash
					}
					return num(s.GCPer1k.Med, 2)
				})})
		}
	}
	table(&b, 2, []string{"workload", "topology", "p50", "p90", "p99", "p99.9", "max", "added p50", "added p99", "achieved RPS", "errors"}, rows)
	for _, w := range workload.Workloads() {
		if note := detectNote(res.Latency, w.Name); note != "" {
			b.WriteString("\n" + w.Name + ": " + note + "\n")
		}
	}
	b.WriteString("\nProxies, client · server (MB = 10^6 bytes; anon = RssAnon, heap and stacks; CPU in seconds per 1000 requests = cores per 1000 RPS):\n\n")
	table(&b, 2, []string{"workload", "topology", "RSS idle MB", "RSS under load MB", "of which anon MB", "RSS peak MB", "CPU per 1000 req", "GC cycles per 1000 req"}, cost)
	b.WriteString("\nTargets this run can check (NOISY: the added latency is clearly negative, so direct's run was disturbed by other load; run again):\n\n")
	var trows [][]string
	for _, t := range Targets(res, groups) {
		if t.Status != NA {
			trows = append(trows, []string{t.Name, t.Goal, t.Got, t.Status})
		}
	}
	table(&b, 3, []string{"target", "goal", "measured", "result"}, trows)
	if len(res.Failures) > 0 {
		b.WriteString("\nFailed runs:\n\n")
		for _, f := range res.Failures {
			fmt.Fprintf(&b, "- %s\n", f)
		}
	}
	return b.String()
}

// idleRSS renders a topology's idle RSS, client · server.
func idleRSS(res *Results, topo string) string {
	var parts []string
	for _, side := range []string{"client", "server"} {
		for _, i := range res.Idle {
			if i.Topology == topo && i.Side == side {
				parts = append(parts, mb(float64(i.RSS)))
			}
		}
	}
	if len(parts) == 0 {
		return dash
	}
	return strings.Join(parts, " · ")
}
