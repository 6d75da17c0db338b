package loadgen

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// h2Only answers 500 to anything but HTTP/2, so a fallback would be noticed.
func h2Only(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor != 2 {
		http.Error(w, "not http/2", http.StatusInternalServerError)
		return
	}
	okHandler(w, r)
}

// chunkedHandler forces a chunked body of several chunks.
func chunkedHandler(w http.ResponseWriter, _ *http.Request) {
	for range 3 {
		_, _ = io.WriteString(w, strings.Repeat("x", 1000))
		w.(http.Flusher).Flush()
	}
}

// TestTargets runs each protocol against a real local server.
func TestTargets(t *testing.T) {
	tests := []struct {
		name        string
		target      func(t *testing.T) (Target, error)
		wantInFight int
	}{
		{"http1", func(t *testing.T) (Target, error) {
			srv := httptest.NewServer(http.HandlerFunc(okHandler))
			t.Cleanup(srv.Close)
			return NewHTTP1(testCtx(t), HTTP1Config{URL: srv.URL + "/a?b=c", Conns: 4, Header: http.Header{"X-Test": {"1"}}})
		}, 4},
		{"http1 chunked", func(t *testing.T) (Target, error) {
			srv := httptest.NewServer(http.HandlerFunc(chunkedHandler))
			t.Cleanup(srv.Close)
			return NewHTTP1(testCtx(t), HTTP1Config{URL: srv.URL, Conns: 4})
		}, 4},
		{"http1 churn", func(t *testing.T) (Target, error) {
			srv := httptest.NewServer(http.HandlerFunc(okHandler))
			t.Cleanup(srv.Close)
			return NewHTTP1(testCtx(t), HTTP1Config{URL: srv.URL, Conns: 4, Churn: true})
		}, 4},
		{"h2c x/net server", func(t *testing.T) (Target, error) {
			return NewHTTP2(testCtx(t), HTTP2Config{URL: newH2CServer(t, http.HandlerFunc(h2Only)), Conns: 4})
		}, 4},
		{"h2c net/http server, streams", func(t *testing.T) (Target, error) {
			return NewHTTP2(testCtx(t), HTTP2Config{URL: newStdH2CServer(t, http.HandlerFunc(h2Only)), Conns: 2, Streams: 4})
		}, 8},
		{"grpc health", func(t *testing.T) (Target, error) {
			addr, _ := newGRPCServer(t)
			return NewGRPC(testCtx(t), GRPCConfig{Addr: addr, Conns: 2, Streams: 2})
		}, 4},
		{"tcp echo", func(t *testing.T) (Target, error) {
			return NewTCP(testCtx(t), TCPConfig{Addr: newEchoServer(t), Conns: 4, Size: 100})
		}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tg, err := tt.target(t)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = tg.Close() })
			res := run(t, tg, Options{Rate: 300, Duration: 300 * time.Millisecond, Warmup: 50 * time.Millisecond})
			if res.Requests != 90 || res.Errors != 0 || res.MaxInFlight != tt.wantInFight {
				t.Errorf("requests %d errors %v in flight %d, want 90, none, %d",
					res.Requests, res.ErrorKinds, res.MaxInFlight, tt.wantInFight)
			}
			if res.Latency.P50 <= 0 || res.Histogram().Count() != 90 || res.Target == "" {
				t.Errorf("latency %+v target %q", res.Latency, res.Target)
			}
		})
	}
}

// TestTargetErrors: protocol-level failures get their own kinds.
func TestTargetErrors(t *testing.T) {
	tests := []struct {
		name   string
		target func(t *testing.T) (Target, error)
		kind   string
	}{
		{"h2c 503", func(t *testing.T) (Target, error) {
			url := newH2CServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusServiceUnavailable)
			}))
			return NewHTTP2(testCtx(t), HTTP2Config{URL: url})
		}, "status 503"},
		{"grpc not serving", func(t *testing.T) (Target, error) {
			addr, hs := newGRPCServer(t)
			hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
			return NewGRPC(testCtx(t), GRPCConfig{Addr: addr})
		}, "not serving"},
		{"grpc unknown service", func(t *testing.T) (Target, error) {
			addr, _ := newGRPCServer(t)
			return NewGRPC(testCtx(t), GRPCConfig{Addr: addr, Invoke: HealthCheck("no.such.Service")})
		}, "grpc NotFound"},
		{"tcp mismatch", func(t *testing.T) (Target, error) {
			ln := listen(t)
			serveConns(t, ln, func(c net.Conn) {
				buf := make([]byte, 16)
				for {
					if _, err := io.ReadFull(c, buf); err != nil {
						return
					}
					buf[0]++
					if _, err := c.Write(buf); err != nil {
						return
					}
				}
			})
			return NewTCP(testCtx(t), TCPConfig{Addr: ln.Addr().String(), Size: 16})
		}, "mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tg, err := tt.target(t)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = tg.Close() })
			res := run(t, tg, Options{Rate: 100, Duration: 200 * time.Millisecond})
			if res.Requests != 20 || res.ErrorKinds[tt.kind] != 20 {
				t.Errorf("requests %d errors %v, want 20 %q", res.Requests, res.ErrorKinds, tt.kind)
			}
		})
	}
}

// TestConstructorsRefused: opening connections up front fails fast and
// reports the refusal.
func TestConstructorsRefused(t *testing.T) {
	addr := closedAddr(t)
	ctx := testCtx(t)
	for name, open := range map[string]func() error{
		"http1": func() error { _, err := NewHTTP1(ctx, HTTP1Config{URL: "http://" + addr}); return err },
		"h2c":   func() error { _, err := NewHTTP2(ctx, HTTP2Config{URL: "http://" + addr}); return err },
		"tcp":   func() error { _, err := NewTCP(ctx, TCPConfig{Addr: addr}); return err },
		"grpc": func() error {
			_, err := NewGRPC(ctx, GRPCConfig{Addr: addr, DialTimeout: time.Second})
			return err
		},
	} {
		err := open()
		if err == nil {
			t.Errorf("%s: no error", name)
		} else if name != "grpc" && errorKind(err) != "refused" {
			t.Errorf("%s: %v is not a refusal", name, err)
		}
	}
	for name, cfg := range map[string]HTTP1Config{
		"https": {URL: "https://example.com/"},
		"empty": {},
	} {
		if _, err := NewHTTP1(ctx, cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
}
