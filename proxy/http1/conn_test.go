package http1

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/meshlite/meshlite/internal/syncbuf"
)

func TestHijackKeepsBufferedBytes(t *testing.T) {
	hijacked := make(chan error, 1)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			hijacked <- err
			return
		}
		defer nc.Close()
		if _, err := w.Write([]byte("x")); !errors.Is(err, http.ErrHijacked) {
			t.Errorf("Write after Hijack: %v", err)
		}
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		_ = rw.Flush()
		// The frame arrived in the same segment as the request head.
		frame := make([]byte, 6)
		if _, err := io.ReadFull(rw, frame); err != nil {
			hijacked <- err
			return
		}
		_, _ = rw.Write(bytes.ToUpper(frame))
		_ = rw.Flush()
		hijacked <- nil
	}))
	c := dial(t, ts)
	c.send("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nframe1")
	if head := readHead(t, c.br); !strings.HasPrefix(head, "HTTP/1.1 101 ") {
		t.Fatalf("head %q", head)
	}
	got := make([]byte, 6)
	if _, err := io.ReadFull(c.br, got); err != nil || string(got) != "FRAME1" {
		t.Fatalf("echo %q, %v", got, err)
	}
	if err := <-hijacked; err != nil {
		t.Fatal(err)
	}
	if err := ts.waitServeConn(t); err != nil {
		t.Errorf("ServeConn after hijack: %v", err)
	}
}

func TestHijackViaResponseController(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.EnableFullDuplex(); err != nil {
			t.Errorf("EnableFullDuplex: %v", err)
		}
		if err := rc.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetReadDeadline: %v", err)
		}
		w.WriteHeader(http.StatusSwitchingProtocols)
		if err := rc.Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		nc, _, err := rc.Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		_, _ = nc.Write([]byte("raw"))
		_ = nc.Close()
	}))
	c := dial(t, ts)
	c.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: raw\r\n\r\n")
	head := readHead(t, c.br)
	if head != "HTTP/1.1 101 Switching Protocols\r\n\r\n" {
		t.Fatalf("head %q", head)
	}
	if b, _ := io.ReadAll(c.br); string(b) != "raw" {
		t.Fatalf("after hijack %q", b)
	}
}

func TestShutdown(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		w.Header().Set("Content-Length", "2")
		_, _ = io.WriteString(w, "ok")
	}))
	idle := dial(t, ts)
	idle.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	idle.response("GET")
	busy := dial(t, ts)
	busy.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	<-entered

	ts.srv.Shutdown()
	idle.expectClosed()
	close(release)
	resp, body := busy.response("GET")
	if body != "ok" || !resp.Close {
		t.Fatalf("in-flight response %q close=%v, want ok with Connection: close", body, resp.Close)
	}
	busy.expectClosed()
	// A connection that reaches the server during the drain (it was
	// accepted before, detection was still reading it) is answered once,
	// with Connection: close.
	late := dial(t, ts)
	late.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	resp, body = late.response("GET")
	if body != "ok" || !resp.Close {
		t.Fatalf("late response %q close=%v, want ok with Connection: close", body, resp.Close)
	}
	late.expectClosed()
}

func TestClientDisconnectCancelsContext(t *testing.T) {
	tests := []struct{ name, req string }{
		{"no body", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"},
		{"length body read", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"},
		{"chunked body read", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			result := make(chan error, 1)
			ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.ReadAll(r.Body)
				select {
				case <-r.Context().Done():
					result <- r.Context().Err()
				case <-time.After(5 * time.Second):
					result <- errors.New("context not cancelled")
				}
			}))
			c := dial(t, ts)
			c.send(tc.req)
			time.Sleep(20 * time.Millisecond)
			_ = c.nc.Close()
			if err := <-result; !errors.Is(err, context.Canceled) {
				t.Fatal(err)
			}
		})
	}
}

// TestPipelinedByteNotLost checks that a byte read by the background watch
// is handed to the next request.
func TestPipelinedByteNotLost(t *testing.T) {
	entered := make(chan struct{}, 2)
	release := make(chan struct{})
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		if r.URL.Path == "/1" {
			<-release
		}
		echoHandler(w, r)
	}))
	c := dial(t, ts)
	c.send("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n")
	<-entered
	c.send("GET /2 HTTP/1.1\r\nHost: a\r\n\r\n") // arrives while the watch runs
	time.Sleep(20 * time.Millisecond)
	close(release)
	for _, want := range []string{"GET /1 HTTP/1.1 host=a body=", "GET /2 HTTP/1.1 host=a body="} {
		if _, body := c.response("GET"); body != want {
			t.Fatalf("got %q, want %q", body, want)
		}
	}
}

func TestHandlerPanics(t *testing.T) {
	var logBuf syncbuf.Buffer
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/before":
			panic("boom before")
		case "/after":
			w.Header().Set("Content-Length", "100")
			_, _ = io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic("boom after")
		case "/abort":
			panic(http.ErrAbortHandler)
		}
	}), func(s *Server) { s.Log = zerolog.New(&logBuf) })

	c := dial(t, ts)
	c.send("GET /before HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp, _ := c.response("GET"); resp.StatusCode != 500 || !resp.Close {
		t.Fatalf("panic before writing: %d close=%v", resp.StatusCode, resp.Close)
	}
	c.expectClosed()

	c = dial(t, ts)
	c.send("GET /after HTTP/1.1\r\nHost: a\r\n\r\n")
	if _, _, err := c.tryResponse("GET"); err == nil {
		t.Fatal("panic after writing: response looked complete")
	}

	c = dial(t, ts)
	c.send("GET /abort HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp, _ := c.response("GET"); resp.StatusCode != 500 {
		t.Fatalf("ErrAbortHandler: %d", resp.StatusCode)
	}
	c.expectClosed()

	time.Sleep(50 * time.Millisecond)
	logs := logBuf.String()
	if !strings.Contains(logs, "boom before") || !strings.Contains(logs, "boom after") {
		t.Errorf("panics not logged: %s", logs)
	}
	if strings.Contains(logs, "abort Handler") {
		t.Errorf("ErrAbortHandler logged: %s", logs)
	}
}

// TestLargeStreamingEcho streams a 100 MiB upload through a handler that
// echoes it while reading, and checks that memory stays bounded.
func TestLargeStreamingEcho(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MiB transfer")
	}
	const size = 100 << 20
	tests := []struct {
		name    string
		chunked bool
	}{{"content-length", false}, {"chunked", true}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if _, err := io.Copy(w, r.Body); err != nil {
					t.Errorf("echo: %v", err)
				}
			}))
			c := dial(t, ts)
			_ = c.nc.SetDeadline(time.Now().Add(2 * time.Minute))

			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			var peak atomic.Uint64
			stop := make(chan struct{})
			var sampler sync.WaitGroup
			sampler.Add(1)
			go func() {
				defer sampler.Done()
				var ms runtime.MemStats
				for {
					select {
					case <-stop:
						return
					case <-time.After(20 * time.Millisecond):
					}
					runtime.ReadMemStats(&ms)
					if ms.HeapInuse > peak.Load() {
						peak.Store(ms.HeapInuse)
					}
				}
			}()

			sent := crc32.NewIEEE()
			writeErr := make(chan error, 1)
			go func() {
				head := "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 104857600\r\n\r\n"
				if tc.chunked {
					head = "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
				}
				if _, err := io.WriteString(c.nc, head); err != nil {
					writeErr <- err
					return
				}
				rng := rand.New(rand.NewPCG(1, 2))
				buf := make([]byte, 64<<10)
				for n := 0; n < size; n += len(buf) {
					for i := range buf {
						buf[i] = byte(rng.Uint32())
					}
					sent.Write(buf)
					var err error
					if tc.chunked {
						_, err = io.WriteString(c.nc, "10000\r\n")
					}
					if err == nil {
						_, err = c.nc.Write(buf)
					}
					if err == nil && tc.chunked {
						_, err = io.WriteString(c.nc, "\r\n")
					}
					if err != nil {
						writeErr <- err
						return
					}
				}
				if tc.chunked {
					_, err := io.WriteString(c.nc, "0\r\n\r\n")
					writeErr <- err
					return
				}
				writeErr <- nil
			}()

			resp, err := http.ReadResponse(c.br, &http.Request{Method: "POST"})
			if err != nil {
				t.Fatal(err)
			}
			got := crc32.NewIEEE()
			n, err := io.Copy(got, resp.Body)
			close(stop)
			sampler.Wait()
			if err != nil || n != size {
				t.Fatalf("echoed %d bytes, %v", n, err)
			}
			if err := <-writeErr; err != nil {
				t.Fatal(err)
			}
			if got.Sum32() != sent.Sum32() {
				t.Fatal("echoed bytes differ")
			}
			growth := int64(peak.Load()) - int64(before.HeapInuse)
			t.Logf("HeapInuse growth %d KiB while streaming %d MiB", growth>>10, size>>20)
			if growth > 16<<20 {
				t.Errorf("HeapInuse grew by %d MiB", growth>>20)
			}
		})
	}
}

// TestServeConnWrappedConn serves a connection wrapped the way protocol
// detection hands it over: replaying bytes it already read.
func TestServeConnWrappedConn(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	srv := &Server{Handler: http.HandlerFunc(echoHandler)}
	done := make(chan error, 1)
	go func() {
		done <- srv.ServeConn(context.Background(), &replayConn{Conn: server, r: io.MultiReader(strings.NewReader("GET /re"), server)})
	}()
	go func() { _, _ = io.WriteString(client, "play HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n") }()
	b, _ := io.ReadAll(client)
	if !strings.HasSuffix(string(b), "GET /replay HTTP/1.1 host=a body=") {
		t.Fatalf("got %q", b)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func TestNoHandler(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	if err := (&Server{}).ServeConn(context.Background(), a); !errors.Is(err, ErrNoHandler) {
		t.Fatalf("got %v", err)
	}
}

// TestNetHTTPClient drives the server with net/http's client from several
// goroutines: keep-alive reuse, bodies of every framing, 100-continue and
// trailers, as real traffic mixes them.
func TestNetHTTPClient(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Trailer", "X-Len")
		_, _ = w.Write(b)
		w.Header().Set("X-Len", strconv.Itoa(len(b))+r.Trailer.Get("X-T"))
	}))
	tr := &http.Transport{MaxIdleConnsPerHost: 4, ExpectContinueTimeout: 5 * time.Second}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				body := strings.Repeat("x", (g*100+i)%3000)
				req, _ := http.NewRequest(http.MethodPost, "http://"+ts.addr+"/", strings.NewReader(body))
				wantLen := strconv.Itoa(len(body))
				switch i % 4 {
				case 1: // chunked with a trailer
					req.Body = io.NopCloser(strings.NewReader(body))
					req.ContentLength = -1
					req.Trailer = http.Header{"X-T": {"t"}}
					wantLen += "t"
				case 2:
					req.Header.Set("Expect", "100-continue")
				case 3:
					req.Method, req.Body, req.ContentLength = http.MethodGet, nil, 0
					body, wantLen = "", "0"
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(got) != body || resp.Trailer.Get("X-Len") != wantLen {
					t.Errorf("request %d/%d: %d bytes, %v, trailer %q want %q", g, i, len(got), err, resp.Trailer.Get("X-Len"), wantLen)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestBehindReverseProxy puts httputil.ReverseProxy, whose http.Transport
// reads the request body from its own goroutine, in the handler seat. The
// upstream's /early answers before reading the body, so the transport may
// still be reading r.Body when the handler returns.
func TestBehindReverseProxy(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/early" {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		_, _ = io.Copy(w, r.Body)
	}))
	defer upstream.Close()
	target, _ := url.Parse(upstream.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	rp.Transport = tr
	rp.ErrorLog = log.New(io.Discard, "", 0)
	ts := startServer(t, rp)

	c := dial(t, ts)
	for i := range 3 {
		c.send("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
		if resp, body := c.response("POST"); resp.StatusCode != 200 || body != "hello" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	big := strings.Repeat("y", 4<<20)
	go func() {
		_, _ = io.WriteString(c.nc, "POST /early HTTP/1.1\r\nHost: a\r\nContent-Length: "+strconv.Itoa(len(big))+"\r\n\r\n"+big)
	}()
	resp, _ := c.response("POST")
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("early answer: %d", resp.StatusCode)
	}
	// Whether the connection survives depends on who won the race for the
	// body: if the transport copied all 4 MiB upstream, the body ended and
	// the connection is still in step; if not, 4 MiB cannot be drained and
	// the connection closes. Either way it must never carry a request out
	// of step.
	if resp.Close {
		c.expectClosed()
		return
	}
	// Without "Connection: close" the server may still close after the
	// response (it decides once the handler returned): the next request
	// then fails to go out or gets no answer, which clients retry. What
	// must not happen is any other answer.
	_ = c.nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c.nc, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok"); err != nil {
		return
	}
	next, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return // closed: fine
	}
	got, _ := io.ReadAll(next.Body)
	if next.StatusCode != 200 || string(got) != "ok" {
		t.Fatalf("after the early answer: %d %q", next.StatusCode, got)
	}
}
