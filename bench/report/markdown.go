package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/meshlite/meshlite/bench/workload"
)

// Markdown renders the full report, bench/RESULTS.md.
func Markdown(res *Results) string {
	var b strings.Builder
	topos := topologyNames(res)
	groups := Aggregate(res.Latency, topos)
	m := res.Meta

	b.WriteString("# meshlite benchmark results\n\n")
	fmt.Fprintf(&b, "Written by `%s` (bench/cmd/meshbench) on %s, in %.0f minutes. ", m.Command, m.Date.UTC().Format("2006-01-02 15:04 MST"), m.DurationS/60)
	b.WriteString("Raw JSON of every run is in `bench/out/` (not committed); `go run ./bench/cmd/meshbench -render` re-renders this file from `bench/out/results.json`.\n\n")

	writeMachine(&b, res)
	writeMethod(&b, res)
	writeTopologies(&b, res)

	b.WriteString("## Targets\n\n")
	b.WriteString("Read at " + TargetPoint.Label() + " (HTTP/1.1) unless stated; medians over the repetitions, spread in parentheses. " +
		"The latency goals are the meshlite pair's with mutual TLS (`meshlite-mtls`), which pays for mTLS as the HAProxy and nginx pairs do; the plaintext pair's added latency is there for reference. " +
		"**NOISY** marks a latency target whose added latency came out clearly negative: no proxy pair is faster than no proxy, so direct's runs were disturbed by other load on the machine and the comparison says nothing.\n\n")
	var rows [][]string
	for _, t := range Targets(res, groups) {
		rows = append(rows, []string{t.Name, t.Goal, t.Got, "**" + t.Status + "**"})
	}
	table(&b, 3, []string{"target", "goal", "measured", "result"}, rows)
	b.WriteString("\n![latency by percentile](latency.png)\n\n")

	b.WriteString("## Latency at fixed rates\n\n")
	b.WriteString("Milliseconds, corrected for coordinated omission (measured from each request's scheduled send time). " +
		"Each cell is the median over the repetitions with the min–max spread; *added* is the topology's latency minus direct's at the same percentile, " +
		"paired repetition by repetition (direct ran in the same round, seconds apart) and then the median taken.\n\n")
	for _, w := range workload.Workloads() {
		writeWorkload(&b, w, groups, res.Latency)
	}
	writeThroughput(&b, res)
	writeFortio(&b, res)
	writeIdle(&b, res, groups)
	if len(res.Failures) > 0 {
		b.WriteString("## Failed runs\n\n")
		for _, f := range res.Failures {
			fmt.Fprintf(&b, "- %s\n", f)
		}
		b.WriteString("\n")
	}
	b.WriteString(leftOut)
	return b.String()
}

// topologyNames returns the topologies in report order.
func topologyNames(res *Results) []string {
	var out []string
	for _, t := range res.Topologies {
		out = append(out, t.Name)
	}
	return out
}

func writeMachine(b *strings.Builder, res *Results) {
	m := res.Meta
	b.WriteString("## Machine\n\n")
	rows := [][]string{
		{"CPU", fmt.Sprintf("%s, %d cores (shared by load generator, proxies and backend)", m.CPU, m.Cores)},
		{"memory", m.Memory},
		{"kernel", m.Kernel},
		{"Go", m.GoVersion},
		{"meshlite", m.Commit},
	}
	for _, k := range slices.Sorted(maps.Keys(m.Versions)) {
		rows = append(rows, []string{k, m.Versions[k]})
	}
	table(b, 2, []string{"", ""}, rows)
	b.WriteString("\n")
}

func writeMethod(b *strings.Builder, res *Results) {
	m := res.Meta
	fmt.Fprintf(b, `## How it was measured

- Every topology has its own pair of network-namespace pods on one bridge: the load generator runs in the client pod, the same backend binary (bench/cmd/benchbackend: HTTP/1.1 and h2c with a 1 KiB body, gRPC health, TCP echo; iperf3 for bulk) in the server pod. The client always dials the server pod's address; iptables decides what is in between.
- Every proxy runs as uid 2102 with %d worker threads (GOMAXPROCS=%d for the Go proxies, nbthread %d for HAProxy, worker_processes %d for nginx). The machine has %d cores, shared with the load generator and the backend, so nothing is pinned.
- Fixed-rate latency: bench/cmd/loadgen (open loop, coordinated-omission corrected) inside the client pod, %d repetition(s) of every point; each point has a %.0f s warm-up and a %.0f s window, stretched to at least %d requests at low rates. Repetitions are interleaved — round r runs every point on every topology before round r+1 — so slow drifts of this shared machine hit all topologies alike.
- Proxy cost, per process group (nginx: master and workers, whose RSS is summed, so pages they share are counted once per process and nginx's memory is overstated): CPU is utime+stime from /proc/<pid>/stat over the run divided by the requests carried (window plus warm-up), in CPU seconds per 1000 requests — the same number as cores per 1000 RPS. RSS *steady* is the median of VmRSS samples every 250 ms during the run, *anon* the same for RssAnon (heap and stacks: RSS without the executable's and libraries' file pages, which are shared and reclaimable); *peak* is VmHWM after resetting it (clear_refs 5) at the start of the run. MB = 10^6 bytes. GC cycles come from meshlite-proxy's go_gc_duration_seconds_count on its admin port.
- meshlite-mtls: a trust domain is made for the run (anchor, issuer, join key), meshlite-identity runs in a third pod with the join attestor, and each proxy proves its identity with a join token and gets an ECDSA P-256 SPIFFE certificate (24 h, so none is renewed during the run); the client proxy lists the server pod's address with the server proxy's SPIFFE ID in --meshed-endpoints. Its set-up fails unless, after one request of each protocol, the client proxy counted responses over mutual TLS (response_total{direction="outbound",tls="true"}) and none in plaintext, and every connection the server proxy accepted was mutual TLS. The identity service is not measured.
- Maximum throughput: wrk (HTTP/1.1, one thread) and h2load (h2c, one thread) closed loop; bulk TCP: one iperf3 stream.
- The machine is shared: %s. Tails (p99 and beyond) move with that load far more than with the proxy; read them across repetitions and against direct in the same round.

`, m.Threads, m.Threads, m.Threads, m.Threads, m.Cores, m.Reps, m.WarmupS, m.WindowS, m.MinSamples, loadNote(res))
}

// loadNote describes the machine's 1-minute load average at the starts of
// the latency runs.
func loadNote(res *Results) string {
	var v []float64
	for _, r := range res.Latency {
		v = append(v, r.Load1)
	}
	s := StatOf(v)
	if s.N == 0 {
		return "its load was not recorded"
	}
	return fmt.Sprintf("the 1-minute load average at the start of the latency runs ranged from %s to %s (median %s) on %d cores",
		num(s.Min, 1), num(s.Max, 1), num(s.Med, 1), res.Meta.Cores)
}

func writeTopologies(b *strings.Builder, res *Results) {
	b.WriteString("## Topologies\n\n")
	var rows [][]string
	for _, t := range res.Topologies {
		carries := "all"
		if len(t.Protos) > 0 {
			carries = strings.Join(t.Protos, ", ")
		}
		rows = append(rows, []string{"`" + t.Name + "`", t.Summary, t.Capture, carries})
	}
	table(b, 4, []string{"topology", "path", "how traffic reaches the proxies", "carries"}, rows)
	b.WriteString("\n")
}

func writeWorkload(b *strings.Builder, w workload.Workload, groups []Group, runs []LatencyRun) {
	var mine []Group
	for _, g := range groups {
		if g.Point.Workload == w.Name {
			mine = append(mine, g)
		}
	}
	if len(mine) == 0 {
		return
	}
	fmt.Fprintf(b, "### %s\n\n", w.Title)
	var rows [][]string
	for _, g := range mine {
		for _, c := range g.Cells {
			errs := fmt.Sprint(c.Errors)
			if c.Unsent > 0 {
				errs += fmt.Sprintf(" (+%d unsent)", c.Unsent)
			}
			rows = append(rows, []string{g.Point.Label(), c.Topology,
				statMS(c.P50), statMS(c.P90), statMS(c.P99), statMS(c.P999), statMS(c.Max),
				addMS(c.AddP50), addMS(c.AddP99), addMS(c.AddP999), num(c.Achieved.Med, 0), errs})
		}
	}
	table(b, 2, []string{"load", "topology", "p50", "p90", "p99", "p99.9", "max", "added p50", "added p99", "added p99.9", "achieved RPS", "errors"}, rows)
	if note := detectNote(runs, w.Name); note != "" {
		b.WriteString("\n" + note + "\n")
	}
	b.WriteString("\nProxy cost (median over repetitions; client · server):\n\n")
	rows = nil
	for _, g := range mine {
		for _, c := range g.Cells {
			if len(c.Sides) == 0 {
				continue
			}
			rows = append(rows, []string{g.Point.Label(), c.Topology,
				pair(c.Sides, func(s SideUsage) string { return num(s.CPUPer1k.Med, 3) }),
				pair(c.Sides, func(s SideUsage) string { return mb(s.RSSSteady.Med) }),
				pair(c.Sides, func(s SideUsage) string { return mb(s.AnonSteady.Med) }),
				pair(c.Sides, func(s SideUsage) string { return mb(s.RSSPeak.Med) }),
				pair(c.Sides, func(s SideUsage) string {
					if s.GCPer1k.N == 0 {
						return dash
					}
					return num(s.GCPer1k.Med, 2)
				})})
		}
	}
	table(b, 2, []string{"load", "topology", "CPU s per 1000 req", "RSS steady MB", "of which anon MB", "RSS peak MB", "GC cycles per 1000 req"}, rows)
	b.WriteString("\n")
}

// detectNote explains latencies that include meshlite's protocol-detection
// timeout, when the proxies counted any in the workload's runs.
func detectNote(runs []LatencyRun, workloadName string) string {
	per := map[string]float64{}
	var topos []string
	for _, r := range runs {
		if r.Workload != workloadName {
			continue
		}
		for _, p := range r.Proxies {
			if p.DetectTimeouts > 0 {
				if per[r.Topology] == 0 {
					topos = append(topos, r.Topology)
				}
				per[r.Topology] += p.DetectTimeouts
			}
		}
	}
	if len(topos) == 0 {
		return ""
	}
	var parts []string
	for _, t := range topos {
		parts = append(parts, fmt.Sprintf("%s %.0f", t, per[t]))
	}
	return "**Protocol detection timed out** on connections of these runs (" + strings.Join(parts, ", ") +
		` connections over all repetitions, from protocol_detect_total{result="timeout"}): the client's first bytes could still have been the start of an HTTP request line, ` +
		"so the proxy held each such connection for its detect timeout (1 s by default) before relaying it as opaque TCP. That wait, and the queue it builds at a fixed rate, is in the latencies above."
}
