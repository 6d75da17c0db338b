// Package admin is the admin endpoints every meshlite binary serves:
//
//	GET  /live        200 while the process runs
//	GET  /ready       200 while the component serves, 503 otherwise
//	GET  /metrics     Prometheus exposition of its registry
//	GET  /logs/level  the current log level (operators only)
//	PUT  /logs/level  set the log level, body a level name (operators only)
//
// NewMux returns them on a mux the component may add its own endpoints to.
package admin

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/meshlite/meshlite/internal/logging"
)

// Config is what the common endpoints expose.
type Config struct {
	Registry *prometheus.Registry
	Level    *logging.Level
	// Ready reports whether the component serves; nil means always.
	Ready func() bool
	// Operator says whether a request may use the operator endpoints;
	// nil means clients on loopback only.
	Operator func(*http.Request) bool
}

// NewMux returns a mux serving the common endpoints.
func NewMux(cfg Config) *http.ServeMux {
	operator := cfg.Operator
	if operator == nil {
		operator = FromLoopback
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /live", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "live\n") //nolint:errcheck // best effort
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) {
		if cfg.Ready != nil && !cfg.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n") //nolint:errcheck // best effort
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/logs/level", func(w http.ResponseWriter, r *http.Request) {
		if !operator(r) {
			http.Error(w, "the log level is reachable from loopback or over mutual TLS by an authorized identity only", http.StatusForbidden)
			return
		}
		logLevel(cfg.Level, w, r)
	})
	return mux
}

func logLevel(lvl *logging.Level, w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		fmt.Fprintln(w, lvl.Get().String())
	case http.MethodPut, http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(r.Body, 64))
		if err != nil {
			http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
			return
		}
		l, err := logging.Parse(string(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		lvl.Set(l)
		fmt.Fprintln(w, l.String())
	default:
		w.Header().Set("Allow", "GET, PUT")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// FromLoopback reports whether r comes from a loopback address.
func FromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.Unmap().IsLoopback()
}
