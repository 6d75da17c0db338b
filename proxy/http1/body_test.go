package http1

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestExpectContinue(t *testing.T) {
	t.Run("sent on first read", func(t *testing.T) {
		ts := startServer(t, http.HandlerFunc(echoHandler))
		c := dial(t, ts)
		c.send("PUT /u HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
		if head := readHead(t, c.br); head != "HTTP/1.1 100 Continue\r\n\r\n" {
			t.Fatalf("got %q", head)
		}
		c.send("data")
		if resp, body := c.response("PUT"); body != "PUT /u HTTP/1.1 host=a body=data" || resp.Close {
			t.Fatalf("got %q close=%v", body, resp.Close)
		}
	})
	t.Run("not sent when the handler answers without reading", func(t *testing.T) {
		ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no", http.StatusForbidden)
		}))
		c := dial(t, ts)
		c.send("PUT /u HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
		resp, _ := c.response("PUT")
		if resp.StatusCode != 403 || !resp.Close {
			t.Fatalf("got %d close=%v, want 403 and close", resp.StatusCode, resp.Close)
		}
		c.expectClosed()
	})
}

func TestContentLengthMismatch(t *testing.T) {
	writeErr := make(chan error, 1)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		_, _ = io.WriteString(w, "12345")
		if r.URL.Path == "/more" {
			_, err := io.WriteString(w, "6789012")
			writeErr <- err
		}
	}))
	c := dial(t, ts)
	c.send("GET /more HTTP/1.1\r\nHost: a\r\n\r\n")
	if err := <-writeErr; !errors.Is(err, http.ErrContentLength) {
		t.Fatalf("writing past Content-Length: %v", err)
	}
	if _, _, err := c.tryResponse("GET"); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short body: %v, want unexpected EOF", err)
	}
	c.expectClosed()
}

func TestBodyDrain(t *testing.T) {
	ignore := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "2")
		_, _ = io.WriteString(w, "ok")
	})
	tests := []struct {
		name     string
		req      string
		wantKeep bool
	}{
		{"small length body", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1024\r\n\r\n" + strings.Repeat("x", 1024), true},
		{"small chunked body", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + strings.Repeat("x", 1024) + "\r\n0\r\n\r\n", true},
		{"large length body", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1048576\r\n\r\n" + strings.Repeat("x", 1<<20), false},
		{"large chunked body", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n" + strings.Repeat("x", 1<<20) + "\r\n0\r\n\r\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, ignore)
			c := dial(t, ts)
			go func() { _, _ = io.WriteString(c.nc, tc.req) }()
			resp, _ := c.response("POST")
			if resp.Close {
				t.Errorf("response announced close")
			}
			if !tc.wantKeep {
				c.expectClosed()
				return
			}
			c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			if _, body := c.response("GET"); body != "ok" {
				t.Fatalf("second response %q", body)
			}
		})
	}
}

func TestMalformedChunkedBody(t *testing.T) {
	tests := []struct{ name, body string }{
		{"bad size", "zz\r\nhello\r\n0\r\n\r\n"},
		{"missing CRLF after data", "5\r\nhelloX0\r\n\r\n"},
		{"bare LF size line", "5\nhello\r\n0\r\n\r\n"},
		{"space after size", "5 \r\nhello\r\n0\r\n\r\n"},
		{"size overflow", "fffffffffffffffff\r\nhello\r\n0\r\n\r\n"},
		{"CTL in extension", "5;a\x01\r\nhello\r\n0\r\n\r\n"},
		{"trailer obs-fold", "5\r\nhello\r\n0\r\nX: 1\r\n 2\r\n\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			readErr := make(chan error, 1)
			ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, err := io.ReadAll(r.Body)
				readErr <- err
				w.WriteHeader(http.StatusBadGateway)
			}))
			c := dial(t, ts)
			c.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + tc.body)
			if err := <-readErr; !errors.Is(err, ErrMalformedChunk) {
				t.Fatalf("body read error %v, want ErrMalformedChunk", err)
			}
			if resp, _ := c.response("POST"); resp.StatusCode != http.StatusBadGateway {
				t.Fatalf("status %d", resp.StatusCode)
			}
			c.expectClosed()
		})
	}
}

func TestTimeouts(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		ts := startServer(t, http.HandlerFunc(echoHandler), func(s *Server) { s.IdleTimeout = 100 * time.Millisecond })
		c := dial(t, ts)
		c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		c.response("GET")
		start := time.Now()
		c.expectClosed()
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("idle close took %v", d)
		}
		if err := ts.waitServeConn(t); err != nil {
			t.Errorf("ServeConn: %v", err)
		}
	})
	t.Run("header", func(t *testing.T) {
		ts := startServer(t, http.HandlerFunc(echoHandler), func(s *Server) { s.HeaderTimeout = 100 * time.Millisecond })
		c := dial(t, ts)
		c.send("GET / HTTP/1.1\r\nHost: a\r\n")
		resp, _ := c.response("GET")
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("status %d", resp.StatusCode)
		}
		c.expectClosed()
	})
}
