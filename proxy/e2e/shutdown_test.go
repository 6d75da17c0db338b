package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// slowHandler signals started when a request arrives, then answers after
// delay, or reports on cancelled if the request's context ends first.
func slowHandler(delay time.Duration, started chan<- string, cancelled chan<- struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- r.URL.Path
		select {
		case <-time.After(delay):
			io.WriteString(w, "slow done\n") //nolint:errcheck // the client checks
		case <-r.Context().Done():
			if cancelled != nil {
				cancelled <- struct{}{}
			}
		}
	})
}

// stopAsync cancels the proxy's Run and reports its result on the returned
// channel.
func stopAsync(p *testProxy) <-chan error {
	done := make(chan error, 1)
	go func() { done <- p.stop() }()
	return done
}

// waitRefused dials addr until the connection is refused, for at most d.
func waitRefused(t *testing.T, addr string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if errors.Is(err, syscall.ECONNREFUSED) {
			return
		}
		if err == nil {
			c.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("connections to %s are still accepted %v after shutdown began (%v)", addr, d, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestGracefulShutdown cancels Run while requests are in flight: they
// complete, HTTP/1 with "Connection: close" and HTTP/2 after a GOAWAY,
// new connections are refused, idle ones are closed, and Run returns nil.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	started := make(chan string, 4)
	be := newBackend(t, slowHandler(500*time.Millisecond, started, nil), true)
	p := startProxy(t, dstFunc(be.Addr))

	// An idle keep-alive connection, to be closed at once.
	resp, _, idle, idleBR := rawExchange(t, p.Out, "GET /warmup HTTP/1.1\r\nHost: shut.test\r\n\r\n")
	<-started
	if resp.StatusCode != 200 || resp.Close {
		t.Fatalf("warm-up: %d close=%v", resp.StatusCode, resp.Close)
	}

	// An HTTP/1 request in flight.
	h1 := dial(t, p.Out)
	h1.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(h1, "GET /h1 HTTP/1.1\r\nHost: shut.test\r\n\r\n") //nolint:errcheck // checked by the read

	// An HTTP/2 stream in flight, on a connection driven frame by frame.
	h2c := dial(t, p.Out)
	h2c.SetDeadline(time.Now().Add(10 * time.Second))
	fr := http2.NewFramer(h2c, h2c)
	io.WriteString(h2c, http2.ClientPreface) //nolint:errcheck // checked by the reads
	fr.WriteSettings()                       //nolint:errcheck // checked by the reads
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "shut.test"}, {":path", "/h2"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}) //nolint:errcheck // into a buffer
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}

	for range 2 {
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatal("the requests did not reach the backend")
		}
	}
	shutdownStart := time.Now()
	runDone := stopAsync(p)

	waitRefused(t, p.Out, 300*time.Millisecond)
	if r, err := http.Get("http://" + p.Admin + "/ready"); err == nil {
		r.Body.Close()
		if r.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("/ready while draining: %d, want 503", r.StatusCode)
		}
	}

	// The idle connection is closed without waiting for the others.
	idle.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if b, err := idleBR.ReadByte(); err == nil || !errors.Is(err, io.EOF) && !isReset(err) {
		t.Errorf("idle keep-alive connection: read %q, %v; want it closed at once", b, err)
	}

	// The HTTP/1 request completes, told to close the connection.
	br := bufio.NewReader(h1)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("in-flight HTTP/1 request: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "slow done\n" || !resp.Close {
		t.Errorf("in-flight HTTP/1 request: %d %q close=%v; want 200 with Connection: close", resp.StatusCode, body, resp.Close)
	}
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Errorf("after the last response: %v, want EOF", err)
	}

	// The HTTP/2 client gets GOAWAY, and its stream still completes.
	var goAway *http2.GoAwayFrame
	var status string
	var h2body []byte
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		if f.Name == ":status" {
			status = f.Value
		}
	})
	for ended := false; !ended; {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading HTTP/2 frames: %v (GOAWAY %v, status %q)", err, goAway, status)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck() //nolint:errcheck // checked by the reads
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				fr.WritePing(true, f.Data) //nolint:errcheck // checked by the reads
			}
		case *http2.GoAwayFrame:
			goAway = f
			if f.ErrCode != http2.ErrCodeNo || f.LastStreamID < 1 {
				t.Errorf("GOAWAY %v last stream %d, want NO_ERROR covering stream 1", f.ErrCode, f.LastStreamID)
			}
		case *http2.HeadersFrame:
			if goAway == nil {
				t.Error("the response came before the GOAWAY, which is due when shutdown starts")
			}
			if _, err := dec.Write(f.HeaderBlockFragment()); err != nil {
				t.Fatal(err)
			}
			ended = f.StreamEnded()
		case *http2.DataFrame:
			h2body = append(h2body, f.Data()...)
			ended = f.StreamEnded()
		case *http2.RSTStreamFrame:
			t.Fatalf("stream reset: %v", f.ErrCode)
		}
	}
	if goAway == nil || status != "200" || string(h2body) != "slow done\n" {
		t.Errorf("HTTP/2 stream during shutdown: GOAWAY %v, status %q, body %q", goAway, status, h2body)
	}
	h2c.Close()

	select {
	case err := <-runDone:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		if took := time.Since(shutdownStart); took > 3*time.Second {
			t.Errorf("Run returned %v after cancellation, with 500ms of work in flight", took)
		}
	case <-time.After(p.cfg.ShutdownGrace + time.Second):
		t.Fatal("Run did not return within the grace period")
	}
}

// TestShutdownGraceExpires checks that work outliving the grace period is
// cut off and Run still returns in time.
func TestShutdownGraceExpires(t *testing.T) {
	t.Parallel()
	const grace = 300 * time.Millisecond
	started := make(chan string, 4)
	cancelled := make(chan struct{}, 4)
	be := newBackend(t, slowHandler(20*time.Second, started, cancelled), true)
	echo := listen(t)
	serveTCP(t, echo, func(c net.Conn) { io.Copy(c, c) }) //nolint:errcheck // until closed
	p := startProxy(t, dstFunc(be.Addr), func(c *appConfig) { c.ShutdownGrace = grace })
	tcpProxy := startProxy(t, dstFunc(echo.Addr().String()), func(c *appConfig) { c.ShutdownGrace = grace })

	h1 := dial(t, p.Out)
	h1.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(h1, "GET /forever HTTP/1.1\r\nHost: slow.test\r\n\r\n") //nolint:errcheck // checked by the read
	h2done := make(chan error, 1)
	go func() {
		resp, err := h2cClient(t, p.Out).Get("http://slow.test/forever-h2")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		h2done <- err
	}()
	tcp := dial(t, tcpProxy.Out)
	tcp.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := tcp.Write([]byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(tcp, make([]byte, 3)); err != nil {
		t.Fatalf("opaque echo: %v", err)
	}
	for range 2 {
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatal("the requests did not reach the backend")
		}
	}

	start := time.Now()
	runDone, tcpRunDone := stopAsync(p), stopAsync(tcpProxy)
	for _, done := range []<-chan error{runDone, tcpRunDone} {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(grace + 3*time.Second):
			t.Fatal("Run did not return after the grace period")
		}
	}
	if took := time.Since(start); took < grace || took > grace+time.Second {
		t.Errorf("Run returned %v after cancellation, want about the %v grace", took, grace)
	}

	if b, err := io.ReadAll(h1); len(b) > 0 || err != nil && !isReset(err) {
		t.Errorf("HTTP/1 request cut off by the grace: read %q, %v; want the connection closed", b, err)
	}
	select {
	case err := <-h2done:
		if err == nil {
			t.Error("HTTP/2 request cut off by the grace: no error")
		}
	case <-time.After(3 * time.Second):
		t.Error("HTTP/2 request not cut off")
	}
	if b, err := io.ReadAll(tcp); len(b) > 0 || err != nil && !isReset(err) {
		t.Errorf("opaque connection after the grace: read %q, %v; want it closed", b, err)
	}
	for range 2 {
		select {
		case <-cancelled:
		case <-time.After(3 * time.Second):
			t.Fatal("the backend's requests were not cancelled when the grace ended")
		}
	}
}
