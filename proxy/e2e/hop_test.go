package e2e

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

// rawRequest is a request as a backend received it, with the exact bytes
// of its head.
type rawRequest struct {
	head   string
	header http.Header
	body   string
}

// rawBackend is an HTTP/1.1 server that records every request head
// byte for byte and answers each with response, a complete raw HTTP/1.1
// response. It counts connections and bytes received.
type rawBackend struct {
	addr     string
	requests chan rawRequest
	conns    chan struct{}
}

func newRawBackend(t *testing.T, response string) *rawBackend {
	t.Helper()
	ln := listen(t)
	b := &rawBackend{addr: ln.Addr().String(), requests: make(chan rawRequest, 64), conns: make(chan struct{}, 64)}
	serveTCP(t, ln, func(c net.Conn) {
		b.conns <- struct{}{}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		br := bufio.NewReader(c)
		for {
			var head bytes.Buffer
			tp := textproto.NewReader(bufio.NewReader(io.TeeReader(br, &head)))
			// Read the head line by line so that only its bytes are
			// recorded, then let net/http parse it.
			for {
				line, err := tp.ReadLine()
				if err != nil {
					return
				}
				if line == "" {
					break
				}
			}
			req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head.Bytes())))
			if err != nil {
				return
			}
			req.Body = http.MaxBytesReader(nil, io.NopCloser(io.LimitReader(br, req.ContentLength)), 1<<20)
			body, _ := io.ReadAll(req.Body)
			b.requests <- rawRequest{head: head.String(), header: req.Header, body: string(body)}
			if _, err := io.WriteString(c, response); err != nil {
				return
			}
		}
	})
	return b
}

// TestHopByHop checks that hop-by-hop fields are removed in both
// directions, end-to-end ones pass untouched, and the proxy adds none of
// its own.
func TestHopByHop(t *testing.T) {
	t.Parallel()
	const response = "HTTP/1.1 200 OK\r\n" +
		"Connection: X-Resp-Hop, keep-alive\r\n" +
		"X-Resp-Hop: secret\r\n" +
		"Keep-Alive: timeout=9, max=100\r\n" +
		"Proxy-Connection: keep-alive\r\n" +
		"Upgrade: h2c\r\n" +
		"X-End-To-End: Kept  as-is;q=0.5\r\n" +
		"Set-Cookie: a=1\r\n" +
		"Set-Cookie: b=2\r\n" +
		"Content-Encoding: gzip\r\n" +
		"Content-Length: 4\r\n" +
		"\r\n" +
		"\x1f\x8b\x08\x00"
	be := newRawBackend(t, response)
	p := startProxy(t, dstFunc(be.addr))

	tests := []struct {
		name    string
		headers string   // request header lines
		removed []string // must not reach the backend
		kept    []string // must reach it exactly ("Name: value")
	}{{
		name:    "connection-named",
		headers: "Connection: X-Hop, keep-alive\r\nX-Hop: 1\r\n",
		removed: []string{"Connection", "X-Hop"},
	}, {
		name:    "keep-alive",
		headers: "Keep-Alive: timeout=5\r\n",
		removed: []string{"Keep-Alive"},
	}, {
		name:    "proxy-connection",
		headers: "Proxy-Connection: keep-alive\r\n",
		removed: []string{"Proxy-Connection"},
	}, {
		name:    "te-gzip",
		headers: "TE: gzip\r\n",
		removed: []string{"Te"},
	}, {
		name:    "te-trailers-named-in-connection",
		headers: "Connection: TE\r\nTE: trailers\r\n",
		removed: []string{"Te", "Connection"},
	}, {
		name:    "upgrade-without-connection-upgrade",
		headers: "Upgrade: websocket\r\n",
		removed: []string{"Upgrade"},
	}, {
		name: "end-to-end-untouched",
		headers: "X-Custom: a,  b ;c\r\nX-Custom: second\r\nAccept-Encoding: gzip, br\r\n" +
			"Cookie: s=1; t=2\r\nUser-Agent: test-agent/1.0\r\nX-Forwarded-For: 192.0.2.1\r\n",
		kept: []string{"X-Custom: a,  b ;c", "X-Custom: second", "Accept-Encoding: gzip, br",
			"Cookie: s=1; t=2", "User-Agent: test-agent/1.0", "X-Forwarded-For: 192.0.2.1"},
	}, {
		name:    "nothing-added",
		headers: "",
		removed: []string{"User-Agent", "Via", "X-Forwarded-For", "X-Forwarded-Proto", "Forwarded", "Accept-Encoding"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := "GET /hop HTTP/1.1\r\nHost: hop.test\r\n" + tt.headers + "\r\n"
			resp, body, _, _ := rawExchange(t, p.Out, req)
			var got rawRequest
			select {
			case got = <-be.requests:
			case <-time.After(5 * time.Second):
				t.Fatal("the backend received no request")
			}
			for _, k := range tt.removed {
				if v, ok := got.header[k]; ok {
					t.Errorf("backend received %s: %q\nhead:\n%s", k, v, got.head)
				}
			}
			for _, kv := range tt.kept {
				if !strings.Contains(got.head, "\r\n"+kv+"\r\n") {
					t.Errorf("backend did not receive %q\nhead:\n%s", kv, got.head)
				}
			}
			if !strings.HasPrefix(got.head, "GET /hop HTTP/1.1\r\n") || !strings.Contains(got.head, "\r\nHost: hop.test\r\n") {
				t.Errorf("request line or Host changed:\n%s", got.head)
			}

			// The response's hop-by-hop fields stay with the proxy.
			if resp.StatusCode != 200 || string(body) != "\x1f\x8b\x08\x00" {
				t.Errorf("response %d %q", resp.StatusCode, body)
			}
			for _, k := range []string{"X-Resp-Hop", "Keep-Alive", "Proxy-Connection", "Upgrade"} {
				if v, ok := resp.Header[k]; ok {
					t.Errorf("client received response field %s: %q", k, v)
				}
			}
			if v := resp.Header.Get("Connection"); v != "" && !strings.EqualFold(v, "close") {
				t.Errorf("client received Connection: %q", v)
			}
			if v := resp.Header.Values("Set-Cookie"); len(v) != 2 || v[0] != "a=1" || v[1] != "b=2" {
				t.Errorf("Set-Cookie = %q", v)
			}
			if v := resp.Header.Get("X-End-To-End"); v != "Kept  as-is;q=0.5" {
				t.Errorf("X-End-To-End = %q", v)
			}
			if v := resp.Header.Get("Content-Encoding"); v != "gzip" || resp.Uncompressed {
				t.Errorf("Content-Encoding = %q (the proxy must not decompress)", v)
			}
		})
	}

	t.Run("h2-te-trailers-kept", func(t *testing.T) {
		seen := make(chan http.Header, 1)
		be := newBackend(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen <- r.Header.Clone()
		}), true)
		p := startProxy(t, dstFunc(be.Addr))
		req, _ := http.NewRequest(http.MethodGet, "http://h2hop.test/", nil)
		req.Header.Set("TE", "trailers")
		req.Header.Set("User-Agent", "h2-agent/2")
		req.Header.Set("X-Custom", "v")
		resp, err := h2cClient(t, p.Out).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := <-seen
		// A request without User-Agent gets none added.
		req, _ = http.NewRequest(http.MethodGet, "http://h2hop.test/", nil)
		req.Header["User-Agent"] = []string{""} // the client's own default off
		if resp, err := h2cClient(t, p.Out).Do(req); err == nil {
			resp.Body.Close()
		} else {
			t.Fatal(err)
		}
		if got, ok := (<-seen)["User-Agent"]; ok {
			t.Errorf("backend saw User-Agent %q on an HTTP/2 request that had none", got)
		}
		if got := h.Values("Te"); len(got) != 1 || got[0] != "trailers" {
			t.Errorf("backend saw TE %q, want trailers", got)
		}
		if h.Get("User-Agent") != "h2-agent/2" || h.Get("X-Custom") != "v" {
			t.Errorf("backend saw %v", h)
		}
		for _, k := range []string{"Via", "X-Forwarded-For", "Forwarded"} {
			if _, ok := h[k]; ok {
				t.Errorf("backend saw %s added by the proxy", k)
			}
		}
	})
}
