package stats

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
)

// StatHeader is stat's header; StatWideHeader adds the outbound side and
// the share of inbound requests over mutual TLS.
var (
	StatHeader     = []string{"NAMESPACE", "NAME", "MESHED", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P95", "LATENCY_P99", "TCP_CONN"}
	StatWideHeader = append(append([]string(nil), StatHeader...),
		"MTLS", "OUT_SUCCESS", "OUT_RPS", "OUT_LATENCY_P50", "OUT_LATENCY_P95", "OUT_LATENCY_P99", "OUT_TCP_CONN")
	// ServiceHeader is stat's header by service: the callers' side.
	ServiceHeader     = []string{"NAME", "CALLERS", "SUCCESS", "RPS", "LATENCY_P50", "LATENCY_P95", "LATENCY_P99"}
	ServiceWideHeader = append(append([]string(nil), ServiceHeader...), "REQUESTS", "MTLS")
)

// FormatRPS renders a request rate; "-" for NaN.
func FormatRPS(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.1frps", v)
}

func latencies(t Traffic) []string {
	return []string{FormatMs(t.Latency.Quantile(0.5)), FormatMs(t.Latency.Quantile(0.95)), FormatMs(t.Latency.Quantile(0.99))}
}

// RenderStat writes workloads' statistics; wide adds the outbound side.
func RenderStat(w io.Writer, rows []WorkloadStat, wide bool) error {
	header := StatHeader
	if wide {
		header = StatWideHeader
	}
	cells := make([][]string, len(rows))
	for i, r := range rows {
		c := []string{dash(r.Namespace), r.Name, fmt.Sprintf("%d/%d", r.Ready, r.Proxies),
			FormatPercent(r.Inbound.SuccessRate()), FormatRPS(r.Inbound.RPS(r.Window))}
		c = append(c, latencies(r.Inbound)...)
		c = append(c, fmt.Sprint(r.Inbound.TCPConnections))
		if wide {
			c = append(c, FormatPercent(r.Inbound.MTLSRate()), FormatPercent(r.Outbound.SuccessRate()), FormatRPS(r.Outbound.RPS(r.Window)))
			c = append(c, latencies(r.Outbound)...)
			c = append(c, fmt.Sprint(r.Outbound.TCPConnections))
		}
		cells[i] = c
	}
	return table(w, header, cells)
}

// RenderServices writes per-service statistics (from Services).
func RenderServices(w io.Writer, rows []WorkloadStat, wide bool) error {
	header := ServiceHeader
	if wide {
		header = ServiceWideHeader
	}
	cells := make([][]string, len(rows))
	for i, r := range rows {
		c := []string{r.Name, fmt.Sprint(r.Proxies), FormatPercent(r.Outbound.SuccessRate()), FormatRPS(r.Outbound.RPS(r.Window))}
		c = append(c, latencies(r.Outbound)...)
		if wide {
			c = append(c, fmt.Sprint(r.Outbound.Requests), FormatPercent(r.Outbound.MTLSRate()))
		}
		cells[i] = c
	}
	return table(w, header, cells)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// TrafficJSON is a direction's traffic in JSON; the rates are null when
// they cannot be computed (no requests, or no window for the RPS).
type TrafficJSON struct {
	Requests       float64  `json:"requests"`
	Successes      float64  `json:"successes"`
	MTLSRequests   float64  `json:"mtls_requests"`
	SuccessRate    *float64 `json:"success_rate"`
	RPS            *float64 `json:"rps"`
	LatencyMsP50   *float64 `json:"latency_ms_p50"`
	LatencyMsP95   *float64 `json:"latency_ms_p95"`
	LatencyMsP99   *float64 `json:"latency_ms_p99"`
	TCPConnections float64  `json:"tcp_connections"`
}

// StatJSON is a row of stat in JSON.
type StatJSON struct {
	Namespace     string      `json:"namespace,omitempty"`
	Name          string      `json:"name"`
	Proxies       int         `json:"proxies"`
	Ready         int         `json:"ready"`
	WindowSeconds float64     `json:"window_seconds"`
	Inbound       TrafficJSON `json:"inbound"`
	Outbound      TrafficJSON `json:"outbound"`
}

func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	v = math.Round(v*1e6) / 1e6
	return &v
}

func trafficJSON(t Traffic, window float64) TrafficJSON {
	rps := math.NaN()
	if window > 0 {
		rps = t.Requests / window
	}
	return TrafficJSON{Requests: t.Requests, Successes: t.Successes, MTLSRequests: t.MTLS, SuccessRate: num(t.SuccessRate()),
		RPS: num(rps), LatencyMsP50: num(t.Latency.Quantile(0.5)), LatencyMsP95: num(t.Latency.Quantile(0.95)),
		LatencyMsP99: num(t.Latency.Quantile(0.99)), TCPConnections: t.TCPConnections}
}

// StatJSONRows converts rows for JSON.
func StatJSONRows(rows []WorkloadStat) []StatJSON {
	out := make([]StatJSON, len(rows))
	for i, r := range rows {
		win := r.Window.Seconds()
		out[i] = StatJSON{Namespace: r.Namespace, Name: r.Name, Proxies: r.Proxies, Ready: r.Ready, WindowSeconds: win,
			Inbound: trafficJSON(r.Inbound, win), Outbound: trafficJSON(r.Outbound, win)}
	}
	return out
}

// EdgesHeader is edges' header; EdgesWideHeader adds the connections and
// which proxies saw the hop.
var (
	EdgesHeader     = []string{"CLIENT_ID", "SERVER_ID", "MTLS", "REQUESTS"}
	EdgesWideHeader = []string{"CLIENT_ID", "SERVER_ID", "MTLS", "REQUESTS", "CONNECTIONS", "SEEN_BY"}
)

// RenderEdges writes the edges.
func RenderEdges(w io.Writer, edges []Edge, wide bool) error {
	header := EdgesHeader
	if wide {
		header = EdgesWideHeader
	}
	cells := make([][]string, len(edges))
	for i, e := range edges {
		mtls := "no"
		if e.MTLS {
			mtls = "yes"
		}
		c := []string{e.Client, e.Server, mtls, fmt.Sprint(e.Requests)}
		if wide {
			c = append(c, fmt.Sprint(e.Connections), strings.Join(e.SeenBy, ","))
		}
		cells[i] = c
	}
	return table(w, header, cells)
}

// EdgeJSON is an edge in JSON.
type EdgeJSON struct {
	ClientID    string   `json:"client_id"`
	ServerID    string   `json:"server_id"`
	MTLS        bool     `json:"mtls"`
	Requests    float64  `json:"requests"`
	Connections float64  `json:"connections"`
	SeenBy      []string `json:"seen_by"`
}

// EdgesJSONRows converts edges for JSON.
func EdgesJSONRows(edges []Edge) []EdgeJSON {
	out := make([]EdgeJSON, len(edges))
	for i, e := range edges {
		out[i] = EdgeJSON{ClientID: e.Client, ServerID: e.Server, MTLS: e.MTLS, Requests: e.Requests, Connections: e.Connections,
			SeenBy: e.SeenBy}
	}
	return out
}

// WriteJSON writes v indented.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
