package http1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// maxDrainBytes is how much of a request body the server reads and drops
// after the handler returned, to keep the connection; past it, it closes.
const maxDrainBytes = 256 << 10

// maxChunkOverhead bounds the chunk-size lines and extensions a chunked body
// may carry beyond 16 bytes plus twice the data of each chunk (the heuristic
// of net/http's chunked reader).
const maxChunkOverhead = 16 << 10

// body is r.Body for requests with a Content-Length or chunked body. It is
// safe for one reader at a time plus Close from anywhere; the server closes
// it when the handler returns, so a goroutine that outlives the handler (an
// http.Transport still writing the request upstream) reads
// http.ErrBodyReadAfterClose instead of the next request.
type body struct {
	c    *conn
	w    *response     // sends 100 Continue on the first read
	req  *http.Request // receives the trailers
	done atomic.Bool   // the whole body has been read

	mu        sync.Mutex
	chunked   bool
	remain    int64 // bytes left: of the body, or of the current chunk
	checkCRLF bool  // chunked: the CRLF after the chunk data is next
	eof       bool
	err       error // sticky read error
	closed    bool  // no more reads by the handler
	expect    bool  // 100 Continue not sent yet
	excess    int64 // chunked: overhead beyond the allowance
	raw       int64 // chunked: framing and data bytes read so far
}

var _ io.ReadCloser = (*body)(nil)

// Read reads the body, sending "100 Continue" first if the client asked for
// it and no response has been written.
func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.expect {
		b.expect = false
		b.w.writeContinue()
	}
	return b.readLocked(p)
}

// Close stops further reads. The unread rest is dealt with by the server
// once the handler returns.
func (b *body) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}

func (b *body) readLocked(p []byte) (int, error) {
	switch {
	case b.err != nil:
		return 0, b.err
	case b.eof:
		return 0, io.EOF
	case len(p) == 0:
		return 0, nil
	case b.chunked:
		return b.readChunked(p)
	}
	if int64(len(p)) > b.remain {
		p = p[:b.remain]
	}
	n, err := b.c.br.Read(p)
	b.remain -= int64(n)
	if b.remain == 0 {
		b.hitEOF()
		return n, io.EOF
	}
	if err != nil {
		return n, b.fail(err)
	}
	return n, nil
}

// readChunked decodes chunks into p. It keeps reading across chunk
// boundaries only while the next chunk-size line is already buffered, so it
// never blocks once it has data to return.
func (b *body) readChunked(p []byte) (int, error) {
	n := 0
	for {
		if b.remain == 0 {
			if n > 0 && !b.headerBuffered() {
				return n, nil
			}
			if err := b.nextChunk(); err != nil {
				return n, b.fail(err)
			}
			if b.eof {
				return n, io.EOF
			}
		}
		if n == len(p) {
			return n, nil
		}
		k, err := b.c.br.Read(p[n : n+int(min(int64(len(p)-n), b.remain))])
		n += k
		b.remain -= int64(k)
		b.raw += int64(k)
		if b.remain == 0 {
			b.checkCRLF = true
		}
		if err != nil {
			return n, b.fail(err)
		}
		if b.remain > 0 {
			return n, nil
		}
	}
}

// headerBuffered reports whether the CRLF ending the last chunk and the
// next chunk-size line are already in the read buffer.
func (b *body) headerBuffered() bool {
	nb := b.c.br.Buffered()
	if nb == 0 {
		return false
	}
	buf, _ := b.c.br.Peek(nb)
	if b.checkCRLF {
		if len(buf) < 2 {
			return false
		}
		buf = buf[2:]
	}
	return bytes.IndexByte(buf, '\n') >= 0
}

// nextChunk consumes the CRLF after the previous chunk's data and the next
// chunk-size line; the last chunk's line is followed by the trailer section.
func (b *body) nextChunk() error {
	br := b.c.br
	if b.checkCRLF {
		crlf, err := br.Peek(2)
		if err != nil {
			return err
		}
		if crlf[0] != '\r' || crlf[1] != '\n' {
			return fmt.Errorf("%w: missing CRLF after chunk data", ErrMalformedChunk)
		}
		_, _ = br.Discard(2)
		b.raw += 2
		b.checkCRLF = false
	}
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return fmt.Errorf("%w: chunk-size line too long", ErrMalformedChunk)
	}
	if err != nil {
		return err
	}
	b.raw += int64(len(line))
	size, ok := parseChunkLine(line)
	if !ok {
		return fmt.Errorf("%w: invalid chunk-size line", ErrMalformedChunk)
	}
	b.excess += int64(len(line)) + 2 - 16 - 2*min(size, math.MaxInt64/4)
	b.excess = max(b.excess, 0)
	if b.excess > maxChunkOverhead {
		return fmt.Errorf("%w: too much chunk overhead", ErrMalformedChunk)
	}
	if size > 0 {
		b.remain = size
		return nil
	}
	if err := b.readTrailers(); err != nil {
		return err
	}
	b.hitEOF()
	return nil
}

// parseChunkLine parses `1*HEXDIG [ BWS ";" chunk-ext ] CRLF`. The CRLF is
// required (a bare LF is refused: lenient chunk-line endings are a known
// smuggling vector) and the extension may not hold CTLs.
func parseChunkLine(line []byte) (int64, bool) {
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return 0, false
	}
	line = line[:len(line)-2]
	var n int64
	i := 0
	for ; i < len(line); i++ {
		d := unhex(line[i])
		if d < 0 {
			break
		}
		if n > math.MaxInt64>>4 {
			return 0, false
		}
		n = n<<4 | int64(d)
	}
	if i == 0 {
		return 0, false
	}
	ext := line[i:]
	if len(ext) == 0 {
		return n, true
	}
	j := 0
	for j < len(ext) && (ext[j] == ' ' || ext[j] == '\t') {
		j++
	}
	if j == len(ext) || ext[j] != ';' {
		return 0, false
	}
	for _, c := range ext {
		if ctlTable[c] {
			return 0, false
		}
	}
	return n, true
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// readTrailers reads the trailer section with the header limits and merges
// its fields into req.Trailer, dropping fields that may not be trailers.
func (b *body) readTrailers() error {
	p := &b.c.parser
	p.reset()
	if err := p.readFields(); err != nil {
		var rej *RejectError
		if errors.As(err, &rej) {
			return fmt.Errorf("%w: trailer: %s", ErrMalformedChunk, rej.Reason)
		}
		return err
	}
	b.raw += int64(len(p.head))
	if len(p.fields) == 0 {
		return nil
	}
	s := string(p.head)
	for _, f := range p.fields {
		k, v := s[f.name.start:f.name.end], s[f.value.start:f.value.end]
		if forbiddenTrailer(k) {
			continue
		}
		if b.req.Trailer == nil {
			b.req.Trailer = make(http.Header)
		}
		b.req.Trailer[k] = append(b.req.Trailer[k], v)
	}
	return nil
}

// hitEOF records the end of the body. While the handler may still read, the
// connection is then watched for the client going away.
func (b *body) hitEOF() {
	b.eof = true
	b.done.Store(true)
	if !b.closed {
		b.c.bodyDone()
	}
}

// fail makes err the sticky error of every later read.
func (b *body) fail(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	b.err = err
	return err
}

// drainTimeout bounds dropping the unread rest of a body after the handler
// returned, and a Read of the body still in flight in another goroutine
// (a transport copying it upstream).
const drainTimeout = time.Second

// finish is called by the server once the handler returned. It ends reads
// by anyone still holding the body and, if the connection is to be kept,
// drops the unread rest (at most maxDrainBytes, within drainTimeout). It
// reports whether the connection can carry another request.
func (b *body) finish(keep bool, drainTimeout time.Duration) bool {
	if !b.done.Load() {
		// Unblock or bound a Read still in flight in another goroutine.
		if keep {
			_ = b.c.nc.SetReadDeadline(time.Now().Add(drainTimeout))
		} else {
			_ = b.c.nc.SetReadDeadline(aLongTimeAgo)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	switch {
	case b.err != nil:
		return false
	case b.eof:
		return true
	case !keep || b.expect:
		// A client still waiting for 100 Continue may or may not send
		// the body: the connection's framing is unknown.
		return false
	}
	return b.discardLocked(maxDrainBytes)
}

// discardLocked reads and drops the rest of the body if it fits in limit
// raw bytes.
func (b *body) discardLocked(limit int64) bool {
	br := b.c.br
	if !b.chunked {
		if b.remain > limit {
			return false
		}
		n, err := br.Discard(int(b.remain))
		b.remain -= int64(n)
		if err != nil {
			b.fail(err)
			return false
		}
		b.hitEOF()
		return true
	}
	start := b.raw
	for !b.eof {
		if b.remain == 0 {
			if err := b.nextChunk(); err != nil {
				b.fail(err)
				return false
			}
			continue
		}
		if b.raw-start+b.remain > limit {
			return false
		}
		n, err := br.Discard(int(b.remain))
		b.remain -= int64(n)
		b.raw += int64(n)
		if err != nil {
			b.fail(err)
			return false
		}
		b.checkCRLF = true
	}
	return b.raw-start <= limit
}
