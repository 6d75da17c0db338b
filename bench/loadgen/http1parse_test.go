package loadgen

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadResponse(t *testing.T) {
	const next = "HTTP/1.1 299 Next\r\nContent-Length: 0\r\n\r\n"
	tests := []struct {
		name      string
		in        string
		code      int
		closeConn bool
		err       error
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, false, nil},
		{"no reason", "HTTP/1.1 204\r\n\r\n", 204, false, nil},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 2\n\nhi", 200, false, nil},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\n", 200, false, nil},
		{"chunked wins", "HTTP/1.1 200 OK\r\ncontent-length: 99\r\ntransfer-encoding: gzip, Chunked\r\n\r\n0\r\n\r\n", 200, false, nil},
		{"interim 100", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n", 503, false, nil},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 200, true, nil},
		{"http/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 200, true, nil},
		{"http/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", 200, false, nil},
		{"until close", "HTTP/1.1 200 OK\r\n\r\nbody until EOF", 200, true, nil},
		{"304 no body", "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", 304, false, nil},
		{"bad status", "HTTP/1.1 2x0 OK\r\n\r\n", 0, true, ErrMalformed},
		{"not http", "SSH-2.0-OpenSSH\r\n", 0, true, ErrMalformed},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 200, true, ErrMalformed},
		{"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 200, true, ErrMalformed},
		{"no colon", "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", 200, true, ErrMalformed},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 200, true, io.ErrUnexpectedEOF},
		{"truncated head", "HTTP/1.1 200 OK\r\nContent-Len", 200, true, io.ErrUnexpectedEOF},
		{"empty", "", 0, true, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			if tt.err == nil {
				in += next
			}
			br := bufio.NewReader(strings.NewReader(in))
			code, closeConn, err := readResponse(br)
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if code != tt.code || closeConn != tt.closeConn {
				t.Errorf("got %d close=%v, want %d close=%v", code, closeConn, tt.code, tt.closeConn)
			}
			if err != nil || closeConn {
				return
			}
			// The body was consumed exactly: the next response follows.
			if code, _, err := readResponse(br); err != nil || code != 299 {
				t.Errorf("next response: %d, %v", code, err)
			}
		})
	}
}

func TestReadResponseAllocs(t *testing.T) {
	resp := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n"
	r := strings.NewReader(resp)
	br := bufio.NewReader(r)
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset(resp)
		br.Reset(r)
		if _, _, err := readResponse(br); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("readResponse allocates %v times", allocs)
	}
}

// FuzzReadResponse: arbitrary bytes from a server never panic or hang the
// parser, and a success always has a three-digit code.
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 404 Not Found\r\n\r\nbody",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		code, _, err := readResponse(bufio.NewReaderSize(strings.NewReader(string(b)), 256))
		if err == nil && (code < 100 || code > 999) {
			t.Errorf("code %d without error", code)
		}
	})
}
