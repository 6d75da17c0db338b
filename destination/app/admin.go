package app

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

// adminHandler serves
//
//	GET  /live        200 while the process runs
//	GET  /ready       200 once the registry is loaded (and, with mTLS, the SVID is there); 503 otherwise
//	GET  /metrics     Prometheus exposition
//	GET  /logs/level  the log level
//	PUT  /logs/level  set the log level (body: a level name); loopback only
func adminHandler(reg *prometheus.Registry, lvl *logging.Level, ready func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /live", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "live\n") //nolint:errcheck // best effort
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) {
		if !ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n") //nolint:errcheck // best effort
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/logs/level", func(w http.ResponseWriter, r *http.Request) {
		if !fromLoopback(r) {
			http.Error(w, "log level is only reachable from loopback", http.StatusForbidden)
			return
		}
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
	})
	return mux
}

func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.Unmap().IsLoopback()
}
