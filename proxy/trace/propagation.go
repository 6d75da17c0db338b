package trace

import (
	"encoding/hex"
	"net/http"
	"strings"

	oteltrace "go.opentelemetry.io/otel/trace"
)

// Canonical header keys, so lookups index the map directly (HTTP/1 and
// HTTP/2 servers both canonicalize names).
const (
	hdrTraceparent = "Traceparent"
	hdrTracestate  = "Tracestate"
	hdrB3          = "B3"
	hdrB3TraceID   = "X-B3-Traceid"
	hdrB3SpanID    = "X-B3-Spanid"
	hdrB3Parent    = "X-B3-Parentspanid"
	hdrB3Sampled   = "X-B3-Sampled"
	hdrB3Flags     = "X-B3-Flags"
)

// Format is a set of propagation formats.
type Format uint8

// The formats a trace context is read from, in this order of precedence.
const (
	W3C      Format = 1 << iota // traceparent and tracestate
	B3Single                    // b3: {trace}-{span}-{sampling}-{parent}
	B3Multi                     // X-B3-TraceId, X-B3-SpanId, X-B3-Sampled, X-B3-Flags
)

// Sampling is the sampling decision a context carries.
type Sampling uint8

// Sampling decisions. B3 may carry none (Deferred: the receiver decides)
// or force sampling (Debug); W3C always carries Sampled or NotSampled.
const (
	Deferred Sampling = iota
	NotSampled
	Sampled
	Debug
)

// Context is a trace context as requests carry it in their headers.
type Context struct {
	// TraceID and SpanID identify the caller's span; both are zero when the
	// request carries no usable context (possibly just a B3 decision).
	TraceID  oteltrace.TraceID
	SpanID   oteltrace.SpanID
	Sampling Sampling
	// TraceState is the W3C tracestate, combined into one list, unparsed.
	TraceState string
	// Formats are the formats whose headers the request carried, valid or
	// not: the headers a proxy rewrites for the next hop.
	Formats Format
	// Short is set when B3 carried a 64-bit trace ID: B3 headers written
	// for this context keep that width.
	Short bool
}

// Valid reports whether c identifies a caller span.
func (c Context) Valid() bool { return c.TraceID.IsValid() && c.SpanID.IsValid() }

// IsSampled reports whether the caller asked for this trace to be
// recorded.
func (c Context) IsSampled() bool { return c.Sampling == Sampled || c.Sampling == Debug }

// Extract reads the trace context of h: W3C traceparent (with tracestate)
// first, then a B3 single header, then B3 multiple headers. An invalid
// value is ignored as if absent, and the next format gets its turn. It
// does not allocate unless tracestate is spread over several header lines.
func Extract(h http.Header) Context {
	formats := present(h)
	if formats == 0 {
		return Context{}
	}
	c, ok := extractW3C(h)
	if !ok {
		c, ok = extractB3Single(h)
	}
	if !ok {
		c, ok = extractB3Multi(h)
	}
	if !ok {
		c = Context{}
	}
	c.Formats = formats
	return c
}

// present returns the formats whose headers h carries, valid or not.
func present(h http.Header) Format {
	var f Format
	if _, ok := h[hdrTraceparent]; ok {
		f |= W3C
	}
	if _, ok := h[hdrB3]; ok {
		f |= B3Single
	}
	for _, k := range [...]string{hdrB3TraceID, hdrB3SpanID, hdrB3Sampled, hdrB3Flags} {
		if _, ok := h[k]; ok {
			f |= B3Multi
			break
		}
	}
	return f
}

// single returns the header's value when it occurs exactly once.
func single(h http.Header, key string) (string, bool) {
	v := h[key]
	if len(v) != 1 {
		return "", false
	}
	return v[0], true
}

// extractW3C parses traceparent per W3C Trace Context level 1: version 00
// exactly, a later version by its first four fields (the spec's forward
// compatibility), never version ff; lower-case hex; IDs not all zero.
func extractW3C(h http.Header) (Context, bool) {
	v, ok := single(h, hdrTraceparent)
	if !ok || len(v) < 55 {
		return Context{}, false
	}
	if v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return Context{}, false
	}
	var ver [1]byte
	if !decodeHex(ver[:], v[0:2]) || ver[0] == 0xff {
		return Context{}, false
	}
	if ver[0] == 0 && len(v) != 55 {
		return Context{}, false
	}
	if ver[0] > 0 && len(v) > 55 && v[55] != '-' {
		return Context{}, false
	}
	var c Context
	var flags [1]byte
	if !decodeHex(c.TraceID[:], v[3:35]) || !decodeHex(c.SpanID[:], v[36:52]) || !decodeHex(flags[:], v[53:55]) {
		return Context{}, false
	}
	if !c.Valid() {
		return Context{}, false
	}
	c.Sampling = NotSampled
	if flags[0]&1 == 1 {
		c.Sampling = Sampled
	}
	switch ts := h[hdrTracestate]; len(ts) {
	case 0:
	case 1:
		c.TraceState = ts[0]
	default:
		c.TraceState = strings.Join(ts, ",")
	}
	return c, true
}

// extractB3Single parses the b3 header: "{trace}-{span}", optionally
// followed by "-{sampling}" and "-{parent}", or a bare sampling decision
// ("0", "1", "d").
func extractB3Single(h http.Header) (Context, bool) {
	v, ok := single(h, hdrB3)
	if !ok {
		return Context{}, false
	}
	if len(v) == 1 {
		s, ok := b3SamplingState(v)
		if !ok {
			return Context{}, false
		}
		return Context{Sampling: s}, true
	}
	var c Context
	tid, rest, ok := strings.Cut(v, "-")
	if !ok || !c.setB3TraceID(tid) {
		return Context{}, false
	}
	sid, rest, more := strings.Cut(rest, "-")
	if len(sid) != 16 || !decodeHex(c.SpanID[:], sid) {
		return Context{}, false
	}
	if more {
		state, parent, hasParent := strings.Cut(rest, "-")
		if c.Sampling, ok = b3SamplingState(state); !ok {
			return Context{}, false
		}
		var p oteltrace.SpanID
		if hasParent && (len(parent) != 16 || !decodeHex(p[:], parent)) {
			return Context{}, false
		}
	}
	return c, c.Valid()
}

func b3SamplingState(s string) (Sampling, bool) {
	switch s {
	case "0":
		return NotSampled, true
	case "1":
		return Sampled, true
	case "d":
		return Debug, true
	}
	return Deferred, false
}

// extractB3Multi parses X-B3-TraceId and X-B3-SpanId, with X-B3-Sampled
// ("1", "0", or the legacy "true", "false") and X-B3-Flags ("1": debug).
// A sampling decision alone (no IDs) counts too.
func extractB3Multi(h http.Header) (Context, bool) {
	var c Context
	if f, ok := single(h, hdrB3Flags); ok && f == "1" {
		c.Sampling = Debug
	} else if s, ok := single(h, hdrB3Sampled); ok {
		switch s {
		case "1", "true":
			c.Sampling = Sampled
		case "0", "false":
			c.Sampling = NotSampled
		default:
			return Context{}, false
		}
	}
	tid, hasTID := single(h, hdrB3TraceID)
	sid, hasSID := single(h, hdrB3SpanID)
	if !hasTID && !hasSID {
		if c.Sampling == Deferred {
			return Context{}, false
		}
		return c, true
	}
	if !c.setB3TraceID(tid) || len(sid) != 16 || !decodeHex(c.SpanID[:], sid) {
		return Context{}, false
	}
	return c, c.Valid()
}

// setB3TraceID decodes a 64- or 128-bit B3 trace ID; a 64-bit one fills
// the low half.
func (c *Context) setB3TraceID(s string) bool {
	switch len(s) {
	case 32:
		return decodeHex(c.TraceID[:], s)
	case 16:
		c.Short = true
		return decodeHex(c.TraceID[8:], s)
	}
	return false
}

// decodeHex decodes lower-case hex of exactly 2*len(dst) digits.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := fromHex(s[2*i])
		lo, ok2 := fromHex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// Inject writes the context of a new span (its IDs in c, the caller's
// span as parent) into h: W3C always, and each B3 format that formats
// names. Earlier values of those headers are replaced; tracestate is
// written when c carries one and removed otherwise.
func Inject(h http.Header, c Context, parent oteltrace.SpanID, formats Format) {
	var buf [55]byte
	b := append(buf[:0], "00-"...)
	b = hex.AppendEncode(b, c.TraceID[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, c.SpanID[:])
	if c.IsSampled() {
		b = append(b, "-01"...)
	} else {
		b = append(b, "-00"...)
	}
	h[hdrTraceparent] = []string{string(b)}
	if c.TraceState != "" {
		h[hdrTracestate] = []string{c.TraceState}
	} else {
		delete(h, hdrTracestate)
	}
	if formats&B3Single != 0 {
		h[hdrB3] = []string{b3Single(c, parent)}
	}
	if formats&B3Multi != 0 {
		h[hdrB3TraceID] = []string{b3TraceID(c)}
		h[hdrB3SpanID] = []string{c.SpanID.String()}
		if parent.IsValid() {
			h[hdrB3Parent] = []string{parent.String()}
		} else {
			delete(h, hdrB3Parent)
		}
		if c.Sampling == Debug {
			h[hdrB3Flags] = []string{"1"}
			delete(h, hdrB3Sampled)
		} else {
			delete(h, hdrB3Flags)
			h[hdrB3Sampled] = []string{b3Flag(c)}
		}
	}
}

func b3TraceID(c Context) string {
	if c.Short {
		return hex.EncodeToString(c.TraceID[8:])
	}
	return c.TraceID.String()
}

func b3Flag(c Context) string {
	switch c.Sampling {
	case Debug:
		return "d"
	case Sampled:
		return "1"
	}
	return "0"
}

func b3Single(c Context, parent oteltrace.SpanID) string {
	s := b3TraceID(c) + "-" + c.SpanID.String() + "-" + b3Flag(c)
	if parent.IsValid() {
		s += "-" + parent.String()
	}
	return s
}
