package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

// halfCloseServer reads until the client's EOF, then answers with the
// SHA-256 of everything it read followed by the data itself, and closes:
// it only answers once the client's FIN has come through.
func halfCloseServer(c net.Conn) {
	c.SetDeadline(time.Now().Add(20 * time.Second))
	data, err := io.ReadAll(c)
	if err != nil {
		return
	}
	sum := sha256.Sum256(data)
	c.Write(sum[:])
	c.Write(data)
}

// halfCloseExchange sends data, half-closes, and checks the server's
// answer, which it sends only after seeing EOF.
func halfCloseExchange(t *testing.T, addr string, data []byte) {
	t.Helper()
	pausedExchange(t, addr, 0, data)
}

// pausedExchange is halfCloseExchange with the data sent in parts, pause
// apart.
func pausedExchange(t *testing.T, addr string, pause time.Duration, parts ...[]byte) {
	t.Helper()
	c := dial(t, addr)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	var data []byte
	for i, part := range parts {
		if i > 0 {
			time.Sleep(pause)
		}
		if _, err := c.Write(part); err != nil {
			t.Fatalf("write: %v", err)
		}
		data = append(data, part...)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read the answer: %v", err)
	}
	sum := sha256.Sum256(data)
	if len(got) != len(sum)+len(data) || !bytes.Equal(got[:len(sum)], sum[:]) || !bytes.Equal(got[len(sum):], data) {
		t.Fatalf("answer of %d bytes does not match the %d bytes sent", len(got), len(data))
	}
}

// TestOpaqueTCP relays TCP both ways, with half-close, on a port declared
// opaque and on an undeclared port carrying binary client-first data.
func TestOpaqueTCP(t *testing.T) {
	t.Parallel()
	ln := listen(t)
	serveTCP(t, ln, halfCloseServer)
	backend := ln.Addr().String()
	port := netip.MustParseAddrPort(backend).Port()

	data := make([]byte, 1<<20)
	rng := rand.NewChaCha8([32]byte{1})
	rng.Read(data)
	data[0] = 0x00 // not HTTP, not TLS

	t.Run("opaque-port", func(t *testing.T) {
		t.Parallel()
		p := startProxy(t, dstFunc(backend), func(c *appConfig) { c.OpaquePorts = []uint16{port} })
		halfCloseExchange(t, p.Out, data)
		p.waitMetric(t, "tcp_close_total", map[string]string{"direction": "outbound", "error": ""}, 1)
		mfs := p.metrics(t)
		if n := metricValue(mfs, "protocol_detect_total", nil); n != 0 {
			t.Errorf("protocol_detect_total = %v for an opaque port, want 0 (no detection)", n)
		}
		if n := metricValue(mfs, "tcp_read_bytes_total", map[string]string{"direction": "outbound"}); n != float64(len(data)) {
			t.Errorf("tcp_read_bytes_total = %v, want %d", n, len(data))
		}
		if n := metricValue(mfs, "tcp_write_bytes_total", map[string]string{"direction": "outbound"}); n != float64(len(data)+32) {
			t.Errorf("tcp_write_bytes_total = %v, want %d", n, len(data)+32)
		}
		l := p.waitAccessLog(t, 1, func(l map[string]any) bool { return l["kind"] == "tcp" })[0]
		if l["protocol"] != "opaque" || l["dst"] != backend || l["endpoint"] != backend ||
			l["bytes_in"] != float64(len(data)) || l["bytes_out"] != float64(len(data)+32) || l["error"] != nil {
			t.Errorf("access log line: %v", l)
		}
	})

	t.Run("undeclared-port", func(t *testing.T) {
		t.Parallel()
		p := startProxy(t, dstFunc(backend))
		halfCloseExchange(t, p.Out, data)
		// A short message that fits in one detection read, and one that
		// is only a single byte.
		halfCloseExchange(t, p.Out, []byte{0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3})
		halfCloseExchange(t, p.Out, []byte{0x7f})
		p.waitMetric(t, "protocol_detect_total", map[string]string{"direction": "outbound", "result": "opaque"}, 3)
		p.waitAccessLog(t, 3, func(l map[string]any) bool { return l["kind"] == "tcp" && l["protocol"] == "opaque" })
	})

	t.Run("undecided-prefix", func(t *testing.T) {
		t.Parallel()
		p := startProxy(t, dstFunc(backend), func(c *appConfig) { c.DetectTimeout = 300 * time.Millisecond })
		// The client ends after the start of a request line: what it sent
		// is relayed.
		halfCloseExchange(t, p.Out, []byte("GE"))
		// The client stalls inside the HTTP/2 preface past the detection
		// timeout: relayed as TCP, the stalled prefix first.
		pausedExchange(t, p.Out, 500*time.Millisecond, []byte("PRI * HTTP/2.0\r\n"), []byte("not the rest of a preface"))
		p.waitMetric(t, "protocol_detect_total", map[string]string{"direction": "outbound", "result": "opaque"}, 1)
		p.waitMetric(t, "protocol_detect_total", map[string]string{"direction": "outbound", "result": "timeout"}, 1)
	})

	t.Run("inbound", func(t *testing.T) {
		t.Parallel()
		p := startProxy(t, inboundDst(backend))
		halfCloseExchange(t, p.In, data[:64<<10])
		l := p.waitAccessLog(t, 1, func(l map[string]any) bool { return l["kind"] == "tcp" })[0]
		if l["direction"] != "inbound" || l["dst"] != fmt.Sprintf("10.9.9.9:%d", port) || l["endpoint"] != backend {
			t.Errorf("inbound access log line: %v", l)
		}
	})
}

// TestServerSpeaksFirst checks that a banner protocol on an undeclared port
// works without the client saying anything: the first connection waits
// only the detection window, the next ones nothing.
func TestServerSpeaksFirst(t *testing.T) {
	// Not parallel: the latencies asserted here are meant to measure the
	// proxy, not the scheduler of a machine busy with other tests.
	const banner = "220 smtp.test ESMTP ready\r\n"
	ln := listen(t)
	serveTCP(t, ln, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, banner); err != nil {
			return
		}
		io.Copy(c, c) //nolint:errcheck // echo what the client says after the banner
	})
	p := startProxy(t, dstFunc(ln.Addr().String()))

	readBanner := func() time.Duration {
		t.Helper()
		start := time.Now()
		c := dial(t, p.Out)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, len(banner))
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatalf("reading the banner: %v", err)
		}
		took := time.Since(start)
		if string(buf) != banner {
			t.Fatalf("banner %q", buf)
		}
		// The connection is a full relay afterwards.
		if _, err := io.WriteString(c, "EHLO client.test\r\n"); err != nil {
			t.Fatal(err)
		}
		echo := make([]byte, len("EHLO client.test\r\n"))
		if _, err := io.ReadFull(c, echo); err != nil || string(echo) != "EHLO client.test\r\n" {
			t.Fatalf("echo after the banner: %q %v", echo, err)
		}
		c.Close()
		return took
	}
	first := readBanner()
	if first > 500*time.Millisecond {
		t.Errorf("first connection: banner after %v, want < 500ms (detect window %v)", first, p.cfg.DetectWindow)
	}
	second := readBanner()
	if second > 50*time.Millisecond {
		t.Errorf("second connection: banner after %v, want < 50ms (destination remembered)", second)
	}
	t.Logf("banner after %v on the first connection, %v on the second", first, second)
	p.waitMetric(t, "protocol_detect_total", map[string]string{"direction": "outbound", "result": "server_first"}, 1)
	if n := metricValue(p.metrics(t), "protocol_detect_total", nil); n != 1 {
		t.Errorf("protocol_detect_total = %v in all, want 1: the second connection skips detection", n)
	}
	p.waitMetric(t, "tcp_close_total", map[string]string{"direction": "outbound"}, 2)
}

// TestTLSPassthrough checks that TLS (which the proxy does not terminate
// until mTLS lands) is recognised and relayed untouched: the client's
// handshake with the server succeeds through the proxy.
func TestTLSPassthrough(t *testing.T) {
	t.Parallel()
	be := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "over tls "+r.Host) //nolint:errcheck // the client checks
	}))
	be.Config.ErrorLog = log.New(io.Discard, "", 0)
	be.StartTLS()
	t.Cleanup(be.Close)
	p := startProxy(t, dstFunc(be.Listener.Addr().String()))
	client := be.Client()
	client.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, p.Out)
	}
	resp, err := client.Get("https://www.example.com/")
	if err != nil {
		t.Fatalf("HTTPS through the proxy: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "over tls www.example.com" {
		t.Errorf("body %q", b)
	}
	client.CloseIdleConnections()
	p.waitMetric(t, "protocol_detect_total", map[string]string{"direction": "outbound", "result": "tls"}, 1)
	l := p.waitAccessLog(t, 1, func(l map[string]any) bool { return l["kind"] == "tcp" })[0]
	if l["protocol"] != "tls" || l["bytes_in"].(float64) < 100 {
		t.Errorf("access log line: %v", l)
	}
}

// TestOpaqueBackendDown checks that an opaque connection whose endpoint
// refuses is reset, not accepted and then closed quietly.
func TestOpaqueBackendDown(t *testing.T) {
	t.Parallel()
	p := startProxy(t, dstFunc(closedPort(t)))
	c := dial(t, p.Out)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte{0, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	n, err := c.Read(make([]byte, 16))
	if n != 0 || !isReset(err) {
		t.Errorf("read %d bytes, %v; want a connection reset", n, err)
	}
	if errors.Is(err, io.EOF) {
		t.Error("the connection was closed with FIN; the client cannot tell it from an empty answer")
	}
	p.waitMetric(t, "tcp_close_total", map[string]string{"direction": "outbound", "error": "ECONNREFUSED"}, 1)
}
