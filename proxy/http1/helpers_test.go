package http1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := checkLeaks(5 * time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// checkLeaks fails if goroutines running this package's code are still
// alive after every test ended and their cleanups ran.
func checkLeaks(wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		leaked := leakedGoroutines()
		if len(leaked) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("leaked %d goroutines:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func leakedGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var leaked []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "meshlite/proxy/http1.") && !strings.Contains(g, "http1.leakedGoroutines") {
			leaked = append(leaked, g)
		}
	}
	return leaked
}

// testServer runs a Server on a real loopback listener.
type testServer struct {
	srv  *Server
	ln   net.Listener
	addr string
	wg   sync.WaitGroup

	mu   sync.Mutex
	errs []error // what ServeConn returned, in order of return
	rej  []int   // statuses passed to OnReject
	done chan error
}

func startServer(t testing.TB, h http.Handler, opts ...func(*Server)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{ln: ln, addr: ln.Addr().String(), done: make(chan error, 100)}
	ts.srv = &Server{Handler: h, OnReject: func(status int, _ string) {
		ts.mu.Lock()
		ts.rej = append(ts.rej, status)
		ts.mu.Unlock()
	}}
	for _, o := range opts {
		o(ts.srv)
	}
	ts.wg.Add(1)
	go func() {
		defer ts.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ts.wg.Add(1)
			go func() {
				defer ts.wg.Done()
				err := ts.srv.ServeConn(context.Background(), c)
				ts.mu.Lock()
				ts.errs = append(ts.errs, err)
				ts.mu.Unlock()
				select {
				case ts.done <- err:
				default:
				}
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		ts.srv.Shutdown()
		waitGroup(t, &ts.wg, 5*time.Second)
	})
	return ts
}

func waitGroup(t testing.TB, wg *sync.WaitGroup, d time.Duration) {
	t.Helper()
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-time.After(d):
		t.Errorf("server goroutines still running after %v", d)
	}
}

// waitServeConn waits for the next ServeConn to return.
func (ts *testServer) waitServeConn(t testing.TB) error {
	t.Helper()
	select {
	case err := <-ts.done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("ServeConn did not return")
		return nil
	}
}

func (ts *testServer) rejects() []int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]int(nil), ts.rej...)
}

// client is a raw TCP client: the test writes exact bytes and reads the
// responses with net/http's response parser.
type client struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func dial(t testing.TB, ts *testServer) *client {
	t.Helper()
	nc, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// response reads one response to a request with the given method and its
// whole body.
func (c *client) response(method string) (*http.Response, string) {
	c.t.Helper()
	resp, body, err := c.tryResponse(method)
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	return resp, body
}

func (c *client) tryResponse(method string) (*http.Response, string, error) {
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// expectClosed asserts that the server closed the connection: nothing more
// arrives but EOF (or a reset).
func (c *client) expectClosed() {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := c.br.ReadByte()
	var ne net.Error
	switch {
	case err == nil:
		c.t.Fatalf("connection still open: read %q", b)
	case errors.As(err, &ne) && ne.Timeout():
		c.t.Fatal("connection still open: read timed out")
	}
	_ = c.nc.Close()
}

// echoHandler answers with a summary of what it was given.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	body := fmt.Sprintf("%s %s %s host=%s body=%s", r.Method, r.RequestURI, r.Proto, r.Host, b)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	_, _ = io.WriteString(w, body)
}
