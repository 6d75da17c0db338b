package workload

import (
	"fmt"
	"math"
	"time"

	"github.com/meshlite/meshlite/bench/topology"
)

// Workload is one kind of traffic.
type Workload struct {
	// Name identifies it in flags, tables and files.
	Name string
	// Title heads its table in the report.
	Title string
	// Proto is what it speaks, which decides the port and which
	// topologies carry it.
	Proto topology.Proto
	// Size is the ping-pong payload in bytes (TCP only).
	Size int
	// Churn opens a connection per request (HTTP/1 only).
	Churn bool
}

// Workload names.
const (
	HTTP1    = "http1"
	H2C      = "h2c"
	GRPC     = "grpc"
	TCP1B    = "tcp-1b"
	TCP1KiB  = "tcp-1kib"
	ChurnH1  = "churn"
	quickWin = 10 * time.Second
)

// Workloads returns every workload, in report order.
func Workloads() []Workload {
	return []Workload{
		{Name: HTTP1, Title: "HTTP/1.1 keep-alive GET, 1 KiB response", Proto: topology.HTTP1},
		{Name: H2C, Title: "h2c GET (HTTP/2 prior knowledge), 1 KiB response", Proto: topology.H2C},
		{Name: GRPC, Title: "gRPC unary (grpc.health.v1.Health/Check)", Proto: topology.GRPC},
		{Name: TCP1B, Title: "Opaque TCP ping-pong, 1 byte", Proto: topology.TCP, Size: 1},
		{Name: TCP1KiB, Title: "Opaque TCP ping-pong, 1 KiB", Proto: topology.TCP, Size: 1024},
		{Name: ChurnH1, Title: "Connection churn: HTTP/1.1 GET on a new connection each time", Proto: topology.HTTP1, Churn: true},
	}
}

// Lookup returns the workload named name.
func Lookup(name string) (Workload, bool) {
	for _, w := range Workloads() {
		if w.Name == name {
			return w, true
		}
	}
	return Workload{}, false
}

// Point is one load on one workload.
type Point struct {
	Workload string  `json:"workload"`
	Rate     float64 `json:"rate"`
	Conns    int     `json:"conns"`
	// Streams is concurrent requests per connection (h2c, gRPC); 1
	// otherwise.
	Streams int `json:"streams"`
}

// Key names the point in file names: "http1-1000rps-16c", "h2c-1000rps-4x4".
func (p Point) Key() string {
	if p.Streams > 1 {
		return fmt.Sprintf("%s-%grps-%dx%d", p.Workload, p.Rate, p.Conns, p.Streams)
	}
	return fmt.Sprintf("%s-%grps-%dc", p.Workload, p.Rate, p.Conns)
}

// Label describes the load for tables: "1000 RPS, 16 conns".
func (p Point) Label() string {
	if p.Streams > 1 {
		return fmt.Sprintf("%g RPS, %d conns × %d streams", p.Rate, p.Conns, p.Streams)
	}
	return fmt.Sprintf("%g RPS, %d conns", p.Rate, p.Conns)
}

// Plan is what one bench run measures.
type Plan struct {
	// Name is "full" or "quick".
	Name string
	// Topologies to run, by name; empty means all.
	Topologies []string
	// Points are the latency points.
	Points []Point
	// Reps is how many times each point runs on each topology.
	Reps int
	// Window is the measured window of a point, stretched so that it
	// holds at least MinSamples requests; Warmup precedes it.
	Window, Warmup time.Duration
	MinSamples     int
	// Throughput adds the closed-loop runs: wrk (HTTP/1), h2load (h2c)
	// and iperf3 (bulk TCP), each for ThroughputWindow.
	Throughput       bool
	ThroughputWindow time.Duration
	// Fortio adds one fortio run per topology at 1000 QPS, 16 connections
	// (Istio's published setting) for FortioWindow.
	Fortio       bool
	FortioWindow time.Duration
}

// WindowFor returns the measured window of p: Window, or longer when that
// would give fewer than MinSamples requests.
func (pl Plan) WindowFor(p Point) time.Duration {
	w := pl.Window
	if pl.MinSamples > 0 && p.Rate > 0 {
		need := time.Duration(math.Ceil(float64(pl.MinSamples)/p.Rate)) * time.Second
		w = max(w, need)
	}
	return w
}

// Full is `make bench`: every workload at several rates, 3 repetitions,
// plus maximum throughput, bulk TCP and a fortio run.
func Full() Plan {
	var pts []Point
	for _, c := range []int{16, 64} {
		for _, r := range []float64{200, 1000, 2000} {
			pts = append(pts, Point{Workload: HTTP1, Rate: r, Conns: c, Streams: 1})
		}
	}
	for _, w := range []string{H2C, GRPC} {
		for _, r := range []float64{1000, 2000} {
			pts = append(pts, Point{Workload: w, Rate: r, Conns: 4, Streams: 4})
		}
	}
	pts = append(pts,
		Point{Workload: TCP1B, Rate: 1000, Conns: 16, Streams: 1},
		Point{Workload: TCP1KiB, Rate: 1000, Conns: 16, Streams: 1},
		Point{Workload: ChurnH1, Rate: 500, Conns: 16, Streams: 1},
	)
	return Plan{
		Name: "full", Points: pts, Reps: 3,
		Window: 5 * time.Second, Warmup: time.Second, MinSamples: 2000,
		Throughput: true, ThroughputWindow: 8 * time.Second,
		Fortio: true, FortioWindow: 10 * time.Second,
	}
}

// Quick is `make bench-quick`: direct, meshlite (plaintext and mTLS) and
// the Go reverse proxy pair, HTTP/1 and h2c at 1000 RPS with 16 requests in flight, once, for
// 10 s.
func Quick() Plan {
	return Plan{
		Name:       "quick",
		Topologies: []string{"direct", "meshlite", "meshlite-mtls", "go-reverseproxy"},
		Points: []Point{
			{Workload: HTTP1, Rate: 1000, Conns: 16, Streams: 1},
			{Workload: H2C, Rate: 1000, Conns: 4, Streams: 4},
		},
		Reps: 1, Window: quickWin, Warmup: 2 * time.Second,
	}
}

// runOverhead is the time around each run besides its windows: starting
// the tool, connecting, draining, sampling.
const runOverhead = 700 * time.Millisecond

// Estimate is how long the plan takes to run, given how many of the
// chosen topologies carry each protocol.
func (pl Plan) Estimate(carriers func(topology.Proto) int) time.Duration {
	var d time.Duration
	for _, p := range pl.Points {
		w, ok := Lookup(p.Workload)
		if !ok {
			continue
		}
		d += time.Duration(pl.Reps*carriers(w.Proto)) * (pl.WindowFor(p) + pl.Warmup + runOverhead)
	}
	if pl.Throughput {
		n := carriers(topology.HTTP1) + carriers(topology.H2C) + carriers(topology.TCP)
		d += time.Duration(n) * (pl.ThroughputWindow + 2*time.Second)
	}
	if pl.Fortio {
		d += time.Duration(carriers(topology.HTTP1)) * (pl.FortioWindow + time.Second)
	}
	return d
}
