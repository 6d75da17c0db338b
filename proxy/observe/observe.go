// Package observe is the HTTP layer that records what the proxy sees: the
// request and response metrics and one access-log line per request.
package observe

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/meshlite/meshlite/proxy/conninfo"
	"github.com/meshlite/meshlite/proxy/metrics"
	"github.com/meshlite/meshlite/proxy/tap"
	"github.com/meshlite/meshlite/proxy/trace"
)

// Config says where observations go.
type Config struct {
	Metrics *metrics.Proxy
	// AccessLog receives one line per request; nil turns access logs off.
	AccessLog *zerolog.Logger
	// Tap receives an event per request while someone watches; optional.
	Tap *tap.Hub
}

// Middleware returns the observing layer around next.
func Middleware(cfg Config) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			serve(cfg, next, w, r)
		})
	}
}

func serve(cfg Config, next http.Handler, w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	info := conninfo.From(r.Context())
	hop := &conninfo.Hop{}
	r = r.WithContext(conninfo.WithHop(r.Context(), hop))
	traceID, spanID, traced := trace.IDs(r)
	rec := &recorder{ResponseWriter: w}
	body := &countingBody{ReadCloser: r.Body}
	r.Body = body
	panicked := true
	defer func() {
		status := rec.status
		grpcStatus := grpcStatusOf(w.Header())
		if panicked && grpcStatus == "" && isGRPCResponse(w.Header()) {
			grpcStatus = "2" // stream reset mid-response: UNKNOWN to the client
		}
		labels := hopLabels(info, hop, r.Host)
		elapsed := time.Since(start)
		latencyMs := float64(elapsed.Microseconds()) / 1000
		cfg.Metrics.Request(labels, status, grpcStatus, panicked, latencyMs)
		trace.Observe(r.Context(), trace.Outcome{Status: status, GRPCStatus: grpcStatus, Reset: panicked, Endpoint: hop.Endpoint,
			TLS: labels.TLS, ClientID: labels.ClientID, ServerID: labels.ServerID, Route: hop.Route, Retries: hop.Retries})
		if cfg.Tap != nil && cfg.Tap.Active() {
			e := tap.Event{Time: start.Add(elapsed), Direction: labels.Direction, Kind: "http", Client: r.RemoteAddr,
				ClientID: labels.ClientID, Authority: r.Host, ServerID: labels.ServerID, TLS: labels.TLS,
				Method: r.Method, Path: r.URL.Path, Route: hop.Route, Status: status, GRPC: grpcStatus, LatencyMs: latencyMs,
				Success: !panicked && metrics.Classify(status, grpcStatus) == "success"}
			if info != nil {
				e.Dst = info.OrigDst.String()
			}
			if hop.Endpoint.IsValid() {
				e.Endpoint = hop.Endpoint.String()
			}
			cfg.Tap.Publish(e)
		}
		if cfg.AccessLog != nil {
			ev := cfg.AccessLog.Info().
				Str("kind", "http").
				Str("direction", labels.Direction).
				Str("client", r.RemoteAddr).
				Str("authority", r.Host).
				Str("method", r.Method).
				Str("path", r.URL.Path).
				Str("proto", r.Proto).
				Int("status", status).
				Float64("duration_ms", latencyMs).
				Int64("request_bytes", body.n).
				Int64("response_bytes", rec.written).
				Bool("tls", labels.TLS)
			if info != nil {
				ev = ev.Str("dst", info.OrigDst.String())
			}
			if hop.Endpoint.IsValid() {
				ev = ev.Str("endpoint", hop.Endpoint.String())
			}
			if labels.ClientID != "" {
				ev = ev.Str("client_id", labels.ClientID)
			}
			if labels.ServerID != "" {
				ev = ev.Str("server_id", labels.ServerID)
			}
			if grpcStatus != "" {
				ev = ev.Str("grpc_status", grpcStatus)
			}
			if hop.Route != "" {
				ev = ev.Str("route", hop.Route)
			}
			if traced {
				ev = ev.Hex("trace_id", traceID[:]).Hex("span_id", spanID[:])
			}
			if panicked {
				ev = ev.Bool("reset", true)
			}
			ev.Send()
		}
	}()
	next.ServeHTTP(rec, r)
	panicked = false
}

// hopLabels names a request's hop: inbound, the connection's mutual TLS
// (peer → this proxy); outbound, the hop to the chosen endpoint (this proxy
// → the endpoint's).
func hopLabels(info *conninfo.Info, hop *conninfo.Hop, authority string) metrics.HTTPLabels {
	l := metrics.HTTPLabels{Authority: authority}
	if info == nil {
		return l
	}
	l.Direction = string(info.Direction)
	if info.Direction == conninfo.Inbound {
		if info.TLS {
			l.TLS, l.ClientID, l.ServerID = true, info.Peer.String(), info.Self.String()
		}
		return l
	}
	if hop.TLS {
		l.TLS, l.ClientID, l.ServerID = true, info.Self.String(), hop.ServerID.String()
	}
	return l
}

// grpcStatusOf finds grpc-status among the response headers or trailers.
func grpcStatusOf(h http.Header) string {
	if v := h.Get("Grpc-Status"); v != "" {
		return v
	}
	return h.Get(http.TrailerPrefix + "Grpc-Status")
}

func isGRPCResponse(h http.Header) bool {
	ct := h.Get("Content-Type")
	return len(ct) >= 16 && ct[:16] == "application/grpc"
}

// recorder notes the status and body size of a response.
type recorder struct {
	http.ResponseWriter
	status  int
	written int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.written += int64(n)
	return n, err
}

// Hijack hands the connection to an upgrade; the request then counts as
// 101 Switching Protocols.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil && r.status == 0 {
		r.status = http.StatusSwitchingProtocols
	}
	return c, brw, err
}

// Flush passes a flush through.
func (r *recorder) Flush() {
	http.NewResponseController(r.ResponseWriter).Flush() //nolint:errcheck // http.Flusher has no error
}

// FlushError passes a flush through and reports its error.
func (r *recorder) FlushError() error {
	return http.NewResponseController(r.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach Flush and Hijack.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// countingBody counts request body bytes.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}
