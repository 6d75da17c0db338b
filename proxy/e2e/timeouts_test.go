package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/meshlite/meshlite/proxy/app"
)

// h2Conn drives one HTTP/2 connection frame by frame.
type h2Conn struct {
	t  *testing.T
	fr *http2.Framer
}

// dialH2 opens a connection to addr and sends the client preface in two
// parts, calling between after the first (nil: none), then SETTINGS.
func dialH2(t *testing.T, addr string, between func()) *h2Conn {
	t.Helper()
	c := dial(t, addr)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, http2.ClientPreface[:8]) //nolint:errcheck // checked by the reads
	if between != nil {
		between()
	}
	io.WriteString(c, http2.ClientPreface[8:]) //nolint:errcheck // checked by the reads
	fr := http2.NewFramer(c, c)
	fr.WriteSettings() //nolint:errcheck // checked by the reads
	return &h2Conn{t: t, fr: fr}
}

// get sends a GET for path on stream id.
func (h *h2Conn) get(id uint32, authority, path string) {
	h.t.Helper()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", authority}, {":path", path}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}) //nolint:errcheck // into a buffer
	}
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		h.t.Fatal(err)
	}
}

// next reads frames, answering SETTINGS and PING, until one satisfies
// want, and returns it.
func (h *h2Conn) next(want func(http2.Frame) bool) (http2.Frame, error) {
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			return nil, err
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				h.fr.WriteSettingsAck() //nolint:errcheck // checked by the reads
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				h.fr.WritePing(true, f.Data) //nolint:errcheck // checked by the reads
			}
		}
		if want(f) {
			return f, nil
		}
	}
}

func isGoAway(f http2.Frame) bool { _, ok := f.(*http2.GoAwayFrame); return ok }

func isEndStream(f http2.Frame) bool {
	switch f := f.(type) {
	case *http2.DataFrame:
		return f.StreamEnded()
	case *http2.HeadersFrame:
		return f.StreamEnded()
	}
	return false
}

// TestIdleTimeouts checks --http-idle-timeout and --h2-idle-timeout.
func TestIdleTimeouts(t *testing.T) {
	t.Parallel()
	const idle = 300 * time.Millisecond
	be := newBackend(t, echoHandler(), true)
	p := startProxy(t, dstFunc(be.Addr), func(c *appConfig) {
		c.HTTPIdleTimeout = idle
		c.H2IdleTimeout = idle
	})

	t.Run("http1", func(t *testing.T) {
		t.Parallel()
		_, _, c, br := rawExchange(t, p.Out, "GET / HTTP/1.1\r\nHost: idle.test\r\n\r\n")
		start := time.Now()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := br.ReadByte()
		took := time.Since(start)
		if !errors.Is(err, io.EOF) {
			t.Fatalf("idle keep-alive connection: %v, want closed by the proxy", err)
		}
		if took < idle-50*time.Millisecond || took > idle+time.Second {
			t.Errorf("idle keep-alive connection closed after %v, want about %v", took, idle)
		}
	})

	t.Run("h2", func(t *testing.T) {
		t.Parallel()
		h := dialH2(t, p.Out, nil)
		h.get(1, "idle.test", "/")
		if _, err := h.next(isEndStream); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		f, err := h.next(isGoAway)
		if err != nil {
			t.Fatalf("waiting for GOAWAY on an idle connection: %v", err)
		}
		if took := time.Since(start); took > idle+time.Second {
			t.Errorf("GOAWAY after %v idle, want about %v", took, idle)
		}
		if ga := f.(*http2.GoAwayFrame); ga.ErrCode != http2.ErrCodeNo || ga.LastStreamID != 1 {
			t.Errorf("GOAWAY %v last stream %d, want NO_ERROR, 1", ga.ErrCode, ga.LastStreamID)
		}
	})
}

// TestShutdownDuringDetection starts the drain while a connection is still
// in protocol detection: once detected, it must be drained like the others,
// not dropped and not left open until the grace period ends.
func TestShutdownDuringDetection(t *testing.T) {
	t.Parallel()

	t.Run("h2", func(t *testing.T) {
		t.Parallel()
		be := newBackend(t, echoHandler(), true)
		p := startProxy(t, dstFunc(be.Addr), slowClientWindow)
		var start time.Time
		var runDone <-chan error
		h := dialH2(t, p.Out, func() {
			time.Sleep(50 * time.Millisecond) // detection is waiting for the rest of the preface
			start = time.Now()
			runDone = stopAsync(p)
			time.Sleep(50 * time.Millisecond)
		})
		h.get(1, "drain.test", "/late")
		var sawGoAway bool
		if _, err := h.next(func(f http2.Frame) bool { sawGoAway = sawGoAway || isGoAway(f); return isEndStream(f) }); err != nil {
			t.Fatalf("the stream did not complete: %v", err)
		}
		if !sawGoAway {
			if _, err := h.next(isGoAway); err != nil {
				t.Errorf("no GOAWAY on a connection that began while the proxy drained: %v", err)
			}
		}
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("Run returned %v after cancellation with nothing left to do (grace %v)", took, p.cfg.ShutdownGrace)
		}
	})

	t.Run("http1", func(t *testing.T) {
		t.Parallel()
		be := newBackend(t, echoHandler(), false)
		p := startProxy(t, dstFunc(be.Addr), slowClientWindow)
		c := dial(t, p.Out)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GE") //nolint:errcheck // checked by the read
		time.Sleep(50 * time.Millisecond)
		runDone := stopAsync(p)
		time.Sleep(50 * time.Millisecond)
		io.WriteString(c, "T /late HTTP/1.1\r\nHost: drain.test\r\n\r\n") //nolint:errcheck // checked by the read
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("a request accepted before the drain got no answer: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !resp.Close {
			t.Errorf("got %d close=%v, want 200 with Connection: close", resp.StatusCode, resp.Close)
		}
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// slowClientWindow lets a client pause inside its request line (these
// tests pause on purpose, to be caught in detection by the drain) without
// being taken for opaque TCP.
func slowClientWindow(c *app.Config) {
	c.DetectWindow = 2 * time.Second
	c.DetectTimeout = 5 * time.Second
}
