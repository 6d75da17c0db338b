package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// maxContentLength bounds a declared body size (1 TiB) to keep parsing sane.
const maxContentLength = 1 << 40

// readResponse reads one HTTP/1.x response from br, skipping interim 1xx
// responses and discarding the body. It reports the status code and whether
// the connection must be closed afterwards. It does not allocate on success.
func readResponse(br *bufio.Reader) (code int, closeConn bool, err error) {
	for {
		code, closeConn, err = readHead(br, &framing{})
		if err != nil {
			return code, true, err
		}
		if code >= 200 || code == 101 {
			return code, closeConn, nil
		}
	}
}

// framing is what the headers say about the body.
type framing struct {
	contentLength int64 // -1 when absent
	chunked       bool
}

// readHead reads the status line and headers, then the body.
func readHead(br *bufio.Reader, f *framing) (code int, closeConn bool, err error) {
	line, err := readLine(br)
	if err != nil {
		return 0, true, err
	}
	// "HTTP/1.1 200 OK": version, space, three digits, then end or space.
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' ||
		(len(line) > 12 && line[12] != ' ') {
		return 0, true, fmt.Errorf("%w: status line %q", ErrMalformed, truncate(line))
	}
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return 0, true, fmt.Errorf("%w: status line %q", ErrMalformed, truncate(line))
		}
		code = code*10 + int(c-'0')
	}
	closeConn = line[7] == '0' // HTTP/1.0 closes unless it says keep-alive
	f.contentLength = -1
	for {
		line, err = readLine(br)
		if err != nil {
			return code, true, err
		}
		if len(line) == 0 {
			break
		}
		if closeConn, err = parseHeader(line, f, closeConn); err != nil {
			return code, true, err
		}
	}
	switch {
	case code < 200 || code == 204 || code == 304:
		if code == 101 {
			closeConn = true // the connection now speaks something else
		}
		return code, closeConn, nil
	case f.chunked:
		return code, closeConn, readChunked(br)
	case f.contentLength >= 0:
		return code, closeConn, discard(br, f.contentLength)
	}
	// No framing: the body runs until the server closes.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return code, true, err
	}
	return code, true, nil
}

// parseHeader applies one header line to f and the close flag.
func parseHeader(line []byte, f *framing, closeConn bool) (bool, error) {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return closeConn, fmt.Errorf("%w: header %q", ErrMalformed, truncate(line))
	}
	name, val := line[:colon], bytes.TrimSpace(line[colon+1:])
	switch {
	case bytes.EqualFold(name, []byte("Content-Length")):
		n, ok := parseUint(val, 10)
		if !ok || n > maxContentLength {
			return closeConn, fmt.Errorf("%w: content-length %q", ErrMalformed, truncate(val))
		}
		f.contentLength = n
	case bytes.EqualFold(name, []byte("Transfer-Encoding")):
		f.chunked = hasToken(val, "chunked")
	case bytes.EqualFold(name, []byte("Connection")):
		if hasToken(val, "close") {
			closeConn = true
		} else if hasToken(val, "keep-alive") {
			closeConn = false
		}
	}
	return closeConn, nil
}

// readChunked discards a chunked body and its trailers.
func readChunked(br *bufio.Reader) error {
	for {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // chunk extension
		}
		size, ok := parseUint(bytes.TrimSpace(line), 16)
		if !ok || size > maxContentLength {
			return fmt.Errorf("%w: chunk size %q", ErrMalformed, truncate(line))
		}
		if size == 0 {
			break
		}
		if err := discard(br, size); err != nil {
			return err
		}
		if line, err = readLine(br); err != nil {
			return err
		} else if len(line) != 0 {
			return fmt.Errorf("%w: chunk not followed by CRLF", ErrMalformed)
		}
	}
	for { // trailers up to the empty line
		line, err := readLine(br)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
	}
}

// discard skips n body bytes.
func discard(br *bufio.Reader, n int64) error {
	for n > 0 {
		step := int(min(n, 1<<30))
		d, err := br.Discard(step)
		n -= int64(d)
		if err != nil {
			return noEOF(err)
		}
	}
	return nil
}

// readLine returns the next line without its CRLF or LF. The slice is valid
// until the next read from br.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%w: line longer than %d bytes", ErrMalformed, br.Size())
		}
		return nil, noEOF(err)
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// noEOF turns a mid-message EOF into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseUint parses a non-empty run of digits in base 10 or 16.
func parseUint(b []byte, base int64) (int64, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		var d int64
		switch {
		case c >= '0' && c <= '9':
			d = int64(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = int64(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = int64(c-'A') + 10
		default:
			return 0, false
		}
		n = n*base + d
	}
	return n, true
}

// hasToken reports whether the comma-separated list v contains tok, ignoring
// case.
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		var item []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			item, v = v, nil
		}
		if bytes.EqualFold(bytes.TrimSpace(item), []byte(tok)) {
			return true
		}
	}
	return false
}

// truncate shortens b for an error message.
func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
