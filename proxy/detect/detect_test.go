package detect

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	long := "GET /" + strings.Repeat("a", 2000) + " HTTP/1.1\r\n"
	for _, tc := range []struct {
		name string
		in   string
		full bool
		want Protocol
		ok   bool
	}{
		{"empty", "", false, Opaque, false},
		{"h2 preface", string(h2Preface), false, HTTP2, true},
		{"h2 preface and frames", string(h2Preface) + "\x00\x00\x00\x04", false, HTTP2, true},
		{"h2 partial", "PRI * HTTP/2", false, Opaque, false},
		{"h2 partial when full", "PRI * HTTP/2", true, Opaque, true},
		{"http1 get", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", false, HTTP1, true},
		{"http1.0 bare LF", "GET / HTTP/1.0\n", false, HTTP1, true},
		{"http1 partial method", "GE", false, Opaque, false},
		{"http1 partial target", "GET /foo", false, Opaque, false},
		{"http1 partial version", "GET / HTTP/1", false, Opaque, false},
		{"http1 partial CR", "GET / HTTP/1.1\r", false, Opaque, false},
		{"long url fills buffer", long[:1024], true, HTTP1, true},
		{"unknown method long url", "FOO /" + strings.Repeat("a", 1019), true, Opaque, true},
		{"http2 version in request line", "GET / HTTP/2.0\r\n", false, Opaque, true},
		{"http 1.2", "GET / HTTP/1.2\r\n", false, Opaque, true},
		{"double space", "GET  / HTTP/1.1\r\n", false, Opaque, true},
		{"lowercase version", "GET / http/1.1\r\n", false, Opaque, true},
		{"CR without LF", "GET / HTTP/1.1\rX", false, Opaque, true},
		{"redis inline", "PING\r\n", false, Opaque, true},
		{"redis resp", "*1\r\n$4\r\nPING\r\n", false, Opaque, true},
		{"binary", "\x00\x01\x02", false, Opaque, true},
		{"method too long", strings.Repeat("A", 30), false, Opaque, true},
		{"tls client hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", false, TLS, true},
		{"tls partial", "\x16\x03\x01", false, Opaque, false},
		{"tls server hello", "\x16\x03\x03\x00\x10\x02", false, Opaque, true},
		{"tls bad version", "\x16\x02", false, Opaque, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, ok := Classify([]byte(tc.in), tc.full)
			if p != tc.want || ok != tc.ok {
				t.Fatalf("Classify(%q, %v) = %v, %v; want %v, %v", tc.in, tc.full, p, ok, tc.want, tc.ok)
			}
		})
	}
}

// pair returns both ends of a real loopback TCP connection.
func pair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestDetectOverSockets(t *testing.T) {
	cfg := Config{FirstByteWindow: 50 * time.Millisecond, Timeout: 300 * time.Millisecond}
	t.Run("http1 in two segments", func(t *testing.T) {
		c, s := pair(t)
		go func() {
			c.Write([]byte("GET / HT"))
			time.Sleep(20 * time.Millisecond)
			c.Write([]byte("TP/1.1\r\nHost: a\r\n\r\n"))
		}()
		res, err := Detect(s, cfg)
		if err != nil || res.Protocol != HTTP1 || res.Outcome != OutcomeHTTP1 {
			t.Fatalf("got %+v, %v", res, err)
		}
		if !bytes.HasPrefix([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), res.Prefix) || len(res.Prefix) < 16 {
			t.Fatalf("prefix %q", res.Prefix)
		}
	})
	t.Run("silent client is server-first, quickly", func(t *testing.T) {
		_, s := pair(t)
		start := time.Now()
		res, err := Detect(s, cfg)
		if err != nil || res.Outcome != OutcomeServerFirst || len(res.Prefix) != 0 {
			t.Fatalf("got %+v, %v", res, err)
		}
		if d := time.Since(start); d > 250*time.Millisecond {
			t.Fatalf("took %v, want about the first-byte window", d)
		}
		// The deadline must be cleared afterwards.
		if err := s.SetReadDeadline(time.Time{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("stalled partial prefix times out as opaque", func(t *testing.T) {
		c, s := pair(t)
		c.Write([]byte("GET /x"))
		res, err := Detect(s, cfg)
		if err != nil || res.Protocol != Opaque || res.Outcome != OutcomeTimeout || string(res.Prefix) != "GET /x" {
			t.Fatalf("got %+v, %v", res, err)
		}
	})
	t.Run("a pause inside an undecided prefix decides at once", func(t *testing.T) {
		c, s := pair(t)
		c.Write([]byte("p")) // a one-byte ping: could still become "PUT ..."
		start := time.Now()
		res, err := Detect(s, Config{FirstByteWindow: 50 * time.Millisecond, Timeout: 5 * time.Second})
		if err != nil || res.Protocol != Opaque || res.Outcome != OutcomeTimeout || string(res.Prefix) != "p" {
			t.Fatalf("got %+v, %v", res, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("took %v: a paused prefix must cost one window, not the whole timeout", d)
		}
	})
	t.Run("closed without bytes", func(t *testing.T) {
		c, s := pair(t)
		c.Close()
		if _, err := Detect(s, cfg); err != ErrClosed {
			t.Fatalf("err = %v, want ErrClosed", err)
		}
	})
	t.Run("half-close after partial prefix relays what came", func(t *testing.T) {
		c, s := pair(t)
		c.Write([]byte("GE"))
		c.(*net.TCPConn).CloseWrite()
		res, err := Detect(s, cfg)
		if err != nil || res.Protocol != Opaque || string(res.Prefix) != "GE" {
			t.Fatalf("got %+v, %v", res, err)
		}
		if _, err := s.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("after detection, read = %v, want EOF", err)
		}
	})
	t.Run("h2 preface", func(t *testing.T) {
		c, s := pair(t)
		c.Write(h2Preface)
		res, err := Detect(s, cfg)
		if err != nil || res.Protocol != HTTP2 {
			t.Fatalf("got %+v, %v", res, err)
		}
	})
}

func TestMemo(t *testing.T) {
	now := time.Unix(1000, 0)
	m := NewMemo(2, time.Minute, func() time.Time { return now })
	a := netip.MustParseAddrPort("10.0.0.1:3306")
	b := netip.MustParseAddrPort("10.0.0.2:25")
	c := netip.MustParseAddrPort("10.0.0.3:6379")
	m.Remember(a)
	now = now.Add(time.Second)
	m.Remember(b)
	if !m.ServerFirst(a) || !m.ServerFirst(b) || m.ServerFirst(c) {
		t.Fatal("memo lost or invented an entry")
	}
	m.Remember(c) // full: a, the oldest, goes
	if m.ServerFirst(a) || !m.ServerFirst(c) || m.Len() != 2 {
		t.Fatalf("eviction wrong: len %d", m.Len())
	}
	now = now.Add(2 * time.Minute)
	if m.ServerFirst(b) || m.ServerFirst(c) {
		t.Fatal("entries outlived their TTL")
	}
}

func FuzzClassify(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\n", "POST /x HTTP/1.0\n", string(h2Preface), "PRI * HTTP/2.0\r\n",
		"\x16\x03\x01\x00\x10\x01", "SSH-2.0-OpenSSH\r\n", "*1\r\n$4\r\nPING\r\n", "", "G",
	} {
		f.Add([]byte(s), []byte("more"))
	}
	f.Fuzz(func(t *testing.T, b, more []byte) {
		p, ok := Classify(b, false)
		if !ok {
			return
		}
		// Stability: a decision never changes as more bytes arrive.
		ext := append(append([]byte{}, b...), more...)
		if p2, ok2 := Classify(ext, false); !ok2 || p2 != p {
			t.Fatalf("Classify(%q) = %v but Classify(%q) = %v, %v", b, p, ext, p2, ok2)
		}
		if full, fok := Classify(b, true); !fok || full != p {
			t.Fatalf("full changed decision for %q: %v vs %v", b, full, p)
		}
	})
}
