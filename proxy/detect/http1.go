package detect

import "bytes"

// maxMethodLen bounds the method token; real methods are short.
const maxMethodLen = 24

// knownMethods may be trusted to start an HTTP/1 request even when the
// request line does not fit in the detection buffer (long URLs).
var knownMethods = [][]byte{
	[]byte("GET"), []byte("HEAD"), []byte("POST"), []byte("PUT"), []byte("DELETE"),
	[]byte("OPTIONS"), []byte("PATCH"), []byte("CONNECT"), []byte("TRACE"),
}

// classifyHTTP1 recognises "METHOD SP target SP HTTP/1.x" followed by CRLF
// or LF.
func classifyHTTP1(b []byte, full bool) (Protocol, bool) {
	// Method: one or more token characters, then a space.
	i := 0
	for i < len(b) && i <= maxMethodLen && isToken(b[i]) {
		i++
	}
	if i == len(b) {
		if i > maxMethodLen {
			return Opaque, true
		}
		return Opaque, full
	}
	if i == 0 || i > maxMethodLen || b[i] != ' ' {
		return Opaque, true
	}
	method := b[:i]
	// Target: visible characters up to the next space.
	j := i + 1
	for j < len(b) && b[j] > ' ' && b[j] != 0x7f {
		j++
	}
	if j == len(b) {
		if full && isKnownMethod(method) && j > i+1 {
			return HTTP1, true
		}
		return Opaque, full
	}
	if j == i+1 || b[j] != ' ' {
		return Opaque, true
	}
	// Version and line end.
	rest := b[j+1:]
	const v = "HTTP/1."
	for k := 0; k < len(rest) && k < len(v); k++ {
		if rest[k] != v[k] {
			return Opaque, true
		}
	}
	if len(rest) <= len(v) {
		return Opaque, full
	}
	if d := rest[len(v)]; d != '0' && d != '1' {
		return Opaque, true
	}
	end := rest[len(v)+1:]
	switch {
	case len(end) == 0:
		return Opaque, full
	case end[0] == '\n':
		return HTTP1, true
	case end[0] != '\r':
		return Opaque, true
	case len(end) == 1:
		return Opaque, full
	case end[1] == '\n':
		return HTTP1, true
	default:
		return Opaque, true
	}
}

func isKnownMethod(m []byte) bool {
	for _, k := range knownMethods {
		if bytes.Equal(m, k) {
			return true
		}
	}
	return false
}

// isToken reports whether c is a tchar (RFC 9110 §5.6.2).
func isToken(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
