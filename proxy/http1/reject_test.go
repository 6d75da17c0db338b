package http1

import (
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// rejectCase is a request the server must refuse itself.
type rejectCase struct {
	name   string
	req    string
	status int
}

func smugglingCases() []rejectCase {
	const post = "POST / HTTP/1.1\r\nHost: a\r\n"
	return []rejectCase{
		{"CL and TE", post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"TE and CL", post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400},
		{"CL lines differ", post + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400},
		{"CL list differs", post + "Content-Length: 5, 6\r\n\r\nhello!", 400},
		{"CL plus sign", post + "Content-Length: +5\r\n\r\nhello", 400},
		{"CL negative", post + "Content-Length: -1\r\n\r\n", 400},
		{"CL hex", post + "Content-Length: 0x5\r\n\r\nhello", 400},
		{"CL inner space", post + "Content-Length:  5 5\r\n\r\nhello", 400},
		{"CL overflow", post + "Content-Length: 99999999999999999999\r\n\r\n", 400},
		{"CL int64 overflow", post + "Content-Length: 9223372036854775808\r\n\r\n", 400},
		{"CL empty", post + "Content-Length: \r\n\r\n", 400},
		{"CL empty element", post + "Content-Length: 5,\r\n\r\nhello", 400},
		{"CL underscore", post + "Content-Length: 1_0\r\n\r\n", 400},
		{"TE xchunked", post + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400},
		{"TE chunked then identity", post + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 400},
		{"TE vertical tab", post + "Transfer-Encoding: chunked\v\r\n\r\n0\r\n\r\n", 400},
		{"TE identity", post + "Transfer-Encoding: identity\r\n\r\n", 400},
		{"TE chunked twice in a list", post + "Transfer-Encoding:  chunked , chunked\r\n\r\n0\r\n\r\n", 400},
		{"TE repeated line", post + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"TE gzip alone", post + "Transfer-Encoding: gzip\r\n\r\n", 400},
		{"TE empty", post + "Transfer-Encoding: \r\n\r\n", 400},
		{"TE with parameter", post + "Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n", 400},
		{"TE quoted", post + "Transfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n", 400},
		{"TE on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"TE space before colon", post + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400},
		{"TE obs-fold", post + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400},
		{"TE gzip then chunked", post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
		{"forbidden declared trailer", post + "Transfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n0\r\n\r\n", 400},
	}
}

func syntaxCases() []rejectCase {
	return []rejectCase{
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  continued\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost: a\r\nX-A : 1\r\n\r\n", 400},
		{"tab before colon", "GET / HTTP/1.1\r\nHost: a\r\nX-A\t: 1\r\n\r\n", 400},
		{"no colon", "GET / HTTP/1.1\r\nHost: a\r\nX-A\r\n\r\n", 400},
		{"empty name", "GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n", 400},
		{"non-token name", "GET / HTTP/1.1\r\nHost: a\r\nX(A): 1\r\n\r\n", 400},
		{"NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\x002\r\n\r\n", 400},
		{"DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\x7f\r\n\r\n", 400},
		{"bare CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r2\r\n\r\n", 400},
		{"bare CR in request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"bare CR ends line", "GET / HTTP/1.1\rHost: a\r\n\r\n", 400},
		{"missing Host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"double Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"double Host on 1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 400},
		{"invalid Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
		{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
		{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505},
		{"HTTP/0.9", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505},
		{"HTTP/2", "GET / HTTP/2\r\nHost: a\r\n\r\n", 505},
		{"h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
		{"lowercase version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
		{"version junk", "GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 400},
		{"no version", "GET /\r\nHost: a\r\n\r\n", 400},
		{"double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
		{"tab separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"bad method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"fragment in target", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"CTL in target", "GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"asterisk for GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"authority-form for GET", "GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"CONNECT origin-form", "CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"CONNECT without port", "CONNECT example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", 400},
		{"absolute-form userinfo", "GET http://u:p@example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", 400},
		{"absolute-form no host", "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"empty request line", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"unknown expectation", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 417},
	}
}

func limitCases() []rejectCase {
	long := strings.Repeat("a", DefaultMaxRequestLineBytes)
	many := strings.Repeat("X-A: 1\r\n", DefaultMaxHeaderCount)
	big := strings.Repeat("X-Big: "+strings.Repeat("b", 4000)+"\r\n", 17)
	return []rejectCase{
		{"request line too long", "GET /" + long + " HTTP/1.1\r\nHost: a\r\n\r\n", 414},
		{"request line too long without end", "GET /" + long + long, 414},
		{"too many header fields", "GET / HTTP/1.1\r\nHost: a\r\n" + many + "\r\n", 431},
		{"header bytes", "GET / HTTP/1.1\r\nHost: a\r\n" + big + "\r\n", 431},
		{"one endless header line", "GET / HTTP/1.1\r\nHost: a\r\nX-A: " + strings.Repeat("c", 80<<10), 431},
	}
}

func TestRejects(t *testing.T) {
	groups := map[string][]rejectCase{
		"smuggling": smugglingCases(),
		"syntax":    syntaxCases(),
		"limits":    limitCases(),
	}
	for group, cases := range groups {
		t.Run(group, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					var called atomic.Bool
					ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						called.Store(true)
					}))
					c := dial(t, ts)
					c.send(tc.req)
					resp, body := c.response(http.MethodGet)
					if resp.StatusCode != tc.status {
						t.Fatalf("status %d (%q), want %d", resp.StatusCode, body, tc.status)
					}
					if !resp.Close { // net/http's parser moves "Connection: close" here
						t.Errorf("refusal without Connection: close: %v", resp.Header)
					}
					if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
						t.Errorf("Content-Type %q", ct)
					}
					if strings.Count(body, "\n") != 1 || !strings.HasSuffix(body, "\n") {
						t.Errorf("reason is not one line: %q", body)
					}
					c.expectClosed()
					err := ts.waitServeConn(t)
					if rej, ok := err.(*RejectError); !ok || rej.Status != tc.status {
						t.Errorf("ServeConn returned %v, want a %d RejectError", err, tc.status)
					}
					if called.Load() {
						t.Error("handler was called")
					}
					if got := ts.rejects(); !slices.Equal(got, []int{tc.status}) {
						t.Errorf("OnReject saw %v", got)
					}
				})
			}
		})
	}
}

// TestLimitsCustom checks configured limits at their exact boundaries.
func TestLimitsCustom(t *testing.T) {
	lim := Limits{MaxRequestLineBytes: 20, MaxHeaderBytes: 40, MaxHeaderCount: 3}
	tests := []struct {
		name   string
		req    string
		status int
	}{
		{"request line at limit", "GET /234567 HTTP/1.1\r\nHost: a\r\n\r\n", 200},
		{"request line over limit", "GET /2345678 HTTP/1.1\r\nHost: a\r\n\r\n", 414},
		{"header count at limit", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", 200},
		{"header count over limit", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 431},
		// 9 + 27 + 2 = 38 and 9 + 29 + 2 = 40 bytes fit; 41 does not.
		{"header bytes at limit", "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", 27-5) + "\r\n\r\n", 200},
		{"header bytes over limit", "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", 27-5+3) + "\r\n\r\n", 431},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
				func(s *Server) { s.Limits = lim })
			c := dial(t, ts)
			c.send(tc.req)
			resp, _ := c.response(http.MethodGet)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}
