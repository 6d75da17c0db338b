package admin

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/meshlite/meshlite/internal/logging"
	"github.com/meshlite/meshlite/proxy/accesslog"
)

// TestLogsForOperatorsOnly: /logs answers loopback clients, and refuses
// others that bring no authorized identity; /logs/level is unaffected.
func TestLogsForOperatorsOnly(t *testing.T) {
	_, lvl := logging.New(io.Discard, zerolog.InfoLevel)
	ring := accesslog.NewRing(10)
	io.WriteString(ring, `{"log":"access","status":200}`+"\n")
	h := Handler(Config{Registry: prometheus.NewRegistry(), Level: lvl, Logs: accesslog.Handler(accesslog.HandlerConfig{Ring: ring}),
		Authorized: func(spiffeid.ID) bool { return true }})
	for _, tc := range []struct {
		remote, path string
		want         int
		body         string
	}{
		{"127.0.0.1:5555", "/logs", 200, `{"log":"access","status":200}` + "\n"},
		{"[::1]:5555", "/logs", 200, `{"log":"access","status":200}` + "\n"},
		{"10.1.2.3:5555", "/logs", 403, ""},
		{"127.0.0.1:5555", "/logs/level", 200, "info\n"},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		req.RemoteAddr = tc.remote
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want || (tc.body != "" && rec.Body.String() != tc.body) {
			t.Errorf("GET %s from %s = %d %q, want %d %q", tc.path, tc.remote, rec.Code, rec.Body, tc.want, tc.body)
		}
	}
	// Without a ring there is no /logs.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/logs", nil)
	req.RemoteAddr = "127.0.0.1:1"
	Handler(Config{Registry: prometheus.NewRegistry(), Level: lvl}).ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound {
		t.Errorf("/logs without a ring = %d, want 404", rec.Code)
	}
}
