package e2e

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/meshlite/meshlite/proxy/forward"
)

// TestRequestSmuggling sends ambiguous or malformed HTTP/1 framing as raw
// bytes: the proxy must answer it itself and close, and the backend must
// never see a byte of it.
func TestRequestSmuggling(t *testing.T) {
	t.Parallel()
	ln := listen(t)
	var backendConns atomic.Int64
	serveTCP(t, ln, func(c net.Conn) { backendConns.Add(1) })
	p := startProxy(t, dstFunc(ln.Addr().String()))

	// Each request is followed by a second one that must never be
	// processed: the smuggled request.
	const smuggled = "GET /admin HTTP/1.1\r\nHost: victim.test\r\n\r\n"
	tests := []struct {
		name   string
		req    string
		status int
	}{
		{"content-length-and-transfer-encoding", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"transfer-encoding-and-content-length", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400},
		{"differing-content-lengths", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400},
		{"differing-content-length-list", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5, 6\r\n\r\nhello!", 400},
		{"content-length-sign", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: +5\r\n\r\nhello", 400},
		{"content-length-hex", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0x5\r\n\r\nhello", 400},
		{"transfer-encoding-xchunked", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400},
		{"transfer-encoding-chunked-identity", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 400},
		{"transfer-encoding-repeated", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"transfer-encoding-vertical-tab", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n", 400},
		{"transfer-encoding-http10", "POST / HTTP/1.0\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"space-before-colon", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400},
		{"obs-fold", "POST / HTTP/1.1\r\nHost: a.test\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"bare-cr", "GET / HTTP/1.1\r\nHost: a.test\rX-B: 1\r\n\r\n", 400},
		{"no-host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"two-hosts", "GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n", 400},
		// RFC 9112 §6.1: a coding the server does not know is 501. Either
		// way it is refused before anything is forwarded.
		{"transfer-encoding-gzip-chunked", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, p.Out)
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(c, tt.req+smuggled); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("reading the refusal: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d %q, want %d", resp.StatusCode, body, tt.status)
			}
			// ReadResponse takes "Connection: close" out of the header
			// and sets Close; on HTTP/1.1 nothing else sets it.
			if !resp.Close || !resp.ProtoAtLeast(1, 1) {
				t.Errorf("refusal without Connection: close: %s %v", resp.Proto, resp.Header)
			}
			// Nothing follows: the smuggled request gets no answer.
			if extra, err := io.ReadAll(br); len(extra) > 0 || err != nil && !isReset(err) {
				t.Errorf("after the refusal: %q, %v; want the connection closed", extra, err)
			}
		})
	}
	if n := backendConns.Load(); n != 0 {
		t.Errorf("the backend received %d connections, want none", n)
	}
	mfs := p.metrics(t)
	want := map[string]float64{}
	for _, tt := range tests {
		want[strconv.Itoa(tt.status)]++
	}
	for status, want := range want {
		if got := metricValue(mfs, "request_rejected_total", map[string]string{"direction": "outbound", "status_code": status}); got != want {
			t.Errorf("request_rejected_total{status_code=%q} = %v, want %v", status, got, want)
		}
	}
	if n := metricValue(mfs, "request_total", nil); n != 0 {
		t.Errorf("request_total = %v, want 0: refused requests reach no handler", n)
	}
}

// TestLoop checks that a connection whose original destination is the
// proxy itself is reset at once instead of being forwarded to itself.
func TestLoop(t *testing.T) {
	t.Parallel()
	var target atomic.Pointer[string]
	p := startProxy(t, func(*net.TCPConn) (netip.AddrPort, error) {
		return netip.ParseAddrPort(*target.Load())
	})
	tests := []struct{ name, dst string }{
		{"own-listener", p.Out},
		{"inbound-listener", p.In},
		{"admin-listener", p.Admin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target.Store(&tt.dst)
			start := time.Now()
			c, err := net.DialTimeout("tcp", p.Out, 2*time.Second)
			if isReset(err) {
				return // reset before the dialler even saw the connection up
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: loop.test\r\n\r\n") //nolint:errcheck // the reset may come first
			b, err := io.ReadAll(c)
			if len(b) > 0 {
				t.Errorf("got an answer %q, want the connection reset", b)
			}
			if err != nil && !isReset(err) {
				t.Errorf("read: %v, want a reset or EOF", err)
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("closed after %v, want at once", took)
			}
		})
	}
	mfs := p.metrics(t)
	if n := metricValue(mfs, "request_total", nil); n != 0 {
		t.Errorf("request_total = %v, want 0: nothing may be forwarded", n)
	}
	if n := metricValue(mfs, "tcp_open_total", nil); n != 0 {
		t.Errorf("tcp_open_total = %v, want 0: a loop is refused before it is counted", n)
	}
}

// TestProxyErrors checks the answers the proxy generates when it cannot
// reach the endpoint.
func TestProxyErrors(t *testing.T) {
	t.Parallel()

	t.Run("http1-connection-refused", func(t *testing.T) {
		t.Parallel()
		p := startProxy(t, dstFunc(closedPort(t)))
		resp, body, _, _ := rawExchange(t, p.Out, "GET /x HTTP/1.1\r\nHost: gone.test\r\n\r\n")
		if resp.StatusCode != http.StatusBadGateway {
			t.Errorf("status %d, want 502", resp.StatusCode)
		}
		if reason := resp.Header.Get(forward.ErrorHeader); !strings.Contains(reason, "connection refused") {
			t.Errorf("%s = %q, want the reason", forward.ErrorHeader, reason)
		}
		if !strings.Contains(string(body), "connection refused") {
			t.Errorf("body %q", body)
		}
		p.waitMetric(t, "response_total", map[string]string{"authority": "gone.test", "status_code": "502", "classification": "failure"}, 1)
		l := p.waitAccessLog(t, 1, func(l map[string]any) bool { return l["kind"] == "http" })[0]
		if l["status"] != 502.0 || l["authority"] != "gone.test" {
			t.Errorf("access log line: %v", l)
		}
	})

	t.Run("h2-connection-refused", func(t *testing.T) {
		t.Parallel()
		p := startProxy(t, dstFunc(closedPort(t)))
		resp, err := h2cClient(t, p.Out).Get("http://gone.test/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(resp.Header.Get(forward.ErrorHeader), "connection refused") {
			t.Errorf("got %d %v, want 502 with %s", resp.StatusCode, resp.Header, forward.ErrorHeader)
		}
	})

	t.Run("http1-connect-timeout", func(t *testing.T) {
		t.Parallel()
		addr := unresponsiveAddr(t)
		p := startProxy(t, dstFunc(addr), func(c *appConfig) { c.ConnectTimeout = 300 * time.Millisecond })
		start := time.Now()
		resp, _, _, _ := rawExchange(t, p.Out, "GET /x HTTP/1.1\r\nHost: slow.test\r\n\r\n")
		took := time.Since(start)
		if resp.StatusCode != http.StatusGatewayTimeout || resp.Header.Get(forward.ErrorHeader) == "" {
			t.Errorf("got %d %v, want 504 with %s", resp.StatusCode, resp.Header, forward.ErrorHeader)
		}
		if took < 250*time.Millisecond || took > 2*time.Second {
			t.Errorf("answered after %v with a 300ms connect timeout", took)
		}
	})
}

// unresponsiveAddr returns a loopback address whose listener's accept queue
// is full, so connection attempts to it hang until they time out.
func unresponsiveAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*syscall.SockaddrInet4).Port)).String()
	// With a backlog of 0 one connection fills the queue; later SYNs are
	// dropped.
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		cancel()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return addr
		}
		if err != nil {
			t.Fatalf("filling the accept queue: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		if i == 8 {
			t.Fatal("the accept queue does not fill up")
		}
	}
}
