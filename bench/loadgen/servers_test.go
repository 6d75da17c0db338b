//lint:file-ignore SA1019 meshlite speaks HTTP/2 through golang.org/x/net/http2 on purpose (README, docs/proxy.md).

package loadgen

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Real servers on 127.0.0.1 for the tests; each is closed by t.Cleanup.

func okHandler(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") }

// listen opens a loopback listener.
func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serveConns runs handle on every accepted connection until cleanup, then
// closes the listener and the open connections and waits for the handlers.
func serveConns(t testing.TB, ln net.Listener, handle func(net.Conn)) {
	var (
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Go(func() {
				defer func() {
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
					_ = c.Close()
				}()
				handle(c)
			})
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// newEchoServer is a TCP echo server; it returns its address.
func newEchoServer(t testing.TB) string {
	ln := listen(t)
	serveConns(t, ln, func(c net.Conn) { _, _ = io.Copy(c, c) })
	return ln.Addr().String()
}

// newH2CServer serves h with x/net/http2's server on prior-knowledge h2c
// connections; it returns the base URL.
func newH2CServer(t testing.TB, h http.Handler) string {
	ln := listen(t)
	srv := &http2.Server{}
	serveConns(t, ln, func(c net.Conn) { srv.ServeConn(c, &http2.ServeConnOpts{Handler: h}) })
	return "http://" + ln.Addr().String()
}

// newStdH2CServer serves h with net/http's own unencrypted HTTP/2.
func newStdH2CServer(t testing.TB, h http.Handler) string {
	s := httptest.NewUnstartedServer(h)
	s.Config.Protocols = new(http.Protocols)
	s.Config.Protocols.SetUnencryptedHTTP2(true)
	s.Start()
	t.Cleanup(s.Close)
	return s.URL
}

// newGRPCServer serves the health service with the given status; it returns
// the address and the health server for changing the status.
func newGRPCServer(t testing.TB) (string, *health.Server) {
	ln := listen(t)
	s := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(s, hs)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Stop()
		if err := <-done; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("grpc serve: %v", err)
		}
	})
	return ln.Addr().String(), hs
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t testing.TB) string {
	ln := listen(t)
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// testCtx is a context bounded well inside the test timeout.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
