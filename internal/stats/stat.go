package stats

import (
	"cmp"
	"math"
	"net"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/meshlite/meshlite/internal/promtext"
)

// Metric names the proxies export (docs/proxy.md).
const (
	metricResponses = "response_total"
	metricLatency   = "response_latency_ms"
	metricTCPOpen   = "tcp_open_total"
	metricTCPConns  = "tcp_open_connections"
)

// Proxy names a scraped proxy.
type Proxy struct {
	// Admin is its admin address, host:port.
	Admin string
	// Namespace and Name are its workload's, "" when not known.
	Namespace, Name string
	// Identity is its SPIFFE ID, "" when not known.
	Identity string
}

// Scrape is what one proxy reported at one time.
type Scrape struct {
	Proxy Proxy
	// Ready is its /ready answer.
	Ready bool
	// Metrics are its /metrics; nil when they could not be read.
	Metrics promtext.Families
}

// Traffic is one direction's requests over a window (or since the
// proxies started).
type Traffic struct {
	Requests, Successes float64
	// MTLS counts the requests over mutual TLS.
	MTLS float64
	// Latency is the histogram of response latencies, in milliseconds.
	Latency Histogram
	// TCPConnections are the connections open at the end.
	TCPConnections float64
}

// SuccessRate is the share of successful requests; NaN without requests.
func (t Traffic) SuccessRate() float64 {
	if t.Requests == 0 {
		return math.NaN()
	}
	return t.Successes / t.Requests
}

// MTLSRate is the share of requests over mutual TLS; NaN without requests.
func (t Traffic) MTLSRate() float64 {
	if t.Requests == 0 {
		return math.NaN()
	}
	return t.MTLS / t.Requests
}

// RPS is the request rate over window; NaN for a zero window (totals
// since start).
func (t Traffic) RPS(window time.Duration) float64 {
	if window <= 0 {
		return math.NaN()
	}
	return t.Requests / window.Seconds()
}

func (t Traffic) plus(o Traffic) Traffic {
	t.Requests += o.Requests
	t.Successes += o.Successes
	t.MTLS += o.MTLS
	t.TCPConnections += o.TCPConnections
	for _, b := range o.Latency {
		t.Latency = t.Latency.add(b.UpperBound, b.Count)
	}
	return t
}

// minus is t over the window since before; TCPConnections stay t's (a
// gauge). A counter smaller than before (a restart) counts from zero.
func (t Traffic) minus(before Traffic) Traffic {
	d := func(a, b float64) float64 {
		if b > a {
			return a
		}
		return a - b
	}
	if before.Requests > t.Requests {
		return t // restarted: everything counts from zero
	}
	t.Requests, t.Successes, t.MTLS = d(t.Requests, before.Requests), d(t.Successes, before.Successes), d(t.MTLS, before.MTLS)
	t.Latency = t.Latency.sub(before.Latency)
	return t
}

// traffic sums f's series of one direction that match keep (nil: all).
func traffic(f promtext.Families, direction string, keep func(*dto.Metric) bool) Traffic {
	var t Traffic
	match := func(m *dto.Metric) bool {
		return promtext.Label(m, "direction") == direction && (keep == nil || keep(m))
	}
	if mf := f[metricResponses]; mf != nil {
		for _, m := range mf.GetMetric() {
			if !match(m) {
				continue
			}
			v := m.GetCounter().GetValue()
			t.Requests += v
			if promtext.Label(m, "classification") == "success" {
				t.Successes += v
			}
			if promtext.Label(m, "tls") == "true" {
				t.MTLS += v
			}
		}
	}
	if mf := f[metricLatency]; mf != nil {
		for _, m := range mf.GetMetric() {
			if match(m) && m.Histogram != nil {
				t.Latency = t.Latency.addDTO(m.GetHistogram())
			}
		}
	}
	if keep == nil {
		t.TCPConnections = f.Sum(metricTCPConns, map[string]string{"direction": direction})
	}
	return t
}

// WorkloadStat is one workload's row of `meshctl stat`.
type WorkloadStat struct {
	Namespace, Name string
	// Proxies is how many proxies the workload has, Ready how many of
	// them are ready.
	Proxies, Ready int
	// Window is what the traffic covers; 0: since the proxies started.
	Window            time.Duration
	Inbound, Outbound Traffic
}

// Workloads computes each workload's statistics from scrapes of its
// proxies at the end of the window (after) and, unless window is 0, at
// its start (before, matched by admin address).
func Workloads(before, after []Scrape, window time.Duration) []WorkloadStat {
	prev := map[string]Scrape{}
	for _, s := range before {
		prev[s.Proxy.Admin] = s
	}
	byKey := map[[2]string]*WorkloadStat{}
	for _, s := range after {
		ns, name := WorkloadOf(s)
		w := byKey[[2]string{ns, name}]
		if w == nil {
			w = &WorkloadStat{Namespace: ns, Name: name, Window: window}
			byKey[[2]string{ns, name}] = w
		}
		w.Proxies++
		if s.Ready {
			w.Ready++
		}
		if s.Metrics == nil {
			continue
		}
		in, out := traffic(s.Metrics, "inbound", nil), traffic(s.Metrics, "outbound", nil)
		if p, ok := prev[s.Proxy.Admin]; ok && window > 0 && p.Metrics != nil {
			in, out = in.minus(traffic(p.Metrics, "inbound", nil)), out.minus(traffic(p.Metrics, "outbound", nil))
		}
		w.Inbound, w.Outbound = w.Inbound.plus(in), w.Outbound.plus(out)
	}
	out := make([]WorkloadStat, 0, len(byKey))
	for _, w := range byKey {
		out = append(out, *w)
	}
	slices.SortFunc(out, func(a, b WorkloadStat) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	return out
}

// Services computes per-service statistics from the proxies' outbound
// requests, by the authority clients asked for ("web.default.svc:80");
// Proxies counts the proxies that called each.
func Services(before, after []Scrape, window time.Duration) []WorkloadStat {
	prev := map[string]Scrape{}
	for _, s := range before {
		prev[s.Proxy.Admin] = s
	}
	byName := map[string]*WorkloadStat{}
	for _, s := range after {
		if s.Metrics == nil {
			continue
		}
		for _, auth := range authorities(s.Metrics) {
			keep := func(m *dto.Metric) bool { return promtext.Label(m, "authority") == auth }
			t := traffic(s.Metrics, "outbound", keep)
			if p, ok := prev[s.Proxy.Admin]; ok && window > 0 && p.Metrics != nil {
				t = t.minus(traffic(p.Metrics, "outbound", keep))
			}
			w := byName[auth]
			if w == nil {
				w = &WorkloadStat{Name: auth, Window: window}
				byName[auth] = w
			}
			w.Proxies++
			if s.Ready {
				w.Ready++
			}
			w.Outbound = w.Outbound.plus(t)
		}
	}
	out := make([]WorkloadStat, 0, len(byName))
	for _, w := range byName {
		out = append(out, *w)
	}
	slices.SortFunc(out, func(a, b WorkloadStat) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// authorities lists the authorities of f's outbound responses.
func authorities(f promtext.Families) []string {
	var out []string
	for _, m := range f[metricResponses].GetMetric() {
		if promtext.Label(m, "direction") != "outbound" {
			continue
		}
		if a := promtext.Label(m, "authority"); !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

// WorkloadOf names the workload of a scraped proxy: the one the
// destination service registered; else the namespace and service account
// of its identity (given, or seen in its metrics); else its address.
func WorkloadOf(s Scrape) (namespace, name string) {
	if s.Proxy.Name != "" {
		return s.Proxy.Namespace, s.Proxy.Name
	}
	id := s.Proxy.Identity
	if id == "" {
		id = SelfIdentity(s.Metrics)
	}
	if short := ShortID(id); short != id {
		ns, sa, _ := strings.Cut(short, "/")
		return ns, sa
	}
	if h, _, err := net.SplitHostPort(s.Proxy.Admin); err == nil {
		return "", h
	}
	return "", s.Proxy.Admin
}

// SelfIdentity is a proxy's own SPIFFE ID as its metrics show it: the
// server_id of its inbound mutual TLS series or the client_id of its
// outbound ones; "" when it has had no such traffic.
func SelfIdentity(f promtext.Families) string {
	for _, name := range []string{metricResponses, metricTCPOpen} {
		for _, m := range f[name].GetMetric() {
			if promtext.Label(m, "tls") != "true" {
				continue
			}
			switch promtext.Label(m, "direction") {
			case "inbound":
				if id := promtext.Label(m, "server_id"); id != "" {
					return id
				}
			case "outbound":
				if id := promtext.Label(m, "client_id"); id != "" {
					return id
				}
			}
		}
	}
	return ""
}
