package metrics

import (
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/meshlite/meshlite/internal/version"
)

// LatencyBucketsMs are the response_latency_ms buckets, Linkerd's.
var LatencyBucketsMs = []float64{1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500,
	1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 40000, 50000}

// MaxAuthorities bounds the distinct values of the authority label.
const MaxAuthorities = 256

// MaxIdentities bounds the distinct values of the client_id and server_id
// labels.
const MaxIdentities = 1024

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
	authzDeny    *prometheus.CounterVec
	overflow     *prometheus.CounterVec
	healthReport *prometheus.CounterVec

	authorities bounded
	identities  bounded
}

// New registers the proxy metrics, plus Go runtime and process collectors,
// in a fresh registry.
func New() *Proxy {
	p := &Proxy{Registry: prometheus.NewRegistry(), authorities: bounded{max: MaxAuthorities, maxLen: 253}, identities: bounded{max: MaxIdentities, maxLen: 2048}}
	httpLabels := []string{"direction", "authority", "tls", "client_id", "server_id"}
	respLabels := append(append([]string{}, httpLabels...), "status_code", "classification", "grpc_status")
	tcpLabels := []string{"direction", "tls", "client_id", "server_id"}
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
	p.authzDeny = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "inbound_authz_deny_total", Help: "Total count of inbound requests (HTTP) and connections (TCP) denied by authorization policy or peer authentication, by deciding policy.",
	}, []string{"protocol", "policy"})
	p.Registry.MustRegister(p.authzDeny)
	p.overflow = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "request_overflow_total", Help: "Total count of requests and connections refused with 503 because a connection-pool limit was reached, by limit.",
	}, []string{"direction", "limit"})
	p.Registry.MustRegister(p.overflow)
	p.healthReport = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "endpoint_health_reports_total", Help: "Total count of passive health observations (endpoints set aside after connection failures, or put back) sent to the destination service, by result (sent, failed: to be sent again).",
	}, []string{"result"})
	p.Registry.MustRegister(p.healthReport)
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "proxy_build_info", Help: "The meshlite version of this proxy, as a label; always 1.",
	}, []string{"version"})
	build.WithLabelValues(version.Get()).Set(1)
	p.Registry.MustRegister(build)
	p.Registry.MustRegister(p.requests, p.responses, p.latency, p.rejected,
		p.tcpOpen, p.tcpOpenConns, p.tcpClose, p.tcpRead, p.tcpWrite, p.detect,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return p
}

// HTTPLabels identify a stream of requests. ClientID and ServerID are the
// SPIFFE IDs at both ends of the mutual TLS hop the request travelled (for
// inbound requests the peer and this proxy, for outbound ones this proxy
// and the endpoint's), empty when the hop was plaintext.
type HTTPLabels struct {
	Direction string
	Authority string
	TLS       bool
	ClientID  string
	ServerID  string
}

func (p *Proxy) httpValues(l HTTPLabels, extra ...string) []string {
	v := make([]string, 0, 5+len(extra))
	v = append(v, l.Direction, p.authorities.value(l.Authority), strconv.FormatBool(l.TLS),
		p.identities.value(l.ClientID), p.identities.value(l.ServerID))
	return append(v, extra...)
}

// Request records a finished request: request_total, and response_total
// and response_latency_ms with its status, whether it counts as a failure
// (5xx, a gRPC status other than OK, no response at all, or one reset
// before it was complete), its gRPC status ("" when not gRPC) and its
// latency. Requests are counted when they complete, so that every label,
// the endpoint's identity included, is known.
func (p *Proxy) Request(l HTTPLabels, status int, grpcStatus string, reset bool, latencyMs float64) {
	p.requests.WithLabelValues(p.httpValues(l)...).Inc()
	class := Classify(status, grpcStatus)
	if reset {
		class = "failure"
	}
	v := p.httpValues(l, statusLabel(status), class, grpcStatus)
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

// Overflow counts a request or connection refused because the named
// connection-pool limit was reached.
func (p *Proxy) Overflow(direction, limit string) {
	p.overflow.WithLabelValues(direction, limit).Inc()
}

// HealthReported counts n passive health observations sent to the
// destination service (err nil) or not (to be sent again).
func (p *Proxy) HealthReported(n int, err error) {
	result := "sent"
	if err != nil {
		result = "failed"
	}
	p.healthReport.WithLabelValues(result).Add(float64(n))
}

// AuthzDenied counts an inbound request ("http") or connection ("tcp")
// denied by policy (the policy's "namespace/name", "default-deny", or
// "peer-authentication").
func (p *Proxy) AuthzDenied(protocol, policy string) {
	p.authzDeny.WithLabelValues(protocol, p.identities.value(policy)).Inc()
}

// Detected counts a protocol detection outcome.
func (p *Proxy) Detected(direction, result string) {
	p.detect.WithLabelValues(direction, result).Inc()
}

// TCPLabels identify a connection: its direction and, for a mutual TLS
// connection between proxies, the identities at both ends.
type TCPLabels struct {
	Direction string
	TLS       bool
	ClientID  string
	ServerID  string
}

// TCPOpen counts an opened connection and returns the function that
// records its end with the bytes read from and written to the client, and
// the error it ended with ("" for a clean close).
func (p *Proxy) TCPOpen(l TCPLabels) func(read, written int64, errLabel string) {
	v := []string{l.Direction, strconv.FormatBool(l.TLS), p.identities.value(l.ClientID), p.identities.value(l.ServerID)}
	p.tcpOpen.WithLabelValues(v...).Inc()
	g := p.tcpOpenConns.WithLabelValues(v...)
	g.Inc()
	return func(read, written int64, errLabel string) {
		g.Dec()
		p.tcpClose.WithLabelValues(append(v, errLabel)...).Inc()
		p.tcpRead.WithLabelValues(v...).Add(float64(read))
		p.tcpWrite.WithLabelValues(v...).Add(float64(written))
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
	max    int
	maxLen int
	mu     sync.RWMutex
	seen   map[string]struct{}
}

func (b *bounded) value(v string) string {
	if len(v) > b.maxLen || !utf8.ValidString(v) {
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
