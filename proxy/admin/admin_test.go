package admin

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/meshlite/meshlite/internal/logging"
	"github.com/meshlite/meshlite/proxy/tap"
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

func TestTapStreams(t *testing.T) {
	_, lvl := logging.New(io.Discard, zerolog.InfoLevel)
	hub := tap.NewHub()
	srv := httptest.NewServer(Handler(Config{Registry: prometheus.NewRegistry(), Level: lvl, Tap: hub}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/tap")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("/tap: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	for !hub.Active() {
		time.Sleep(time.Millisecond)
	}
	hub.Publish(tap.Event{Time: time.Now(), Direction: "inbound", Method: "GET", Path: "/x", Status: 200})
	var e tap.Event
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Path != "/x" || e.Status != 200 {
		t.Fatalf("event %+v, %v", e, err)
	}
}

func TestTapRefusesRemoteClients(t *testing.T) {
	_, lvl := logging.New(io.Discard, zerolog.InfoLevel)
	h := Handler(Config{Registry: prometheus.NewRegistry(), Level: lvl, Tap: tap.NewHub(),
		Authorized: func(spiffeid.ID) bool { return true }})
	req := httptest.NewRequest("GET", "/tap", nil)
	req.RemoteAddr = "10.1.2.3:5555" // not loopback, and no client certificate
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("remote /tap without mutual TLS = %d", rec.Code)
	}
}

func TestShutdownEndpoint(t *testing.T) {
	_, lvl := logging.New(io.Discard, zerolog.InfoLevel)
	called := make(chan struct{}, 1)
	h := Handler(Config{Registry: prometheus.NewRegistry(), Level: lvl, Shutdown: func() { called <- struct{}{} }})
	remote := httptest.NewRequest("POST", "/shutdown", nil)
	remote.RemoteAddr = "10.1.2.3:5555"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, remote)
	if rec.Code != http.StatusForbidden || len(called) != 0 {
		t.Fatalf("remote POST /shutdown = %d", rec.Code)
	}
	local := httptest.NewRequest("POST", "/shutdown", nil)
	local.RemoteAddr = "127.0.0.1:5555"
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, local)
	if rec.Code != http.StatusOK || len(called) != 1 {
		t.Fatalf("loopback POST /shutdown = %d, called %d", rec.Code, len(called))
	}
	// Without Shutdown configured the endpoint does not exist.
	rec = httptest.NewRecorder()
	Handler(Config{Registry: prometheus.NewRegistry(), Level: lvl}).ServeHTTP(rec, httptest.NewRequest("POST", "/shutdown", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("POST /shutdown without the endpoint = %d", rec.Code)
	}
}
