package metrics

import (
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// LatencyBucketsMs are the response_latency_ms buckets, Linkerd's.
var LatencyBucketsMs = []float64{1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500,
	1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 40000, 50000}

// MaxAuthorities bounds the distinct values of the authority label.
const MaxAuthorities = 256

// Overflow is the authority label of requests past MaxAuthorities.
const Overflow = "overflow"

// Proxy holds the proxy's metrics, registered in its own registry.
type Proxy struct {
	Registry *prometheus.Registry

	requests  *prometheus.CounterVec
	responses *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	rejected  *prometheus.CounterVec

	tcpOpen      *prometheus.CounterVec
	tcpOpenConns *prometheus.GaugeVec
	tcpClose     *prometheus.CounterVec
	tcpRead      *prometheus.CounterVec
	tcpWrite     *prometheus.CounterVec
	detect       *prometheus.CounterVec

	authorities bounded
}

// New registers the proxy metrics, plus Go runtime and process collectors,
// in a fresh registry.
func New() *Proxy {
	p := &Proxy{Registry: prometheus.NewRegistry(), authorities: bounded{max: MaxAuthorities}}
	httpLabels := []string{"direction", "authority", "tls"}
	respLabels := append(append([]string{}, httpLabels...), "status_code", "classification", "grpc_status")
	tcpLabels := []string{"direction", "tls"}
	p.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "request_total", Help: "Total count of HTTP requests.",
	}, httpLabels)
	p.responses = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "response_total", Help: "Total count of HTTP responses.",
	}, respLabels)
	p.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "response_latency_ms", Help: "Elapsed times between a request's headers being received and its response stream completing, in milliseconds.",
		Buckets: LatencyBucketsMs,
	}, respLabels)
	p.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "request_rejected_total", Help: "Total count of HTTP requests the proxy refused itself as malformed or too large, by status code.",
	}, []string{"direction", "status_code"})
	p.tcpOpen = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tcp_open_total", Help: "Total count of opened connections.",
	}, tcpLabels)
	p.tcpOpenConns = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tcp_open_connections", Help: "Number of currently-open connections.",
	}, tcpLabels)
	p.tcpClose = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tcp_close_total", Help: "Total count of closed connections.",
	}, append(append([]string{}, tcpLabels...), "error"))
	p.tcpRead = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tcp_read_bytes_total", Help: "Total count of bytes read from peers.",
	}, tcpLabels)
	p.tcpWrite = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tcp_write_bytes_total", Help: "Total count of bytes written to peers.",
	}, tcpLabels)
	p.detect = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "protocol_detect_total", Help: "Total count of protocol detections, by result.",
	}, []string{"direction", "result"})
	p.Registry.MustRegister(p.requests, p.responses, p.latency, p.rejected,
		p.tcpOpen, p.tcpOpenConns, p.tcpClose, p.tcpRead, p.tcpWrite, p.detect,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return p
}

// HTTPLabels identify a stream of requests.
type HTTPLabels struct {
	Direction string
	Authority string
	TLS       bool
}

func (l HTTPLabels) values(b *bounded) []string {
	return []string{l.Direction, b.value(l.Authority), strconv.FormatBool(l.TLS)}
}

// Request counts a request whose headers arrived.
func (p *Proxy) Request(l HTTPLabels) {
	p.requests.WithLabelValues(l.values(&p.authorities)...).Inc()
}

// Response records a finished response: its status, whether it counts as a
// failure (5xx, a gRPC status other than OK, no response at all, or one
// reset before it was complete), its gRPC status ("" when not gRPC) and its
// latency.
func (p *Proxy) Response(l HTTPLabels, status int, grpcStatus string, reset bool, latencyMs float64) {
	class := Classify(status, grpcStatus)
	if reset {
		class = "failure"
	}
	v := append(l.values(&p.authorities), statusLabel(status), class, grpcStatus)
	p.responses.WithLabelValues(v...).Inc()
	p.latency.WithLabelValues(v...).Observe(latencyMs)
}

// Classify is Linkerd's response classification: "failure" for a 5xx, a
// missing status, or a gRPC status other than 0; "success" otherwise.
func Classify(status int, grpcStatus string) string {
	if status >= 500 || status == 0 || (grpcStatus != "" && grpcStatus != "0") {
		return "failure"
	}
	return "success"
}

// Rejected counts a request the proxy refused before handling it.
func (p *Proxy) Rejected(direction string, status int) {
	p.rejected.WithLabelValues(direction, statusLabel(status)).Inc()
}

// Detected counts a protocol detection outcome.
func (p *Proxy) Detected(direction, result string) {
	p.detect.WithLabelValues(direction, result).Inc()
}

// TCPOpen counts an accepted connection and returns the function that
// records its end with the bytes read from and written to the client, and
// the error it ended with ("" for a clean close).
func (p *Proxy) TCPOpen(direction string, tls bool) func(read, written int64, errLabel string) {
	t := strconv.FormatBool(tls)
	p.tcpOpen.WithLabelValues(direction, t).Inc()
	g := p.tcpOpenConns.WithLabelValues(direction, t)
	g.Inc()
	return func(read, written int64, errLabel string) {
		g.Dec()
		p.tcpClose.WithLabelValues(direction, t, errLabel).Inc()
		p.tcpRead.WithLabelValues(direction, t).Add(float64(read))
		p.tcpWrite.WithLabelValues(direction, t).Add(float64(written))
	}
}

// statusLabel renders an HTTP status; out-of-range codes become "".
func statusLabel(status int) string {
	if status < 100 || status > 999 {
		return ""
	}
	return strconv.Itoa(status)
}

// bounded admits at most max distinct label values.
type bounded struct {
	max  int
	mu   sync.RWMutex
	seen map[string]struct{}
}

func (b *bounded) value(v string) string {
	if len(v) > 253 || !utf8.ValidString(v) {
		return Overflow
	}
	b.mu.RLock()
	_, ok := b.seen[v]
	n := len(b.seen)
	b.mu.RUnlock()
	if ok {
		return v
	}
	if n >= b.max {
		return Overflow
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen == nil {
		b.seen = make(map[string]struct{})
	}
	if len(b.seen) >= b.max {
		if _, ok := b.seen[v]; !ok {
			return Overflow
		}
	}
	b.seen[v] = struct{}{}
	return v
}
