package http1

import (
	"bufio"
	"bytes"
	"errors"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// parseBytes runs the head parser over data, as ServeConn would.
func parseBytes(data []byte, lim Limits) (*http.Request, framing, error) {
	p := parser{br: bufio.NewReaderSize(bytes.NewReader(data), 4096), lim: lim.withDefaults()}
	req := new(http.Request)
	fr, err := p.readRequest(req)
	return req, fr, err
}

// serialize writes the head of an accepted request back out in normal form.
func serialize(r *http.Request, fr framing) []byte {
	var b bytes.Buffer
	b.WriteString(r.Method + " " + r.RequestURI + " " + r.Proto + "\r\n")
	if r.Method != http.MethodConnect && (r.RequestURI[0] == '/' || r.RequestURI == "*") {
		b.WriteString("Host: " + r.Host + "\r\n")
	} else if r.ProtoMinor == 1 {
		b.WriteString("Host: x\r\n")
	}
	for _, k := range slices.Sorted(maps.Keys(r.Header)) {
		for _, v := range r.Header[k] {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	if fr.chunked {
		b.WriteString("Transfer-Encoding: chunked\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

func FuzzParseRequest(f *testing.F) {
	seeds := []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /a?b=c HTTP/1.0\n\n",
		"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello",
		"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n0\r\nX-T: 1\r\n\r\n",
		"GET http://b.example:8080/x HTTP/1.1\r\nHost: ignored\r\n\r\n",
		"CONNECT b.example:443 HTTP/1.1\r\nHost: b.example:443\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
		"GET / HTTP/1.1\r\nhost: a\r\nx-multi: 1\r\nX-MULTI: 2\r\nConnection: close\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	for _, tc := range smugglingCases() {
		f.Add([]byte(tc.req))
	}
	for _, tc := range syntaxCases() {
		f.Add([]byte(tc.req))
	}
	lim := Limits{MaxRequestLineBytes: 1024, MaxHeaderBytes: 2048, MaxHeaderCount: 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, fr, err := parseBytes(data, lim)
		if err != nil {
			var rej *RejectError
			if errors.As(err, &rej) && (rej.Status < 400 || rej.Status > 505 || strings.ContainsAny(rej.Reason, "\r\n")) {
				t.Fatalf("bad refusal %+v", rej)
			}
			return
		}
		checkAccepted(t, data, r, fr)
		// The normal form parses to the same request.
		again := serialize(r, fr)
		r2, fr2, err := parseBytes(again, Limits{MaxRequestLineBytes: 1 << 20, MaxHeaderBytes: 1 << 20, MaxHeaderCount: 1000})
		if err != nil {
			t.Fatalf("normal form %q refused: %v", again, err)
		}
		if r2.Method != r.Method || r2.RequestURI != r.RequestURI || r2.Proto != r.Proto ||
			r2.Host != r.Host && r.Method != http.MethodConnect && r.RequestURI[0] == '/' ||
			r2.ContentLength != r.ContentLength || r2.Close != r.Close ||
			fr2.chunked != fr.chunked || !reflect.DeepEqual(r2.Header, r.Header) ||
			!reflect.DeepEqual(r2.TransferEncoding, r.TransferEncoding) {
			t.Fatalf("round trip of %q\nvia %q\ngave %+v\nwant %+v", data, again, r2, r)
		}
	})
}

// checkAccepted asserts the invariants of every accepted request.
func checkAccepted(t *testing.T, data []byte, r *http.Request, fr framing) {
	t.Helper()
	line := r.Method + " " + r.RequestURI + " " + r.Proto
	if !bytes.HasPrefix(data, []byte(line+"\r\n")) && !bytes.HasPrefix(data, []byte(line+"\n")) {
		i := bytes.Index(data, []byte(line))
		if i < 0 || strings.Trim(string(data[:i]), "\r\n") != "" {
			t.Fatalf("request line %q is not in the input %q", line, data)
		}
	}
	if r.Proto != "HTTP/1.0" && r.Proto != "HTTP/1.1" || r.ProtoMajor != 1 || strconv.Itoa(r.ProtoMinor) != r.Proto[7:] {
		t.Fatalf("version %q %d.%d", r.Proto, r.ProtoMajor, r.ProtoMinor)
	}
	if !isTokenString(r.Method) || r.URL == nil {
		t.Fatalf("method %q url %v", r.Method, r.URL)
	}
	for k, vv := range r.Header {
		if !isTokenString(k) || http.CanonicalHeaderKey(k) != k {
			t.Fatalf("header key %q", k)
		}
		for _, v := range vv {
			for i := 0; i < len(v); i++ {
				if ctlTable[v[i]] || v[i] == '\r' || v[i] == '\n' {
					t.Fatalf("header value %q", v)
				}
			}
		}
	}
	_, hasCL := r.Header["Content-Length"]
	_, hasTE := r.Header["Transfer-Encoding"]
	switch {
	case hasTE, r.Header["Host"] != nil:
		t.Fatal("Transfer-Encoding or Host left in the header map")
	case fr.chunked && (hasCL || r.ContentLength != -1 || r.ProtoMinor == 0):
		t.Fatalf("chunked with Content-Length %v / %d on %s", r.Header["Content-Length"], r.ContentLength, r.Proto)
	case !fr.chunked && r.ContentLength < 0:
		t.Fatalf("ContentLength %d", r.ContentLength)
	case hasCL && len(r.Header["Content-Length"]) != 1:
		t.Fatalf("Content-Length not collapsed: %q", r.Header["Content-Length"])
	case hasCL && r.Header.Get("Content-Length") != strconv.FormatInt(r.ContentLength, 10) &&
		strings.TrimLeft(r.Header.Get("Content-Length"), "0") != strings.TrimLeft(strconv.FormatInt(r.ContentLength, 10), "0"):
		t.Fatalf("Content-Length %q vs %d", r.Header.Get("Content-Length"), r.ContentLength)
	}
}
