package http1

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// response is the http.ResponseWriter of one request. It writes the head
// once, on the first Write, Flush or WriteHeader with a final status, and
// frames the body itself: the handler's Content-Length if it set one,
// otherwise chunked for HTTP/1.1 and close-delimited for HTTP/1.0.
type response struct {
	c      *conn
	req    *http.Request
	header http.Header
	minor  int // the request's HTTP/1.<minor>
	isHead bool

	canContinue atomic.Bool // a "100 Continue" may still be sent
	continueMu  sync.Mutex  // orders 100 Continue against the handler's writes

	wroteHeader bool
	status      int
	noBody      bool  // the status forbids a body
	chunked     bool  // chunked framing
	cl          int64 // declared Content-Length of the body, or -1
	written     int64 // body bytes written
	closeAfter  bool  // close the connection after this response
	handlerDone bool
	hijacked    bool
	err         error    // first write error
	trailers    []string // keys declared in the Trailer header
}

// Compile-time guards: everything http.NewResponseController looks for.
var (
	_ http.ResponseWriter                           = (*response)(nil)
	_ http.Flusher                                  = (*response)(nil)
	_ http.Hijacker                                 = (*response)(nil)
	_ interface{ FlushError() error }               = (*response)(nil)
	_ interface{ SetReadDeadline(time.Time) error } = (*response)(nil)
	_ interface{ EnableFullDuplex() error }         = (*response)(nil)
)

// Header returns the response header map.
func (w *response) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header)
	}
	return w.header
}

// WriteHeader sends a 1xx response at once (other than 101), or sets the
// final status and writes the head.
func (w *response) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("http1: invalid WriteHeader code %v", code))
	}
	if w.hijacked || w.handlerDone {
		return
	}
	if w.wroteHeader {
		w.c.srv.Log.Debug().Int("status", code).Msg("http1: superfluous WriteHeader call")
		return
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.writeInformational(code)
		return
	}
	w.writeHead(code, false)
}

// writeInformational writes a 1xx response with the current header. HTTP/1.0
// clients get none (RFC 9110 §15.2).
func (w *response) writeInformational(code int) {
	if w.minor == 0 {
		return
	}
	w.continueMu.Lock()
	defer w.continueMu.Unlock()
	if code == http.StatusContinue {
		w.canContinue.Store(false)
	}
	bw := w.c.bw
	writeStatusLine(bw, code)
	w.c.writeFields(bw, w.header, code, nil)
	_, _ = bw.WriteString("\r\n")
	if err := bw.Flush(); err != nil && w.err == nil {
		w.err = err
	}
}

// writeContinue sends "100 Continue" unless a response was started. It is
// called by the body's first Read, possibly from another goroutine.
func (w *response) writeContinue() {
	if !w.canContinue.Load() {
		return
	}
	w.continueMu.Lock()
	defer w.continueMu.Unlock()
	if w.canContinue.Load() {
		_, _ = w.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		_ = w.c.bw.Flush()
		w.canContinue.Store(false)
	}
}

// stopContinue makes sure no "100 Continue" is written from now on.
func (w *response) stopContinue() (wasPending bool) {
	if !w.canContinue.Load() {
		return false
	}
	w.continueMu.Lock()
	wasPending = w.canContinue.Swap(false)
	w.continueMu.Unlock()
	return wasPending
}

// writeHead decides framing and keep-alive and writes the status line and
// header fields. handlerDone means the handler returned without writing: the
// body is empty.
func (w *response) writeHead(code int, handlerDone bool) {
	if w.stopContinue() {
		// The client may hold the body back for a 100 Continue that
		// will never come: the connection's framing is unknown.
		w.closeAfter = true
	}
	w.wroteHeader, w.status = true, code
	bodyAllowed := code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified
	w.noBody = !bodyAllowed
	cl := w.declaredLength(code)
	switch {
	case !bodyAllowed || w.isHead:
		// No body: a HEAD or 304 keeps the length the handler declared.
	case cl >= 0:
		w.cl = cl
	case handlerDone:
		cl, w.cl = 0, 0
	case w.minor == 1:
		w.chunked = true
		w.trailers = declaredTrailers(w.header)
	default:
		w.closeAfter = true // HTTP/1.0: the body ends when the connection does
	}
	if w.req.Close || w.c.srv.draining.Load() || code == http.StatusSwitchingProtocols {
		w.closeAfter = true
	}

	bw := w.c.bw
	writeStatusLine(bw, code)
	w.c.writeFields(bw, w.header, code, w.trailers)
	switch {
	case code == http.StatusSwitchingProtocols:
		// The handler's Connection: upgrade was kept; after the handler
		// the connection is closed unless it was hijacked.
	case w.closeAfter:
		_, _ = bw.WriteString("Connection: close\r\n")
	case w.minor == 0:
		_, _ = bw.WriteString("Connection: keep-alive\r\n")
	}
	if cl >= 0 {
		_, _ = bw.WriteString("Content-Length: ")
		w.c.writeInt(bw, cl, 10)
		_, _ = bw.WriteString("\r\n")
	}
	if w.chunked {
		_, _ = bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	_, _ = bw.WriteString("\r\n")
}

// declaredLength returns the handler's valid Content-Length for a status
// that may carry one, or -1.
func (w *response) declaredLength(code int) int64 {
	v := w.header["Content-Length"]
	if len(v) == 0 || code < 200 || code == http.StatusNoContent {
		return -1
	}
	n, ok := parseContentLength(trimOWS(v[0]))
	if !ok || len(v) > 1 {
		w.c.srv.Log.Debug().Strs("content_length", v).Msg("http1: handler set an invalid Content-Length; ignored")
		return -1
	}
	return n
}

// declaredTrailers returns the keys listed in the Trailer header.
func declaredTrailers(h http.Header) []string {
	var keys []string
	for _, v := range h["Trailer"] {
		for k := range strings.SplitSeq(v, ",") {
			if k = trimOWS(k); isTokenString(k) {
				keys = append(keys, http.CanonicalHeaderKey(k))
			}
		}
	}
	return keys
}

// Write writes body bytes, writing the head first if needed.
func (w *response) Write(p []byte) (int, error) { return w.write(len(p), p, "") }

// WriteString is Write without the conversion to []byte.
func (w *response) WriteString(s string) (int, error) { return w.write(len(s), nil, s) }

func (w *response) write(n int, p []byte, s string) (int, error) {
	switch {
	case w.hijacked:
		return 0, http.ErrHijacked
	case w.handlerDone:
		return 0, ErrResponseDone
	}
	if !w.wroteHeader {
		w.writeHead(http.StatusOK, false)
	}
	switch {
	case n == 0:
		return 0, nil
	case w.isHead && !w.noBody:
		return n, nil // a HEAD response has no body: writes are dropped
	case w.noBody:
		return 0, http.ErrBodyNotAllowed
	case w.err != nil:
		return 0, w.err
	case w.cl >= 0 && w.written+int64(n) > w.cl:
		return 0, http.ErrContentLength
	}
	w.written += int64(n)
	bw := w.c.bw
	if w.chunked {
		w.c.writeInt(bw, int64(n), 16)
		_, _ = bw.WriteString("\r\n")
	}
	var err error
	if p != nil {
		_, err = bw.Write(p)
	} else {
		_, err = bw.WriteString(s)
	}
	if w.chunked && err == nil {
		_, err = bw.WriteString("\r\n")
	}
	if err != nil {
		w.err, w.closeAfter = err, true
		return 0, err
	}
	return n, nil
}

// Flush writes the head if needed and sends everything buffered.
func (w *response) Flush() { _ = w.FlushError() }

// FlushError is Flush returning the error; http.ResponseController uses it.
func (w *response) FlushError() error {
	switch {
	case w.hijacked:
		return http.ErrHijacked
	case w.handlerDone:
		return ErrResponseDone
	}
	if !w.wroteHeader {
		w.writeHead(http.StatusOK, false)
	}
	if w.err != nil {
		return w.err
	}
	if err := w.c.bw.Flush(); err != nil {
		w.err, w.closeAfter = err, true
		return err
	}
	return nil
}

// Hijack hands the connection to the handler. The reader of the returned
// ReadWriter holds any bytes the client sent after the request head. The
// server stops watching the connection and forgets it.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked || w.handlerDone {
		return nil, nil, http.ErrHijacked
	}
	w.stopContinue()
	c := w.c
	if w.wroteHeader {
		if err := c.bw.Flush(); err != nil {
			return nil, nil, err
		}
	}
	w.hijacked = true
	c.hijack()
	return c.nc, bufio.NewReadWriter(c.br, c.bw), nil
}

// SetReadDeadline sets the connection's read deadline (for the body).
func (w *response) SetReadDeadline(t time.Time) error { return w.c.nc.SetReadDeadline(t) }

// SetWriteDeadline sets the connection's write deadline.
func (w *response) SetWriteDeadline(t time.Time) error { return w.c.nc.SetWriteDeadline(t) }

// EnableFullDuplex reports success: this server always lets a handler read
// the request body while it writes the response.
func (w *response) EnableFullDuplex() error { return nil }

// finish completes the response after the handler returned: the head if
// nothing was written, the last chunk and trailers, then a flush.
func (w *response) finish() {
	if !w.wroteHeader {
		w.writeHead(http.StatusOK, true)
	}
	bw := w.c.bw
	if w.chunked && w.err == nil {
		_, _ = bw.WriteString("0\r\n")
		w.writeTrailers(bw)
		_, _ = bw.WriteString("\r\n")
	}
	if w.cl >= 0 && w.written < w.cl {
		w.closeAfter = true // the client waits for bytes that never come
	}
	if err := bw.Flush(); err != nil {
		w.err, w.closeAfter = err, true
	}
	w.handlerDone = true
}

// writeTrailers writes the declared trailers and the http.TrailerPrefix
// ones, each with the value the handler left in the header map.
func (w *response) writeTrailers(bw *bufio.Writer) {
	for _, k := range w.trailers {
		for _, v := range w.header[k] {
			writeField(bw, k, v)
		}
	}
	var prefixed []string
	for k := range w.header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			prefixed = append(prefixed, k)
		}
	}
	slices.Sort(prefixed)
	for _, k := range prefixed {
		name := k[len(http.TrailerPrefix):]
		if !isTokenString(name) {
			continue
		}
		for _, v := range w.header[k] {
			writeField(bw, name, v)
		}
	}
}

// managedHeader reports the fields the server writes itself.
func managedHeader(k string, code int) bool {
	switch k {
	case "Connection":
		return code != http.StatusSwitchingProtocols
	case "Keep-Alive", "Transfer-Encoding", "Content-Length":
		return true
	}
	return false
}

// writeFields writes h sorted by key, leaving out fields the server manages,
// declared trailers and invalid names.
func (c *conn) writeFields(bw *bufio.Writer, h http.Header, code int, trailers []string) {
	keys := c.keys[:0]
	for k := range h {
		if !managedHeader(k, code) && !slices.Contains(trailers, k) && isTokenString(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			writeField(bw, k, v)
		}
	}
	clear(keys)
	c.keys = keys[:0]
}

// writeField writes "k: v\r\n", turning CR, LF and NUL in v into spaces so
// a handler cannot split the response.
func writeField(bw *bufio.Writer, k, v string) {
	_, _ = bw.WriteString(k)
	_, _ = bw.WriteString(": ")
	if strings.ContainsAny(v, "\r\n\x00") {
		for i := 0; i < len(v); i++ {
			b := v[i]
			if b == '\r' || b == '\n' || b == 0 {
				b = ' '
			}
			_ = bw.WriteByte(b)
		}
	} else {
		_, _ = bw.WriteString(v)
	}
	_, _ = bw.WriteString("\r\n")
}

// writeStatusLine writes "HTTP/1.1 <code> <text>\r\n" without allocating.
// The version is 1.1 for HTTP/1.0 clients too, as RFC 9110 §6.2 advises.
func writeStatusLine(bw *bufio.Writer, code int) {
	_, _ = bw.WriteString("HTTP/1.1 ")
	_ = bw.WriteByte(byte('0' + code/100))
	_ = bw.WriteByte(byte('0' + code/10%10))
	_ = bw.WriteByte(byte('0' + code%10))
	_ = bw.WriteByte(' ')
	if text := http.StatusText(code); text != "" {
		_, _ = bw.WriteString(text)
	} else {
		_, _ = bw.WriteString("status code")
	}
	_, _ = bw.WriteString("\r\n")
}
