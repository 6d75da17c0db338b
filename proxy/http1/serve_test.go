package http1

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestAcceptedRequests(t *testing.T) {
	tests := []struct {
		name string
		req  string
		want string // echoHandler's summary
	}{
		{"origin-form", "GET /a?b=c HTTP/1.1\r\nHost: example.com\r\n\r\n", "GET /a?b=c HTTP/1.1 host=example.com body="},
		{"bare LF line ends", "GET / HTTP/1.1\nHost: a\n\n", "GET / HTTP/1.1 host=a body="},
		{"leading empty line", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET / HTTP/1.1 host=a body="},
		{"absolute-form", "GET http://b.example:8080/x HTTP/1.1\r\nHost: ignored\r\n\r\n", "GET http://b.example:8080/x HTTP/1.1 host=b.example:8080 body="},
		{"CONNECT authority-form", "CONNECT b.example:443 HTTP/1.1\r\nHost: b.example:443\r\n\r\n", "CONNECT b.example:443 HTTP/1.1 host=b.example:443 body="},
		{"OPTIONS asterisk", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "OPTIONS * HTTP/1.1 host=a body="},
		{"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", "GET / HTTP/1.0 host= body="},
		{"Content-Length body", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", "POST / HTTP/1.1 host=a body=hello"},
		{"Content-Length list collapsed", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello", "POST / HTTP/1.1 host=a body=hello"},
		{"Content-Length lines collapsed", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", "POST / HTTP/1.1 host=a body=hello"},
		{"chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;ext=1\r\nlo\r\n0\r\n\r\n", "POST / HTTP/1.1 host=a body=hello"},
		{"chunked any case and OWS", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:   ChUnKeD  \r\n\r\n5\r\nhello\r\n0\r\n\r\n", "POST / HTTP/1.1 host=a body=hello"},
		{"obs-text in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: caf\xc3\xa9\r\n\r\n", "GET / HTTP/1.1 host=a body="},
	}
	ts := startServer(t, http.HandlerFunc(echoHandler))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, ts)
			c.send(tc.req)
			resp, body := c.response(http.MethodGet)
			if resp.StatusCode != 200 || body != tc.want {
				t.Fatalf("got %d %q, want %q", resp.StatusCode, body, tc.want)
			}
		})
	}
}

// TestRequestFields checks what the handler sees beyond the request line.
func TestRequestFields(t *testing.T) {
	got := make(chan *http.Request, 1)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got <- r
	}))
	c := dial(t, ts)
	c.send("POST /p?q=1 HTTP/1.1\r\nhost: h.example\r\ncontent-type: text/plain\r\nX-Multi: a\r\nx-multi: b\r\n" +
		"Content-Length: 3, 3\r\nExpect: 100-continue\r\n\r\n")
	if line, _ := c.br.ReadString('\n'); line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("got %q, want 100 Continue", line)
	}
	_, _ = c.br.ReadString('\n')
	c.send("abc")
	c.response(http.MethodPost)
	r := <-got
	checks := []struct{ name, got, want string }{
		{"Method", r.Method, "POST"},
		{"URL.Path", r.URL.Path, "/p"},
		{"URL.RawQuery", r.URL.RawQuery, "q=1"},
		{"Host", r.Host, "h.example"},
		{"RemoteAddr", r.RemoteAddr, c.nc.LocalAddr().String()},
		{"Content-Type", r.Header.Get("Content-Type"), "text/plain"},
		{"X-Multi", strings.Join(r.Header["X-Multi"], ","), "a,b"},
		{"Content-Length header", strings.Join(r.Header["Content-Length"], ","), "3"},
		{"ContentLength", fmt.Sprint(r.ContentLength), "3"},
		{"Host header removed", fmt.Sprint(r.Header["Host"]), "[]"},
		{"Expect removed", fmt.Sprint(r.Header["Expect"]), "[]"},
		{"Close", fmt.Sprint(r.Close), "false"},
		{"Proto", fmt.Sprintf("%s %d %d", r.Proto, r.ProtoMajor, r.ProtoMinor), "HTTP/1.1 1 1"},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %q, want %q", ck.name, ck.got, ck.want)
		}
	}
}

func TestKeepAlive(t *testing.T) {
	tests := []struct {
		name      string
		req       string
		handler   http.HandlerFunc
		wantConn  string // Connection header on the wire, "" for none
		wantClose bool
	}{
		{"HTTP/1.1 default", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", sized, "", false},
		{"HTTP/1.1 close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", sized, "close", true},
		{"HTTP/1.1 close in list", "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n", sized, "close", true},
		{"HTTP/1.0 default", "GET / HTTP/1.0\r\n\r\n", sized, "close", true},
		{"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", sized, "keep-alive", false},
		{"HTTP/1.0 keep-alive unsized body", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", unsized, "close", true},
		{"HTTP/1.1 unsized body", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", unsized, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, tc.handler)
			c := dial(t, ts)
			for i := 0; i < 2; i++ {
				c.send(tc.req)
				head := readHead(t, c.br)
				if got := headerLine(head, "Connection"); got != tc.wantConn {
					t.Fatalf("Connection %q, want %q in\n%s", got, tc.wantConn, head)
				}
				if headerLine(head, "Keep-Alive") != "" {
					t.Errorf("handler's Keep-Alive header leaked:\n%s", head)
				}
				if tc.wantClose {
					b, _ := io.ReadAll(c.br)
					if !strings.HasSuffix(string(b), "hello") {
						t.Fatalf("body %q", b)
					}
					return
				}
				readBody(t, c.br, head)
			}
		})
	}
}

// sized answers "hello" with a Content-Length, and tries to set the
// headers the server manages.
func sized(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "5")
	w.Header().Set("Connection", "keep-alive")
	w.Header().Set("Keep-Alive", "timeout=1")
	_, _ = io.WriteString(w, "hello")
}

// unsized answers "hello" without a Content-Length.
func unsized(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Transfer-Encoding", "identity")
	_, _ = io.WriteString(w, "hello")
}

// readHead reads a response head off the wire, exactly as sent.
func readHead(t testing.TB, br *bufio.Reader) string {
	t.Helper()
	var sb strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("read head: %v (so far %q)", err, sb.String())
		}
		sb.WriteString(line)
		if line == "\r\n" {
			return sb.String()
		}
	}
}

func headerLine(head, key string) string {
	for _, l := range strings.Split(head, "\r\n") {
		if k, v, ok := strings.Cut(l, ": "); ok && k == key {
			return v
		}
	}
	return ""
}

// readBody reads the body that follows head (Content-Length or chunked).
func readBody(t testing.TB, br *bufio.Reader, head string) string {
	t.Helper()
	if cl := headerLine(head, "Content-Length"); cl != "" {
		var n int
		fmt.Sscan(cl, &n)
		b := make([]byte, n)
		if _, err := io.ReadFull(br, b); err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	var sb strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		var n int
		fmt.Sscanf(line, "%x", &n)
		if n == 0 {
			for line != "\r\n" {
				line, _ = br.ReadString('\n')
			}
			return sb.String()
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(br, b); err != nil {
			t.Fatal(err)
		}
		sb.Write(b[:n])
	}
}

func TestPipelining(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(echoHandler))
	c := dial(t, ts)
	c.send("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n" +
		"POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" +
		"POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n" +
		"GET /4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	want := []string{
		"GET /1 HTTP/1.1 host=a body=",
		"POST /2 HTTP/1.1 host=a body=abc",
		"POST /3 HTTP/1.1 host=a body=x",
		"GET /4 HTTP/1.1 host=a body=",
	}
	for _, w := range want {
		if _, body := c.response(http.MethodGet); body != w {
			t.Fatalf("got %q, want %q", body, w)
		}
	}
	c.expectClosed()
}

func TestChunkedRequestTrailers(t *testing.T) {
	type seen struct {
		before, after http.Header
		body          string
	}
	got := make(chan seen, 1)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{before: r.Trailer.Clone()}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		s.body, s.after = string(b), r.Trailer
		got <- s
	}))
	c := dial(t, ts)
	c.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: x-checksum, X-Other\r\n\r\n" +
		"4\r\nwiki\r\n5\r\npedia\r\n0\r\nX-Checksum: abc\r\nX-Undeclared: u\r\nContent-Length: 99\r\n\r\n")
	resp, _ := c.response(http.MethodPost)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	s := <-got
	if s.body != "wikipedia" {
		t.Errorf("body %q", s.body)
	}
	if len(s.before) != 2 || s.before["X-Checksum"] != nil || s.before["X-Other"] != nil {
		t.Errorf("trailer before the body: %v, want declared keys with nil values", s.before)
	}
	if s.after.Get("X-Checksum") != "abc" || s.after.Get("X-Undeclared") != "u" || s.after["Content-Length"] != nil {
		t.Errorf("trailer after the body: %v", s.after)
	}
}

func TestChunkedResponseTrailersOnWire(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		w.Header().Set("X-Sum", "not yet")
		w.WriteHeader(200)
		_, _ = io.WriteString(w, "hello ")
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, "world")
		w.Header().Set("X-Sum", "42")
		w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
	}))
	c := dial(t, ts)
	c.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	b, err := io.ReadAll(c.br)
	if err != nil {
		t.Fatal(err)
	}
	want := "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"6\r\nhello \r\n5\r\nworld\r\n0\r\nX-Sum: 42\r\nX-Late: yes\r\n\r\n"
	if string(b) != want {
		t.Fatalf("wire:\n%q\nwant:\n%q", b, want)
	}
}

func TestNoBodyResponses(t *testing.T) {
	writeErr := make(chan error, 1)
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := 200
		fmt.Sscan(r.URL.Query().Get("code"), &code)
		if r.URL.Query().Get("cl") != "" {
			w.Header().Set("Content-Length", "5")
		}
		w.Header().Set("X-Kept", "1")
		w.WriteHeader(code)
		_, err := io.WriteString(w, "hello")
		writeErr <- err
	}))
	tests := []struct {
		name, method, query string
		wantHead            string
		wantErr             error
	}{
		{"HEAD with length", "HEAD", "cl=1", "HTTP/1.1 200 OK\r\nX-Kept: 1\r\nContent-Length: 5\r\n\r\n", nil},
		{"HEAD without length", "HEAD", "", "HTTP/1.1 200 OK\r\nX-Kept: 1\r\n\r\n", nil},
		{"204 drops length", "GET", "code=204&cl=1", "HTTP/1.1 204 No Content\r\nX-Kept: 1\r\n\r\n", http.ErrBodyNotAllowed},
		{"304 keeps length", "GET", "code=304&cl=1", "HTTP/1.1 304 Not Modified\r\nX-Kept: 1\r\nContent-Length: 5\r\n\r\n", http.ErrBodyNotAllowed},
		{"304 without length", "GET", "code=304", "HTTP/1.1 304 Not Modified\r\nX-Kept: 1\r\n\r\n", http.ErrBodyNotAllowed},
	}
	c := dial(t, ts)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.send(tc.method + " /?" + tc.query + " HTTP/1.1\r\nHost: a\r\n\r\n")
			if head := readHead(t, c.br); head != tc.wantHead {
				t.Errorf("head %q, want %q", head, tc.wantHead)
			}
			if err := <-writeErr; !errors.Is(err, tc.wantErr) {
				t.Errorf("Write error %v, want %v", err, tc.wantErr)
			}
		})
	}
	// The connection is still in sync: no body bytes were sent.
	c.send("HEAD /?cl=1 HTTP/1.1\r\nHost: a\r\n\r\n")
	if head := readHead(t, c.br); !strings.HasPrefix(head, "HTTP/1.1 200 OK") {
		t.Fatalf("out of sync: %q", head)
	}
	<-writeErr
}

func TestEmptyResponseGetsZeroLength(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	c := dial(t, ts)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if head := readHead(t, c.br); head != "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" {
		t.Fatalf("head %q", head)
	}
}

func TestInformationalResponses(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</s.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Content-Length", "2")
		_, _ = io.WriteString(w, "ok")
	}))
	c := dial(t, ts)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if head := readHead(t, c.br); head != "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n" {
		t.Fatalf("informational head %q", head)
	}
	if head := readHead(t, c.br); head != "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n" {
		t.Fatalf("final head %q", head)
	}
	_, _ = c.br.Discard(2)
	// HTTP/1.0 clients get no 1xx.
	c.send("GET / HTTP/1.0\r\n\r\n")
	if head := readHead(t, c.br); !strings.HasPrefix(head, "HTTP/1.1 200 OK\r\n") {
		t.Fatalf("HTTP/1.0 head %q", head)
	}
}

func TestResponseHeaderSanitized(t *testing.T) {
	ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["X-Split"] = []string{"a\r\nSet-Cookie: evil=1"}
		w.Header()["Bad Name"] = []string{"x"}
		w.Header().Set("Content-Length", "0")
	}))
	c := dial(t, ts)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if head := readHead(t, c.br); head != "HTTP/1.1 200 OK\r\nX-Split: a  Set-Cookie: evil=1\r\nContent-Length: 0\r\n\r\n" {
		t.Fatalf("head %q", head)
	}
}
