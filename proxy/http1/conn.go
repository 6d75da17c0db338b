package http1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"
)

// lingerTimeout bounds how long a connection closed with unread input waits
// for the client to read the last response before the socket is released.
const lingerTimeout = 500 * time.Millisecond

// maxEmptyLines is how many empty lines between requests are skipped
// (RFC 9112 §2.2: some clients send a CRLF after a body).
const maxEmptyLines = 4

// conn is the state of one served connection. It is pooled: nothing may
// keep a pointer to it once ServeConn returned, except after a hijack.
type conn struct {
	srv     *Server
	nc      net.Conn
	ctx     context.Context
	remote  string
	cr      connReader
	br      *bufio.Reader // reads through cr
	bw      *bufio.Writer // writes to nc
	parser  parser
	tmpl    http.Request // filled by the parser, copied by WithContext
	keys    []string     // scratch for sorting response header keys
	scratch []byte       // scratch for formatting numbers

	idleTimeout   time.Duration
	headerTimeout time.Duration

	linger   bool // close with unread input: let the client read first
	abort    bool // close abruptly after a broken response
	hijacked bool
	served   int // requests answered on this connection

	mu   sync.Mutex // guards idle against Shutdown
	idle bool
}

func (c *conn) init(s *Server, nc net.Conn) {
	c.srv, c.nc = s, nc
	c.remote = nc.RemoteAddr().String()
	c.cr.init(nc)
	c.br.Reset(&c.cr)
	c.bw.Reset(nc)
	c.parser.lim = s.Limits.withDefaults()
	c.idleTimeout = s.IdleTimeout
	if c.idleTimeout <= 0 {
		c.idleTimeout = DefaultIdleTimeout
	}
	c.headerTimeout = s.HeaderTimeout
	if c.headerTimeout <= 0 {
		c.headerTimeout = DefaultHeaderTimeout
	}
	c.linger, c.abort, c.hijacked, c.idle, c.served = false, false, false, false, 0
}

// release returns c to the pool, dropping references to the connection.
func (c *conn) release() {
	c.srv, c.nc, c.ctx = nil, nil, nil
	c.cr.init(nil)
	c.br.Reset(&c.cr)
	c.bw.Reset(nil)
	c.parser.reset()
	c.tmpl = http.Request{}
	connPool.Put(c)
}

// serve runs the request loop until the connection is to be closed.
func (c *conn) serve() error {
	for {
		ok, err := c.awaitRequest()
		if !ok {
			return err
		}
		fr, err := c.parser.readRequest(&c.tmpl)
		if err != nil {
			c.tmpl = http.Request{}
			return c.readFailed(err)
		}
		_ = c.nc.SetReadDeadline(time.Time{})
		c.served++
		if !c.serveRequest(fr) {
			return nil
		}
	}
}

// awaitRequest waits, under the idle timeout, for the first byte of the next
// request, skips a few empty lines, and arms the header timeout. It returns
// false when the connection should close quietly.
//
// While the server drains, a keep-alive connection closes instead of
// waiting, but a connection that has not been answered yet (it was accepted
// before the drain began, or was still being detected) gets its first
// request served, within the header timeout, with "Connection: close".
func (c *conn) awaitRequest() (bool, error) {
	first := c.served == 0
	for skipped := 0; ; skipped++ {
		if c.br.Buffered() < 2 {
			wait := c.idleTimeout
			if first && c.srv.draining.Load() {
				wait = c.headerTimeout
			}
			_ = c.nc.SetReadDeadline(time.Now().Add(wait))
		}
		if c.br.Buffered() == 0 {
			if !c.setIdle(true) && !first {
				return false, nil
			}
			_, err := c.br.Peek(1)
			c.setIdle(false)
			if err != nil {
				return false, quiet(err)
			}
		}
		if c.srv.draining.Load() && !first {
			return false, nil
		}
		if skipped == maxEmptyLines {
			break
		}
		b, _ := c.br.Peek(1)
		if b[0] == '\r' {
			b, _ = c.br.Peek(2) // a lone CR is left to the parser
		}
		switch {
		case b[0] == '\n':
			_, _ = c.br.Discard(1)
		case len(b) == 2 && b[1] == '\n':
			_, _ = c.br.Discard(2)
		default:
			skipped = maxEmptyLines
		}
		if skipped == maxEmptyLines {
			break
		}
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(c.headerTimeout))
	return true, nil
}

// setIdle marks the connection idle (Shutdown may close it) or active. It
// refuses to go idle once the server is draining.
func (c *conn) setIdle(idle bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if idle && c.srv.draining.Load() {
		return false
	}
	c.idle = idle
	return true
}

// wakeIfIdle makes an idle connection's pending read fail at once so its
// loop sees the server draining. Called by Shutdown with the server locked.
func (c *conn) wakeIfIdle() {
	c.mu.Lock()
	if c.idle {
		_ = c.nc.SetReadDeadline(aLongTimeAgo)
	}
	c.mu.Unlock()
}

// quiet maps the errors that end a connection normally to nil.
func quiet(err error) error {
	var ne net.Error
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || (errors.As(err, &ne) && ne.Timeout()) {
		return nil
	}
	return fmt.Errorf("http1: read: %w", err)
}

// readFailed answers a head that could not be read or was refused.
func (c *conn) readFailed(err error) error {
	var rej *RejectError
	var ne net.Error
	switch {
	case errors.As(err, &rej):
	case errors.As(err, &ne) && ne.Timeout():
		rej = errHeaderTimeout
	default:
		return fmt.Errorf("http1: read request: %w", err)
	}
	c.srv.reject(c, rej)
	c.writeSimple(rej.Status, rej.Reason)
	c.linger = true
	return rej
}

// writeSimple writes a complete plain-text response that closes the
// connection: refusals and the 500 after a panic.
func (c *conn) writeSimple(status int, reason string) {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.headerTimeout))
	bw := c.bw
	writeStatusLine(bw, status)
	_, _ = bw.WriteString("Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: ")
	c.writeInt(bw, int64(len(reason)+1), 10)
	_, _ = bw.WriteString("\r\n\r\n")
	_, _ = bw.WriteString(reason)
	_, _ = bw.WriteString("\n")
	_ = bw.Flush()
}

// writeInt writes n in the given base without allocating.
func (c *conn) writeInt(bw *bufio.Writer, n int64, base int) {
	c.scratch = strconv.AppendInt(c.scratch[:0], n, base)
	_, _ = bw.Write(c.scratch)
}

// serveRequest runs the handler for the request in c.tmpl and completes the
// exchange. It reports whether the connection carries another request.
func (c *conn) serveRequest(fr framing) bool {
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	w := &response{c: c, minor: c.tmpl.ProtoMinor, isHead: c.tmpl.Method == http.MethodHead, cl: -1}
	var b *body
	c.tmpl.RemoteAddr = c.remote
	if fr.chunked || fr.contentLength > 0 {
		b = &body{c: c, w: w, chunked: fr.chunked, remain: max(fr.contentLength, 0), expect: fr.expectContinue}
		c.tmpl.Body = b
	} else {
		c.tmpl.Body = http.NoBody
	}
	req := c.tmpl.WithContext(ctx)
	c.tmpl = http.Request{}
	w.req = req
	if b != nil {
		b.req = req
	}
	w.canContinue.Store(fr.expectContinue)
	c.cr.setCancel(cancel)
	if b == nil {
		c.bodyDone()
	}

	panicked := c.callHandler(w, req)
	if w.hijacked {
		return false
	}
	if panicked {
		c.abortResponse(w)
	} else {
		w.finish()
	}
	cancel()
	keep := !w.closeAfter && !panicked
	if b != nil {
		keep = b.finish(keep, drainTimeout) && keep
		c.linger = c.linger || !b.done.Load()
	}
	c.cr.abortWatch()
	c.cr.setCancel(nil)
	return keep && !c.cr.gone() && !c.srv.draining.Load()
}

// bodyDone is called once the request body was read to its end (or when
// there is none): from then on the connection is watched for the client
// going away. A pipelined request already buffered is not watched for.
func (c *conn) bodyDone() {
	if c.br.Buffered() == 0 {
		c.cr.startWatch()
	}
}

// callHandler runs the handler, recovering a panic.
func (c *conn) callHandler(w *response, r *http.Request) (panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			panicked = true
			if p != http.ErrAbortHandler { // a sentinel panic value, compared as net/http does
				c.srv.Log.Error().Str("remote", c.remote).Str("method", r.Method).Str("uri", r.RequestURI).
					Interface("panic", p).Str("stack", string(debug.Stack())).Msg("http1: handler panicked")
			}
		}
	}()
	c.srv.Handler.ServeHTTP(w, r)
	return false
}

// abortResponse ends the response of a handler that panicked: a 500 if
// nothing was written yet, otherwise what was written and an abrupt close.
func (c *conn) abortResponse(w *response) {
	w.stopContinue()
	if !w.wroteHeader {
		w.wroteHeader = true
		c.writeSimple(http.StatusInternalServerError, "internal server error")
	} else {
		_ = c.bw.Flush()
		c.abort = true
	}
	w.handlerDone = true
}

// hijack hands the connection over to a handler.
func (c *conn) hijack() {
	c.cr.abortWatch()
	_ = c.nc.SetDeadline(time.Time{})
	c.hijacked = true
	c.srv.untrack(c)
}

// close closes the connection. After an abort it resets it (RST) so the
// client cannot take a truncated close-delimited body for a whole one. With
// unread input it first half-closes and waits briefly for the client, so
// the kernel does not reset the connection over data the client has not
// read yet.
func (c *conn) close() {
	nc := c.nc
	if c.abort {
		if l, ok := nc.(interface{ SetLinger(int) error }); ok {
			_ = l.SetLinger(0)
		}
		_ = nc.Close()
		return
	}
	if cw, ok := nc.(interface{ CloseWrite() error }); ok && c.linger {
		if cw.CloseWrite() == nil {
			_ = nc.SetReadDeadline(time.Now().Add(lingerTimeout))
			_, _ = io.CopyN(io.Discard, nc, maxDrainBytes)
		}
	}
	_ = nc.Close()
}
