package report

import (
	"time"

	"github.com/meshlite/meshlite/bench/measure"
	"github.com/meshlite/meshlite/bench/workload"
)

// fixture is a small, fixed bench run: five topologies at the target
// point (three repetitions), three at an h2c point, throughput, fortio,
// idle memory and one failure.
func fixture() *Results {
	res := &Results{
		Meta: Meta{
			Date: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), Plan: "full", Command: "make bench",
			CPU: "AMD EPYC", Cores: 2, Memory: "23.4 GiB", Kernel: "Linux 6.18.44", GoVersion: "go1.26.8",
			Commit: "abc1234", Versions: map[string]string{"haproxy": "HAProxy version 2.6.12", "nginx": "nginx version: nginx/1.22.1"},
			Reps: 3, WindowS: 5, WarmupS: 1, MinSamples: 2000, Threads: 2, DurationS: 1800,
		},
		Topologies: []TopologyInfo{
			{Name: "direct", Summary: "no proxy", Capture: "none"},
			{Name: "meshlite", Summary: "meshlite pair", Capture: "iptables"},
			{Name: "meshlite-mtls", Summary: "meshlite pair, mTLS", Capture: "iptables"},
			{Name: "haproxy-mtls", Summary: "HAProxy pair", Capture: "per port"},
			{Name: "nginx-mtls", Summary: "nginx pair", Capture: "per port", Protos: []string{"http1", "tcp"}},
		},
		Failures: []string{"grpc-1000rps-4x4 on nginx-mtls, rep 2: loadgen: exit status 1"},
	}
	// base latencies (µs) per topology; rep r adds r*10 µs of "noise"
	// to every percentile, and rep 2 of direct a tail spike.
	base := map[string]Percentiles{
		"direct":        {P50: 100, P90: 150, P99: 400, P999: 1200, Max: 3000},
		"meshlite":      {P50: 350, P90: 520, P99: 650, P999: 2100, Max: 4000},
		"meshlite-mtls": {P50: 380, P90: 560, P99: 690, P999: 2300, Max: 4200},
		"haproxy-mtls":  {P50: 300, P90: 480, P99: 800, P999: 2500, Max: 5000},
		"nginx-mtls":    {P50: 330, P90: 500, P99: 900, P999: 3000, Max: 6000},
	}
	usage := map[string][]ProxyUsage{
		"meshlite": {
			{Side: "client", Usage: measure.Usage{RSSSteady: 17_900_000, RSSPeak: 18_400_000, AnonSteady: 5_100_000, CPUSeconds: 0.9, GCCycles: 12}},
			{Side: "server", Usage: measure.Usage{RSSSteady: 17_500_000, RSSPeak: 18_000_000, AnonSteady: 4_900_000, CPUSeconds: 0.84, GCCycles: 11}},
		},
		"meshlite-mtls": {
			{Side: "client", Usage: measure.Usage{RSSSteady: 20_300_000, RSSPeak: 21_200_000, AnonSteady: 6_600_000, CPUSeconds: 0.54, GCCycles: 15}},
			{Side: "server", Usage: measure.Usage{RSSSteady: 19_800_000, RSSPeak: 20_400_000, AnonSteady: 6_200_000, CPUSeconds: 0.48, GCCycles: 14}},
		},
		"haproxy-mtls": {
			{Side: "client", Usage: measure.Usage{RSSSteady: 9_000_000, RSSPeak: 9_500_000, CPUSeconds: 0.6, GCCycles: -1}},
			{Side: "server", Usage: measure.Usage{RSSSteady: 9_100_000, RSSPeak: 9_600_000, CPUSeconds: 0.66, GCCycles: -1}},
		},
		"nginx-mtls": {
			{Side: "client", Usage: measure.Usage{RSSSteady: 6_000_000, RSSPeak: 6_200_000, CPUSeconds: 0.54, GCCycles: -1}},
			{Side: "server", Usage: measure.Usage{RSSSteady: 6_100_000, RSSPeak: 6_300_000, CPUSeconds: 0.48, GCCycles: -1}},
		},
	}
	curve := func(p Percentiles, add float64) []CurvePoint {
		return []CurvePoint{{0, p.P50/2 + add}, {50, p.P50 + add}, {90, p.P90 + add}, {99, p.P99 + add},
			{99.9, p.P999 + add}, {99.99, p.Max + add}, {100, p.Max + add}}
	}
	h2c := workload.Point{Workload: workload.H2C, Rate: 1000, Conns: 4, Streams: 4}
	tcp := workload.Point{Workload: workload.TCP1B, Rate: 1000, Conns: 16, Streams: 1}
	for rep := 1; rep <= 3; rep++ {
		for _, t := range []string{"direct", "meshlite", "meshlite-mtls", "haproxy-mtls", "nginx-mtls"} {
			p := base[t]
			add := float64(rep * 10)
			lat := Percentiles{P50: p.P50 + add, P90: p.P90 + add, P99: p.P99 + add, P999: p.P999 + add, Max: p.Max + add}
			if t == "direct" && rep == 2 {
				lat.P99, lat.P999, lat.Max = 9000, 15000, 20000
			}
			run := LatencyRun{Topology: t, Point: TargetPoint, Rep: rep, WindowS: 5, Latency: lat, Curve: curve(lat, 0),
				Achieved: 1000, Requests: 5000, Handled: 6000, Load1: float64(rep), Proxies: usage[t]}
			if t == "nginx-mtls" && rep == 3 {
				run.Errors, run.Unsent = 2, 1
			}
			res.Latency = append(res.Latency, run)
			if t == "direct" || t == "meshlite" || t == "meshlite-mtls" {
				h := run
				h.Point = h2c
				h.Latency.P50 += 50
				res.Latency = append(res.Latency, h)
			}
			if t == "direct" || t == "meshlite" {
				// meshlite's detection holds the 1-byte pings' connections.
				p := run
				p.Point = tcp
				p.Proxies = nil
				if t == "meshlite" {
					p.Latency.P90, p.Latency.P99, p.Latency.P999, p.Latency.Max = 555_000, 988_000, 1_033_000, 1_037_000
					p.Proxies = []ProxyUsage{{Side: "client", Usage: measure.Usage{CPUSeconds: 0.3, GCCycles: 1, DetectTimeouts: 16}}}
				}
				res.Latency = append(res.Latency, p)
			}
		}
	}
	res.Throughput = []ThroughputRun{
		{Topology: "direct", Throughput: workload.Throughput{Tool: "wrk", Rate: 20000, Requests: 160000}, Conns: 64},
		{Topology: "meshlite", Throughput: workload.Throughput{Tool: "wrk", Rate: 5000, Requests: 40000}, Conns: 64, Proxies: usage["meshlite"]},
		{Topology: "direct", Throughput: workload.Throughput{Tool: "iperf3", Rate: 20e9, Requests: 20e9}, Conns: 1},
		{Topology: "meshlite", Throughput: workload.Throughput{Tool: "iperf3", Rate: 11e9, Requests: 11e9, Errors: 3}, Conns: 1, Proxies: usage["meshlite"]},
		{Topology: "meshlite-mtls", Throughput: workload.Throughput{Tool: "iperf3", Rate: 6e9, Requests: 6e9}, Conns: 1, Proxies: usage["meshlite-mtls"]},
	}
	res.Fortio = []FortioRun{
		{Topology: "direct", Fortio: workload.Fortio{ActualQPS: 999.8, Count: 10000, P50: 90, P90: 140, P99: 380, P999: 1100, Max: 2500}, QPS: 1000, Conns: 16},
		{Topology: "meshlite", Fortio: workload.Fortio{ActualQPS: 999.7, Count: 10000, P50: 330, P90: 500, P99: 640, P999: 2000, Max: 3900}, QPS: 1000, Conns: 16},
		{Topology: "meshlite-mtls", Fortio: workload.Fortio{ActualQPS: 999.6, Count: 10000, P50: 360, P90: 540, P99: 700, P999: 2200, Max: 4100}, QPS: 1000, Conns: 16},
	}
	res.Idle = []IdleRSS{
		{Topology: "meshlite", Side: "client", RSS: 12_600_000, Peak: 12_700_000, Anon: 2_000_000},
		{Topology: "meshlite", Side: "server", RSS: 12_500_000, Peak: 12_600_000, Anon: 2_100_000},
		{Topology: "meshlite-mtls", Side: "client", RSS: 14_100_000, Peak: 14_300_000, Anon: 3_000_000},
		{Topology: "meshlite-mtls", Side: "server", RSS: 13_900_000, Peak: 14_000_000, Anon: 2_900_000},
		{Topology: "haproxy-mtls", Side: "client", RSS: 8_000_000, Peak: 8_000_000},
		{Topology: "haproxy-mtls", Side: "server", RSS: 8_100_000, Peak: 8_100_000},
	}
	return res
}
