package report

import (
	"time"

	"github.com/meshlite/meshlite/bench/measure"
	"github.com/meshlite/meshlite/bench/workload"
)

// Results is everything one bench run measured. It is saved as
// bench/out/results.json and is all the renderers need.
type Results struct {
	Meta       Meta            `json:"meta"`
	Topologies []TopologyInfo  `json:"topologies"`
	Latency    []LatencyRun    `json:"latency"`
	Throughput []ThroughputRun `json:"throughput,omitempty"`
	Fortio     []FortioRun     `json:"fortio,omitempty"`
	Idle       []IdleRSS       `json:"idle"`
	// Failures lists runs that failed, one line each.
	Failures []string `json:"failures,omitempty"`
}

// Meta describes the machine and the run.
type Meta struct {
	Date      time.Time `json:"date"`
	Plan      string    `json:"plan"`
	Command   string    `json:"command"`
	CPU       string    `json:"cpu"`
	Cores     int       `json:"cores"`
	Memory    string    `json:"memory"`
	Kernel    string    `json:"kernel"`
	GoVersion string    `json:"go_version"`
	Commit    string    `json:"commit"`
	// Versions of the peers and tools, by program name.
	Versions map[string]string `json:"versions"`
	Reps     int               `json:"reps"`
	WindowS  float64           `json:"window_s"`
	WarmupS  float64           `json:"warmup_s"`
	// MinSamples stretches the window of low-rate points.
	MinSamples int `json:"min_samples"`
	// Threads is every proxy's worker threads.
	Threads int `json:"threads"`
	// DurationS is how long the whole run took.
	DurationS float64 `json:"duration_s"`
}

// TopologyInfo describes one topology for the report.
type TopologyInfo struct {
	Name    string   `json:"name"`
	Summary string   `json:"summary"`
	Capture string   `json:"capture"`
	Protos  []string `json:"protos,omitempty"`
}

// ProxyUsage is one proxy's cost over one run.
type ProxyUsage struct {
	Side string `json:"side"`
	measure.Usage
}

// Percentiles are latencies in microseconds.
type Percentiles struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99.9"`
	Max  float64 `json:"max"`
}

// CurvePoint is the latency (µs) at percentile P.
type CurvePoint struct {
	P  float64 `json:"p"`
	US float64 `json:"us"`
}

// LatencyRun is one fixed-rate loadgen run of one point on one topology.
type LatencyRun struct {
	Topology string `json:"topology"`
	workload.Point
	Rep     int     `json:"rep"`
	WindowS float64 `json:"window_s"`
	// Latency is corrected for coordinated omission (from the scheduled
	// send time).
	Latency    Percentiles      `json:"latency_us"`
	Curve      []CurvePoint     `json:"curve"`
	Achieved   float64          `json:"achieved_rate"`
	Requests   int64            `json:"requests"`
	Errors     int64            `json:"errors"`
	ErrorKinds map[string]int64 `json:"error_kinds,omitempty"`
	Unsent     int64            `json:"unsent"`
	// Handled is the requests the proxies carried during the monitored
	// span: the window's plus the warm-up's.
	Handled float64 `json:"handled"`
	// Load1 is the machine's 1-minute load average when the run started:
	// how busy the shared machine was besides the bench.
	Load1   float64      `json:"load1"`
	Proxies []ProxyUsage `json:"proxies,omitempty"`
	Raw     string       `json:"raw"`
}

// ThroughputRun is one closed-loop run (wrk, h2load, iperf3).
type ThroughputRun struct {
	Topology string `json:"topology"`
	workload.Throughput
	Conns   int          `json:"conns"`
	Streams int          `json:"streams"`
	Proxies []ProxyUsage `json:"proxies,omitempty"`
	Raw     string       `json:"raw"`
}

// FortioRun is one fortio run.
type FortioRun struct {
	Topology string `json:"topology"`
	workload.Fortio
	QPS     float64      `json:"qps"`
	Conns   int          `json:"conns"`
	Proxies []ProxyUsage `json:"proxies,omitempty"`
	Raw     string       `json:"raw"`
}

// IdleRSS is a proxy's memory after start-up and the smoke check, before
// any load.
type IdleRSS struct {
	Topology string `json:"topology"`
	Side     string `json:"side"`
	RSS      int64  `json:"rss_bytes"`
	Peak     int64  `json:"peak_bytes"`
	// Anon is RssAnon: heap and stacks, without file pages.
	Anon int64 `json:"anon_bytes"`
}
