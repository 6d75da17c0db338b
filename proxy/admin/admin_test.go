package admin

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/meshlite/meshlite/internal/logging"
)

func TestAdminEndpoints(t *testing.T) {
	_, lvl := logging.New(io.Discard, zerolog.InfoLevel)
	var ready atomic.Bool
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "request_total", Help: "x"})
	reg.MustRegister(c)
	c.Inc()
	srv := httptest.NewServer(Handler(Config{Registry: reg, Level: lvl, Ready: ready.Load}))
	defer srv.Close()

	do := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := do("GET", "/live", ""); code != 200 {
		t.Errorf("/live = %d", code)
	}
	if code, _ := do("GET", "/ready", ""); code != 503 {
		t.Errorf("/ready before ready = %d, want 503", code)
	}
	ready.Store(true)
	if code, _ := do("GET", "/ready", ""); code != 200 {
		t.Errorf("/ready = %d", code)
	}
	if code, body := do("GET", "/metrics", ""); code != 200 || !strings.Contains(body, "request_total 1") {
		t.Errorf("/metrics = %d %q", code, body)
	}
	if code, body := do("GET", "/logs/level", ""); code != 200 || strings.TrimSpace(body) != "info" {
		t.Errorf("GET /logs/level = %d %q", code, body)
	}
	if code, _ := do("PUT", "/logs/level", "debug"); code != 200 || lvl.Get() != zerolog.DebugLevel {
		t.Errorf("PUT /logs/level = %d, level %v", code, lvl.Get())
	}
	if code, body := do("PUT", "/logs/level", "loud"); code != 400 || !strings.Contains(body, "loud") {
		t.Errorf("PUT bad level = %d %q", code, body)
	}
	if code, _ := do("DELETE", "/logs/level", ""); code != 405 {
		t.Errorf("DELETE /logs/level = %d", code)
	}
}

func TestLogLevelRefusesRemoteClients(t *testing.T) {
	_, lvl := logging.New(io.Discard, zerolog.InfoLevel)
	h := Handler(Config{Registry: prometheus.NewRegistry(), Level: lvl})
	req := httptest.NewRequest("PUT", "/logs/level", strings.NewReader("debug"))
	req.RemoteAddr = "10.1.2.3:5555"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || lvl.Get() != zerolog.InfoLevel {
		t.Fatalf("remote PUT = %d, level %v", rec.Code, lvl.Get())
	}
}
