package http1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// Character classes from RFC 9110 §5.6.2 (tchar) and §5.5 (field values).
var (
	tokenTable [256]bool // tchar
	ctlTable   [256]bool // bytes not allowed in a field value: CTLs except HTAB, and DEL
)

func init() {
	for c := '0'; c <= '9'; c++ {
		tokenTable[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		tokenTable[c] = true
		tokenTable[c-'a'+'A'] = true
	}
	for _, c := range []byte("!#$%&'*+-.^_`|~") {
		tokenTable[c] = true
	}
	for c := 0; c < 0x20; c++ {
		ctlTable[c] = c != '\t'
	}
	ctlTable[0x7f] = true
}

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenTable[c] {
			return false
		}
	}
	return true
}

func isTokenString(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenTable[s[i]] {
			return false
		}
	}
	return true
}

// canonicalize rewrites a token field name in place into the form
// http.CanonicalHeaderKey produces ("content-type" → "Content-Type"), so
// building the header map never allocates a key.
func canonicalize(b []byte) {
	upper := true
	for i, c := range b {
		switch {
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case !upper && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b[i] = c
		upper = c == '-'
	}
}

// span is a half-open byte range [start, end) of parser.head.
type span struct{ start, end int }

// fieldSpan locates one header or trailer field line in parser.head.
type fieldSpan struct{ name, value span }

// requestLine locates the three parts of the request line in parser.head.
type requestLine struct {
	method, target, proto span
	minor                 int // HTTP/1.<minor>
}

// parser reads a request head (or a trailer section) from br into head,
// one raw line after another, enforcing the limits while it reads. All the
// strings of a request are later cut from a single string(head), so a
// request costs one allocation for its method, target and header fields.
type parser struct {
	br     *bufio.Reader
	lim    Limits
	head   []byte
	fields []fieldSpan
}

// reset forgets the previous head, keeping the buffers unless they grew
// past what a normal request needs.
func (p *parser) reset() {
	if cap(p.head) > 64<<10 {
		p.head = nil
	}
	p.head = p.head[:0]
	if cap(p.fields) > 256 {
		p.fields = nil
	}
	p.fields = p.fields[:0]
}

// readLine appends the next line, terminator included, to p.head and
// returns the span of its content without the terminator. A line longer than
// maxRaw bytes (terminator included) fails with errLineTooLong after reading
// at most one buffer more than maxRaw. LF and CRLF end a line; a CR anywhere
// else fails with errBareCR.
func (p *parser) readLine(maxRaw int) (s span, raw int, err error) {
	start := len(p.head)
	for {
		frag, err := p.br.ReadSlice('\n')
		if len(p.head)-start+len(frag) > maxRaw {
			return span{}, 0, errLineTooLong
		}
		p.head = append(p.head, frag...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) && len(p.head) > start {
			err = io.ErrUnexpectedEOF
		}
		return span{}, 0, err
	}
	raw = len(p.head) - start
	end := len(p.head) - 1
	if end > start && p.head[end-1] == '\r' {
		end--
	}
	if bytes.IndexByte(p.head[start:end], '\r') >= 0 {
		return span{}, 0, errBareCR
	}
	return span{start, end}, raw, nil
}

// readRequestLine reads and checks "method SP request-target SP
// HTTP-version". Only the syntax is checked here; the target's form is
// checked against the method once the whole head is read.
func (p *parser) readRequestLine() (requestLine, error) {
	s, _, err := p.readLine(p.lim.MaxRequestLineBytes + 2)
	switch {
	case errors.Is(err, errLineTooLong):
		return requestLine{}, errRequestLineTooLong
	case errors.Is(err, errBareCR):
		return requestLine{}, badRequest("bare CR in request line")
	case err != nil:
		return requestLine{}, err
	}
	if s.end-s.start > p.lim.MaxRequestLineBytes {
		return requestLine{}, errRequestLineTooLong
	}
	line := p.head[s.start:s.end]
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 < 0 {
		return requestLine{}, badRequest("malformed request line")
	}
	sp2 := bytes.IndexByte(line[sp1+1:], ' ')
	if sp2 < 0 {
		return requestLine{}, badRequest("malformed request line")
	}
	sp2 += sp1 + 1
	rl := requestLine{
		method: span{s.start, s.start + sp1},
		target: span{s.start + sp1 + 1, s.start + sp2},
		proto:  span{s.start + sp2 + 1, s.end},
	}
	if !isToken(line[:sp1]) {
		return requestLine{}, badRequest("invalid method")
	}
	if !validTarget(line[sp1+1 : sp2]) {
		return requestLine{}, badRequest("invalid request target")
	}
	minor, rerr := parseVersion(line[sp2+1:])
	if rerr != nil {
		return requestLine{}, rerr
	}
	rl.minor = minor
	return rl, nil
}

// validTarget reports whether a request-target is non-empty and free of
// CTLs, spaces, DEL and '#' (a fragment is never part of a request target).
// Bytes above 0x7F are let through, as net/http does.
func validTarget(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c == 0x7f || c == '#' {
			return false
		}
	}
	return true
}

// parseVersion accepts exactly "HTTP/1.0" and "HTTP/1.1", returning the
// minor version. Any other well-formed "HTTP/<digits>[.<digits>]" is 505;
// anything else is 400.
func parseVersion(v []byte) (int, *RejectError) {
	if len(v) == 8 && string(v[:7]) == "HTTP/1." && (v[7] == '0' || v[7] == '1') {
		return int(v[7] - '0'), nil
	}
	rest, ok := bytes.CutPrefix(v, []byte("HTTP/"))
	if !ok {
		return 0, badRequest("malformed HTTP version")
	}
	major, minor, dot := bytes.Cut(rest, []byte("."))
	if !allDigits(major) || (dot && !allDigits(minor)) {
		return 0, badRequest("malformed HTTP version")
	}
	return 0, errBadVersion
}

func allDigits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// readFields reads field lines up to and including the empty line that ends
// a header or trailer section. Raw bytes (terminators included) count against
// lim.MaxHeaderBytes and lines against lim.MaxHeaderCount. Names are
// canonicalized in place.
func (p *parser) readFields() error {
	budget := p.lim.MaxHeaderBytes
	for {
		s, raw, err := p.readLine(budget)
		switch {
		case errors.Is(err, errLineTooLong):
			return errHeaderTooLarge
		case errors.Is(err, errBareCR):
			return badRequest("bare CR in header section")
		case err != nil:
			return err
		}
		budget -= raw
		if s.start == s.end {
			return nil
		}
		if len(p.fields) >= p.lim.MaxHeaderCount {
			return errTooManyHeaders
		}
		f, rerr := p.parseField(s)
		if rerr != nil {
			return rerr
		}
		p.fields = append(p.fields, f)
	}
}

// parseField checks one `name ":" OWS value OWS` line.
func (p *parser) parseField(s span) (fieldSpan, error) {
	line := p.head[s.start:s.end]
	if line[0] == ' ' || line[0] == '\t' {
		return fieldSpan{}, badRequest("obsolete line folding")
	}
	colon := bytes.IndexByte(line, ':')
	switch {
	case colon < 0:
		return fieldSpan{}, badRequest("header line without colon")
	case colon == 0:
		return fieldSpan{}, badRequest("empty header name")
	case line[colon-1] == ' ' || line[colon-1] == '\t':
		return fieldSpan{}, badRequest("whitespace between header name and colon")
	}
	name := line[:colon]
	if !isToken(name) {
		return fieldSpan{}, badRequest("invalid header name")
	}
	canonicalize(name)
	vs, ve := colon+1, len(line)
	for vs < ve && (line[vs] == ' ' || line[vs] == '\t') {
		vs++
	}
	for ve > vs && (line[ve-1] == ' ' || line[ve-1] == '\t') {
		ve--
	}
	for _, c := range line[vs:ve] {
		if ctlTable[c] {
			return fieldSpan{}, badRequest("invalid header value")
		}
	}
	return fieldSpan{
		name:  span{s.start, s.start + colon},
		value: span{s.start + vs, s.start + ve},
	}, nil
}
