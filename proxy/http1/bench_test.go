package http1

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

var benchRequest = []byte("GET /api/v1/items?id=42 HTTP/1.1\r\nHost: svc.default.svc.cluster.local\r\n" +
	"User-Agent: bench/1.0\r\nAccept: application/json\r\nAccept-Encoding: gzip\r\n" +
	"X-Request-Id: 9f0c1d2e-3a4b-5c6d-7e8f-901234567890\r\n\r\n")

func benchHandler(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{"17"}
	_, _ = io.WriteString(w, `{"id":42,"ok":1}`+"\n")
}

// BenchmarkServeKeepAlive sends requests one after the other on one
// keep-alive loopback connection. The client allocates nothing, so the
// allocations are the server's plus the handler's three (two header slices
// and the response header map's storage).
func BenchmarkServeKeepAlive(b *testing.B) {
	ts := startServer(b, http.HandlerFunc(benchHandler))
	runKeepAlive(b, ts.addr)
}

// BenchmarkNetHTTPKeepAlive is the same exchange against net/http.Server,
// for comparison.
func BenchmarkNetHTTPKeepAlive(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(benchHandler)}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	runKeepAlive(b, ln.Addr().String())
}

// BenchmarkServeKeepAliveParallel runs one keep-alive connection per
// goroutine.
func BenchmarkServeKeepAliveParallel(b *testing.B) {
	ts := startServer(b, http.HandlerFunc(benchHandler))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		nc, br, n := benchConn(b, ts.addr)
		defer nc.Close()
		buf := make([]byte, n)
		for pb.Next() {
			if _, err := nc.Write(benchRequest); err != nil {
				b.Error(err)
				return
			}
			if _, err := io.ReadFull(br, buf); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func runKeepAlive(b *testing.B, addr string) {
	nc, br, n := benchConn(b, addr)
	defer nc.Close()
	buf := make([]byte, n)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := nc.Write(benchRequest); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(br, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// benchConn dials addr and measures the length of one response, so the
// loop can read responses without parsing them.
func benchConn(b *testing.B, addr string) (net.Conn, *bufio.Reader, int) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	br := bufio.NewReader(nc)
	if _, err := nc.Write(benchRequest); err != nil {
		b.Fatal(err)
	}
	n, cl := 0, 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			b.Fatal(err)
		}
		n += len(line)
		if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
			cl, _ = strconv.Atoi(strings.TrimSpace(v))
		}
		if line == "\r\n" {
			break
		}
	}
	if _, err := br.Discard(cl); err != nil {
		b.Fatal(err)
	}
	return nc, br, n + cl
}
