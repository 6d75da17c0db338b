// Package admin serves the proxy's admin endpoints:
//
//	GET  /live        200 while the process runs
//	GET  /ready       200 once the proxy serves traffic, 503 before and while draining
//	GET  /metrics     Prometheus exposition of the proxy's metrics
//	GET  /logs/level  the current log level
//	PUT  /logs/level  set the log level (body: a level name)
//	GET  /tap         live request events, newline-delimited JSON
//	POST /shutdown    stop gracefully (when enabled; loopback clients only)
//	GET  /logs        recent and live access-log lines, newline-delimited JSON
//
// The log level, the tap and the logs are for operators only: they answer
// clients on loopback, and clients presenting over mutual TLS (the same
// port speaks TLS when a client starts with a ClientHello) an identity the
// configuration authorizes, by default the mesh's control-plane namespace.
package admin

import (
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"github.com/meshlite/meshlite/internal/admin"
	"github.com/meshlite/meshlite/internal/logging"
	"github.com/meshlite/meshlite/proxy/tap"
)

// Config is what the admin endpoints expose.
type Config struct {
	Registry *prometheus.Registry
	Level    *logging.Level
	// Ready reports whether the proxy serves traffic.
	Ready func() bool
	// Tap streams request events; nil disables /tap.
	Tap *tap.Hub
	// Logs serves /logs (see accesslog.Handler); nil disables it.
	Logs http.Handler
	// Authorized says whether a client over mutual TLS, by SPIFFE ID, may
	// use the operator endpoints; nil allows loopback clients only.
	Authorized func(spiffeid.ID) bool
	// Shutdown, when set, serves POST /shutdown from loopback: the
	// application of a Job asks its (classic, non-native) sidecar to stop.
	Shutdown func()
}

// Handler returns the admin mux.
func Handler(cfg Config) http.Handler {
	mux := admin.NewMux(admin.Config{Registry: cfg.Registry, Level: cfg.Level, Ready: cfg.Ready,
		Operator: func(r *http.Request) bool { return operator(cfg, r) }})
	if cfg.Shutdown != nil {
		mux.HandleFunc("POST /shutdown", func(w http.ResponseWriter, r *http.Request) {
			if !admin.FromLoopback(r) {
				http.Error(w, "shutdown is only reachable from loopback", http.StatusForbidden)
				return
			}
			io.WriteString(w, "shutting down\n") //nolint:errcheck // best effort
			cfg.Shutdown()
		})
	}
	if cfg.Tap != nil {
		mux.HandleFunc("GET /tap", func(w http.ResponseWriter, r *http.Request) {
			if !operator(cfg, r) {
				http.Error(w, "the tap is reachable from loopback or over mutual TLS by an authorized identity only", http.StatusForbidden)
				return
			}
			serveTap(cfg.Tap, w, r)
		})
	}
	if cfg.Logs != nil {
		mux.HandleFunc("GET /logs", func(w http.ResponseWriter, r *http.Request) {
			if !operator(cfg, r) {
				http.Error(w, "the logs are reachable from loopback or over mutual TLS by an authorized identity only", http.StatusForbidden)
				return
			}
			cfg.Logs.ServeHTTP(w, r)
		})
	}
	return mux
}

// operator reports whether r may use the operator endpoints.
func operator(cfg Config, r *http.Request) bool {
	if admin.FromLoopback(r) {
		return true
	}
	if cfg.Authorized == nil || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return false
	}
	id, err := x509svid.IDFromCert(r.TLS.PeerCertificates[0])
	return err == nil && cfg.Authorized(id)
}

// Tap limits: a watcher gets at most tapRate events per second, and
// tapQueue waiting; more are dropped.
const (
	tapRate  = 1000
	tapQueue = 4096
)

// serveTap streams events as newline-delimited JSON until the client goes.
func serveTap(hub *tap.Hub, w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	watcher := hub.Watch(tapQueue, tapRate)
	defer watcher.Close()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc.Flush() //nolint:errcheck // the next write notices a gone client
	for {
		select {
		case <-r.Context().Done():
			return
		case e := <-watcher.Events():
			line, err := e.MarshalLine()
			if err != nil {
				continue
			}
			if _, err := w.Write(line); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
}
