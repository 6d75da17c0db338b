package http1

import (
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// framing is what the head says about the request's body and connection.
type framing struct {
	contentLength  int64 // -1 when chunked
	chunked        bool
	expectContinue bool // "Expect: 100-continue" on an HTTP/1.1 request
}

// special collects the framing-relevant fields while the header map is built.
type special struct {
	hosts      int
	host       string
	clSeen     bool
	cl         int64
	clValue    string // one valid element, kept as the collapsed header value
	clMulti    bool   // more than one element or line: collapse the header
	te         int
	teValue    string
	close      bool
	keepAlive  bool
	expect     string
	expectSeen bool
	trailer    bool
}

// readRequest reads one request head and fills req with everything but the
// body and context. Parse errors are *RejectError; read errors are returned
// as they are.
func (p *parser) readRequest(req *http.Request) (framing, error) {
	p.reset()
	rl, err := p.readRequestLine()
	if err != nil {
		return framing{}, err
	}
	if err := p.readFields(); err != nil {
		return framing{}, err
	}
	s := string(p.head) // the one allocation all strings below are cut from
	req.Method = s[rl.method.start:rl.method.end]
	req.RequestURI = s[rl.target.start:rl.target.end]
	req.Proto = s[rl.proto.start:rl.proto.end]
	req.ProtoMajor, req.ProtoMinor = 1, rl.minor

	h := make(http.Header, len(p.fields))
	vals := make([]string, len(p.fields))
	var sp special
	for i, f := range p.fields {
		k, v := s[f.name.start:f.name.end], s[f.value.start:f.value.end]
		if err := sp.note(k, v); err != nil {
			return framing{}, err
		}
		if old, ok := h[k]; ok {
			h[k] = append(old, v)
			continue
		}
		vals[i] = v
		h[k] = vals[i : i+1 : i+1]
	}
	req.Header = h
	if err := resolveTarget(req, &sp); err != nil {
		return framing{}, err
	}
	return decideFraming(req, &sp)
}

// note records the fields that decide framing, routing and keep-alive.
func (sp *special) note(k, v string) error {
	switch k {
	case "Host":
		sp.hosts++
		sp.host = v
	case "Content-Length":
		return sp.noteContentLength(v)
	case "Transfer-Encoding":
		sp.te++
		sp.teValue = v
	case "Connection":
		for tok := range strings.SplitSeq(v, ",") {
			tok = trimOWS(tok)
			switch {
			case strings.EqualFold(tok, "close"):
				sp.close = true
			case strings.EqualFold(tok, "keep-alive"):
				sp.keepAlive = true
			}
		}
	case "Expect":
		if sp.expectSeen {
			sp.expect = "," // more than one Expect line: not a lone 100-continue
		} else {
			sp.expect = v
		}
		sp.expectSeen = true
	case "Trailer":
		sp.trailer = true
	}
	return nil
}

// noteContentLength accepts a list of plain decimal values that must all be
// equal ("5", "5, 5", or the same value on several lines).
func (sp *special) noteContentLength(v string) error {
	if sp.clSeen {
		sp.clMulti = true
	}
	for elem := range strings.SplitSeq(v, ",") {
		elem = trimOWS(elem)
		n, ok := parseContentLength(elem)
		if !ok {
			return badRequest("invalid Content-Length")
		}
		if sp.clSeen && n != sp.cl {
			return badRequest("conflicting Content-Length values")
		}
		if sp.clSeen || len(elem) != len(v) {
			sp.clMulti = true
		}
		sp.clSeen, sp.cl, sp.clValue = true, n, elem
	}
	return nil
}

// parseContentLength parses 1*DIGIT into a non-negative int64; signs, hex,
// spaces, empty strings and overflow are refused.
func parseContentLength(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// resolveTarget checks the Host header and the request-target form against
// the method, and fills URL and Host.
func resolveTarget(req *http.Request, sp *special) error {
	switch {
	case sp.hosts > 1:
		return badRequest("multiple Host headers")
	case sp.hosts == 0 && req.ProtoMinor == 1:
		return badRequest("missing Host header")
	case !validHost(sp.host):
		return badRequest("invalid Host header")
	}
	delete(req.Header, "Host")
	target := req.RequestURI
	switch {
	case req.Method == http.MethodConnect:
		if !validAuthority(target) {
			return badRequest("CONNECT needs an authority-form target")
		}
		req.URL = &url.URL{Host: target}
		req.Host = target
		return nil
	case target == "*":
		if req.Method != http.MethodOptions {
			return badRequest("asterisk-form target is only for OPTIONS")
		}
		req.URL = &url.URL{Path: "*"}
		req.Host = sp.host
		return nil
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return badRequest("invalid request target")
	}
	req.URL = u
	if target[0] == '/' {
		req.Host = sp.host
		return nil
	}
	// absolute-form: the target's authority replaces the Host header.
	if u.Scheme == "" || u.Host == "" || u.User != nil || !validHost(u.Host) {
		return badRequest("invalid absolute-form target")
	}
	req.Host = u.Host
	return nil
}

// validHost reports whether h uses only the bytes a host[:port] may contain
// (the table of golang.org/x/net/http/httpguts.ValidHostHeader).
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		if !hostTable[h[i]] {
			return false
		}
	}
	return true
}

var hostTable = func() (t [256]bool) {
	for _, c := range []byte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!$%&()*+,-.:;=['_]~") {
		t[c] = true
	}
	return t
}()

// validAuthority accepts the authority-form of CONNECT: host ":" port, with
// a non-empty host and a decimal port.
func validAuthority(a string) bool {
	if !validHost(a) {
		return false
	}
	host, port, err := net.SplitHostPort(a)
	return err == nil && host != "" && allDigits([]byte(port))
}

// decideFraming applies the anti-smuggling rules of RFC 9112 §6 strictly:
// Transfer-Encoding must be exactly one "chunked" on an HTTP/1.1 request
// without Content-Length, and Content-Length values must agree.
func decideFraming(req *http.Request, sp *special) (framing, error) {
	fr := framing{}
	if req.ProtoMinor == 1 {
		req.Close = sp.close
	} else {
		req.Close = sp.close || !sp.keepAlive
	}
	switch {
	case sp.te > 0 && req.ProtoMinor == 0:
		return fr, badRequest("Transfer-Encoding on an HTTP/1.0 request")
	case sp.te > 0 && sp.clSeen:
		return fr, badRequest("both Content-Length and Transfer-Encoding")
	case sp.te > 1:
		return fr, badRequest("repeated Transfer-Encoding")
	case sp.te == 1:
		if err := checkTransferEncoding(sp.teValue); err != nil {
			return fr, err
		}
		fr.chunked, fr.contentLength = true, -1
		delete(req.Header, "Transfer-Encoding")
		req.TransferEncoding = []string{"chunked"}
		req.ContentLength = -1
		if sp.trailer {
			if err := declareTrailers(req); err != nil {
				return fr, err
			}
		}
	case sp.clSeen:
		fr.contentLength = sp.cl
		req.ContentLength = sp.cl
		if sp.clMulti {
			req.Header["Content-Length"] = []string{sp.clValue}
		}
	}
	if sp.expectSeen && req.ProtoMinor == 1 {
		if !strings.EqualFold(trimOWS(sp.expect), "100-continue") {
			return fr, reject(http.StatusExpectationFailed, "unsupported expectation")
		}
		delete(req.Header, "Expect")
		fr.expectContinue = fr.chunked || fr.contentLength > 0
	}
	return fr, nil
}

// checkTransferEncoding accepts exactly "chunked" (any case, OWS trimmed).
// A well-formed list of codings ending in chunked is 501 (we decode no other
// coding); everything else is 400.
func checkTransferEncoding(v string) error {
	if strings.EqualFold(trimOWS(v), "chunked") {
		return nil
	}
	codings := strings.Split(v, ",")
	for i, c := range codings {
		c = trimOWS(c)
		last := i == len(codings)-1
		if !isTokenString(c) || strings.EqualFold(c, "chunked") != last {
			return badRequest("invalid Transfer-Encoding")
		}
	}
	return reject(http.StatusNotImplemented, "unsupported transfer coding")
}

// declareTrailers pre-creates req.Trailer with the keys of the Trailer
// header, refusing keys that would change framing.
func declareTrailers(req *http.Request) error {
	for _, v := range req.Header["Trailer"] {
		for key := range strings.SplitSeq(v, ",") {
			key = trimOWS(key)
			if key == "" {
				continue
			}
			if !isTokenString(key) {
				return badRequest("invalid Trailer header")
			}
			key = http.CanonicalHeaderKey(key)
			if forbiddenTrailer(key) {
				return badRequest("forbidden key in Trailer header")
			}
			if req.Trailer == nil {
				req.Trailer = make(http.Header)
			}
			req.Trailer[key] = nil
		}
	}
	return nil
}

// forbiddenTrailer lists the fields a trailer section may not carry: they
// frame or route the message and were settled by the header section.
func forbiddenTrailer(key string) bool {
	switch key {
	case "Content-Length", "Transfer-Encoding", "Trailer", "Host", "Connection", "Te", "Expect":
		return true
	}
	return false
}
