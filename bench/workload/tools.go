package workload

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"time"

	"github.com/meshlite/meshlite/bench/topology"
)

// secs renders d for tools that take seconds.
func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s" }

// URL returns the http:// URL of proto's port on server.
func URL(server netip.Addr, ports topology.Ports, proto topology.Proto) string {
	return "http://" + netip.AddrPortFrom(server, ports.For(proto)).String() + "/"
}

// LoadgenArgs returns bench/cmd/loadgen's arguments for point p of w
// against server, with JSON output.
func LoadgenArgs(w Workload, p Point, server netip.Addr, ports topology.Ports, window, warmup time.Duration) []string {
	args := []string{"-proto", string(w.Proto)}
	switch w.Proto {
	case topology.HTTP1, topology.H2C:
		args = append(args, "-url", URL(server, ports, w.Proto))
	default:
		args = append(args, "-addr", netip.AddrPortFrom(server, ports.For(w.Proto)).String())
	}
	args = append(args,
		"-rate", strconv.FormatFloat(p.Rate, 'f', -1, 64),
		"-c", strconv.Itoa(p.Conns),
		"-duration", secs(window), "-warmup", secs(warmup),
		"-o", "json")
	if p.Streams > 1 {
		args = append(args, "-streams", strconv.Itoa(p.Streams))
	}
	if w.Size > 0 {
		args = append(args, "-size", strconv.Itoa(w.Size))
	}
	if w.Churn {
		args = append(args, "-churn")
	}
	return args
}

// Throughput is a closed-loop run's outcome.
type Throughput struct {
	// Tool is "wrk", "h2load" or "iperf3".
	Tool string `json:"tool"`
	// Rate is requests per second (wrk, h2load) or bits per second
	// received (iperf3).
	Rate float64 `json:"rate"`
	// Requests is how many requests completed (bytes for iperf3).
	Requests float64 `json:"requests"`
	// Errors counts failed requests (retransmits for iperf3).
	Errors int64 `json:"errors"`
}

// WrkArgs runs wrk with one thread (the machine has two cores, shared
// with the proxies and the backend) and conns connections.
func WrkArgs(url string, conns int, d time.Duration) []string {
	return []string{"-t1", "-c" + strconv.Itoa(conns), "-d" + secs(d), url}
}

var (
	wrkReqs   = regexp.MustCompile(`(?m)^\s*(\d+) requests in `)
	wrkRate   = regexp.MustCompile(`(?m)^Requests/sec:\s*([0-9.]+)`)
	wrkNon2xx = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses:\s*(\d+)`)
	wrkSock   = regexp.MustCompile(`(?m)^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// ParseWrk reads wrk's report.
func ParseWrk(out string) (Throughput, error) {
	t := Throughput{Tool: "wrk"}
	m := wrkRate.FindStringSubmatch(out)
	n := wrkReqs.FindStringSubmatch(out)
	if m == nil || n == nil {
		return t, fmt.Errorf("workload: wrk: no result in output:\n%s", out)
	}
	t.Rate, _ = strconv.ParseFloat(m[1], 64)
	t.Requests, _ = strconv.ParseFloat(n[1], 64)
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		v, _ := strconv.ParseInt(m[1], 10, 64)
		t.Errors += v
	}
	if m := wrkSock.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			v, _ := strconv.ParseInt(s, 10, 64)
			t.Errors += v
		}
	}
	return t, nil
}

// H2loadArgs runs h2load (h2c with prior knowledge for http:// URLs) with
// one thread, conns connections of streams concurrent streams, for d after
// a warm-up.
func H2loadArgs(url string, conns, streams int, d, warmup time.Duration) []string {
	return []string{"-t1", "-c" + strconv.Itoa(conns), "-m" + strconv.Itoa(streams),
		"-D", strconv.Itoa(int(d.Seconds())), "--warm-up-time=" + secs(warmup), url}
}

var (
	h2Finished = regexp.MustCompile(`(?m)^finished in [0-9.]+m?s, ([0-9.]+) req/s`)
	h2Requests = regexp.MustCompile(`(?m)^requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`)
	h2Proto    = regexp.MustCompile(`(?m)^Application protocol: (\S+)`)
)

// ParseH2load reads h2load's report; it fails unless h2c was used.
func ParseH2load(out string) (Throughput, error) {
	t := Throughput{Tool: "h2load"}
	m := h2Finished.FindStringSubmatch(out)
	r := h2Requests.FindStringSubmatch(out)
	if m == nil || r == nil {
		return t, fmt.Errorf("workload: h2load: no result in output:\n%s", out)
	}
	if p := h2Proto.FindStringSubmatch(out); p == nil || p[1] != "h2c" {
		return t, fmt.Errorf("workload: h2load: did not speak h2c:\n%s", out)
	}
	t.Rate, _ = strconv.ParseFloat(m[1], 64)
	t.Requests, _ = strconv.ParseFloat(r[1], 64)
	for _, s := range r[2:] {
		v, _ := strconv.ParseInt(s, 10, 64)
		t.Errors += v
	}
	return t, nil
}

// IperfArgs runs one iperf3 stream from the client to server:port for d,
// omitting the first second (slow start), with JSON output.
func IperfArgs(server netip.Addr, port uint16, d time.Duration) []string {
	return []string{"-c", server.String(), "-p", strconv.Itoa(int(port)), "-t", strconv.Itoa(int(d.Seconds())), "-O", "1", "-J"}
}

// ParseIperf reads iperf3's JSON: bits per second received by the server.
func ParseIperf(out []byte) (Throughput, error) {
	var v struct {
		Error string `json:"error"`
		End   struct {
			SumSent struct {
				Retransmits int64 `json:"retransmits"`
			} `json:"sum_sent"`
			SumReceived struct {
				Bytes         float64 `json:"bytes"`
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return Throughput{}, fmt.Errorf("workload: iperf3: %w", err)
	}
	if v.Error != "" {
		return Throughput{}, fmt.Errorf("workload: iperf3: %s", v.Error)
	}
	if v.End.SumReceived.BitsPerSecond <= 0 {
		return Throughput{}, fmt.Errorf("workload: iperf3: no bytes received")
	}
	return Throughput{Tool: "iperf3", Rate: v.End.SumReceived.BitsPerSecond,
		Requests: v.End.SumReceived.Bytes, Errors: v.End.SumSent.Retransmits}, nil
}

// FortioArgs runs fortio's HTTP/1.1 load at qps over conns connections
// for d, writing JSON to jsonPath.
func FortioArgs(url string, qps float64, conns int, d time.Duration, jsonPath string) []string {
	return []string{"load", "-qps", strconv.FormatFloat(qps, 'f', -1, 64), "-c", strconv.Itoa(conns),
		"-t", secs(d), "-p", "50,90,99,99.9", "-json", jsonPath, "-quiet", url}
}

// Fortio is what the bench keeps of a fortio run; latencies in µs.
type Fortio struct {
	ActualQPS float64 `json:"actual_qps"`
	Count     int64   `json:"count"`
	Errors    int64   `json:"errors"`
	P50       float64 `json:"p50_us"`
	P90       float64 `json:"p90_us"`
	P99       float64 `json:"p99_us"`
	P999      float64 `json:"p999_us"`
	Max       float64 `json:"max_us"`
}

// ParseFortio reads fortio's JSON result.
func ParseFortio(b []byte) (Fortio, error) {
	var v struct {
		ActualQPS         float64
		DurationHistogram struct {
			Count       int64
			Max         float64
			Percentiles []struct {
				Percentile float64
				Value      float64
			}
		}
		RetCodes map[string]int64
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return Fortio{}, fmt.Errorf("workload: fortio: %w", err)
	}
	f := Fortio{ActualQPS: v.ActualQPS, Count: v.DurationHistogram.Count, Max: v.DurationHistogram.Max * 1e6}
	for code, n := range v.RetCodes {
		if code != "200" {
			f.Errors += n
		}
	}
	for _, p := range v.DurationHistogram.Percentiles {
		us := p.Value * 1e6
		switch p.Percentile {
		case 50:
			f.P50 = us
		case 90:
			f.P90 = us
		case 99:
			f.P99 = us
		case 99.9:
			f.P999 = us
		}
	}
	if f.Count == 0 {
		return f, fmt.Errorf("workload: fortio: no requests")
	}
	return f, nil
}
