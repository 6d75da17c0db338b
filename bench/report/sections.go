package report

import (
	"fmt"
	"strings"
)

func writeThroughput(b *strings.Builder, res *Results) {
	if len(res.Throughput) == 0 {
		return
	}
	b.WriteString("## Maximum throughput\n\n")
	b.WriteString("Closed loop, one run each. wrk: HTTP/1.1, 1 thread, 64 connections; h2load: h2c, 1 thread, 4 connections × 16 streams; iperf3: one TCP stream, Gbit/s received. " +
		"*vs direct* is the share of direct's figure. CPU is per 1000 requests (per GB for iperf3), client · server.\n\n")
	tools := []struct{ tool, unit string }{{"wrk", "req/s"}, {"h2load", "req/s"}, {"iperf3", "Gbit/s"}}
	header := []string{"topology"}
	for _, t := range tools {
		header = append(header, t.tool+" "+t.unit, "vs direct", "errors", "CPU (c · s)")
	}
	var rows [][]string
	for _, topo := range topologyNames(res) {
		row := []string{topo}
		any := false
		for _, t := range tools {
			r, ok := findThroughput(res, topo, t.tool)
			if !ok {
				row = append(row, dash, dash, dash, dash)
				continue
			}
			any = true
			scale, prec, per := 1.0, 0, 1000.0
			if t.tool == "iperf3" {
				scale, prec, per = 1e-9, 2, 1e9 // bytes → per GB
			}
			share := dash
			if d, ok := findThroughput(res, "direct", t.tool); ok && d.Rate > 0 {
				share = fmt.Sprintf("%.0f %%", r.Rate/d.Rate*100)
			}
			cpu := dash
			if len(r.Proxies) > 0 && r.Requests > 0 {
				parts := make([]string, len(r.Proxies))
				for i, p := range r.Proxies {
					parts[i] = num(p.CPUSeconds/r.Requests*per, 3)
				}
				cpu = strings.Join(parts, " · ")
			}
			row = append(row, num(r.Rate*scale, prec), share, fmt.Sprint(r.Errors), cpu)
		}
		if any {
			rows = append(rows, row)
		}
	}
	table(b, 1, header, rows)
	b.WriteString("\niperf3's *errors* column is TCP retransmits.\n\n")
}

func findThroughput(res *Results, topo, tool string) (ThroughputRun, bool) {
	for _, r := range res.Throughput {
		if r.Topology == topo && r.Tool == tool {
			return r, true
		}
	}
	return ThroughputRun{}, false
}

func writeFortio(b *strings.Builder, res *Results) {
	if len(res.Fortio) == 0 {
		return
	}
	f0 := res.Fortio[0]
	fmt.Fprintf(b, "## Fortio, for comparison with Istio's published numbers\n\n"+
		"fortio 1.68.2 `load -qps %g -c %d`, HTTP/1.1 keep-alive, one run per topology. Fortio paces each connection and does not correct for coordinated omission, "+
		"so its tail is lower than loadgen's at the same load; compare fortio with fortio. Milliseconds.\n\n", f0.QPS, f0.Conns)
	var d *FortioRun
	for i := range res.Fortio {
		if res.Fortio[i].Topology == "direct" {
			d = &res.Fortio[i]
		}
	}
	var rows [][]string
	for _, topo := range topologyNames(res) {
		for _, f := range res.Fortio {
			if f.Topology != topo {
				continue
			}
			a50, a90, a99 := dash, dash, dash
			if d != nil && topo != "direct" {
				a50, a90, a99 = signed((f.P50-d.P50)/1000, 3), signed((f.P90-d.P90)/1000, 3), signed((f.P99-d.P99)/1000, 3)
			}
			rows = append(rows, []string{topo, num(f.ActualQPS, 0), ms(f.P50), ms(f.P90), ms(f.P99), ms(f.P999), ms(f.Max),
				a50, a90, a99, fmt.Sprint(f.Errors)})
		}
	}
	table(b, 1, []string{"topology", "QPS", "p50", "p90", "p99", "p99.9", "max", "added p50", "added p90", "added p99", "errors"}, rows)
	b.WriteString("\n")
}

func writeIdle(b *strings.Builder, res *Results, groups []Group) {
	if len(res.Idle) == 0 {
		return
	}
	b.WriteString("## Proxy memory, idle and under load\n\n")
	b.WriteString("MB (10^6 bytes), client · server. *Idle* is right after start-up and one request of each protocol; *under load* is " + TargetPoint.Label() + " HTTP/1.1 (median over repetitions). " +
		"*anon* is RssAnon, the heap and stacks; the rest of RSS is mostly the executable's own pages, so it grows with the binary.\n\n")
	var rows [][]string
	for _, topo := range topologyNames(res) {
		var idle []SideUsage
		for _, i := range res.Idle {
			if i.Topology == topo {
				idle = append(idle, SideUsage{Side: i.Side, RSSSteady: Stat{Med: float64(i.RSS), N: 1},
					RSSPeak: Stat{Med: float64(i.Peak), N: 1}, AnonSteady: Stat{Med: float64(i.Anon), N: 1}})
			}
		}
		if len(idle) == 0 {
			continue
		}
		steady, anon, peak := dash, dash, dash
		if c, ok := Find(groups, TargetPoint, topo); ok && len(c.Sides) > 0 {
			steady = pair(c.Sides, func(s SideUsage) string { return mb(s.RSSSteady.Med) })
			anon = pair(c.Sides, func(s SideUsage) string { return mb(s.AnonSteady.Med) })
			peak = pair(c.Sides, func(s SideUsage) string { return mb(s.RSSPeak.Med) })
		}
		rows = append(rows, []string{topo, pair(idle, func(s SideUsage) string { return mb(s.RSSSteady.Med) }),
			pair(idle, func(s SideUsage) string { return mb(s.AnonSteady.Med) }), steady, anon, peak})
	}
	table(b, 1, []string{"topology", "idle RSS", "idle anon", "RSS under load (steady)", "anon under load", "RSS under load (peak)"}, rows)
	b.WriteString("\n")
}

// leftOut closes the report: what it does not (yet) measure.
const leftOut = `## Not measured here

- **TLS handshakes and certificate rotation**: every mTLS pair reuses its HTTP connections between the pods (meshlite: one HTTP/2 connection per endpoint; HAProxy ` + "`http-reuse always`" + `; nginx upstream keep-alive), and the TCP workloads keep their connections, so even the churn workload pays for few TLS handshakes between the proxies; meshlite-mtls's certificates are not renewed during a run, and the identity service's own cost is not counted.
- Multiple cores per proxy under contention, NUMA, real NICs: everything runs on one 2-core VM over veth pairs, so absolute numbers are this machine's; compare rows, not machines.
- Large bodies, request bodies, streaming gRPC, HTTP/1 upgrades and WebSocket; many distinct destinations (the proxies' pools and detection memo see one backend).
- meshlite's access log is off (` + "`--access-log=false`" + `), as HAProxy and nginx have no logging configured; with it on, each request also costs one JSON line.
`
