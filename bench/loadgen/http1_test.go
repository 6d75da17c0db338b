package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"testing"
)

// newCannedHTTPServer answers every request head with the same response and
// allocates nothing per request, so client allocations can be measured.
func newCannedHTTPServer(t testing.TB) string {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
	ln := listen(t)
	serveConns(t, ln, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if bytes.Equal(line, []byte("\r\n")) {
				if _, err := c.Write(resp); err != nil {
					return
				}
			}
		}
	})
	return "http://" + ln.Addr().String() + "/"
}

// TestHTTP1DoAllocs: a keep-alive request costs the generator no allocation.
func TestHTTP1DoAllocs(t *testing.T) {
	tg := newHTTP1(t, newCannedHTTPServer(t), 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	allocs := testing.AllocsPerRun(200, func() {
		if err := tg.Do(ctx, 0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("HTTP1.Do allocates %v times per request", allocs)
	}
}

func BenchmarkHTTP1Do(b *testing.B) {
	tg := newHTTP1(b, newCannedHTTPServer(b), 1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := tg.Do(ctx, 0); err != nil {
			b.Fatal(err)
		}
	}
}
