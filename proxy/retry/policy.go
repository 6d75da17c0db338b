package retry

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// cond is a set of retry_on conditions.
type cond uint16

const (
	on5xx cond = 1 << iota
	onGatewayError
	onReset
	onConnectFailure
	onRefusedStream
	onRetriable4xx
	onStatusCodes
)

var condNames = map[string]cond{
	"5xx":                    on5xx,
	"gateway-error":          onGatewayError,
	"reset":                  onReset,
	"connect-failure":        onConnectFailure,
	"refused-stream":         onRefusedStream,
	"retriable-4xx":          onRetriable4xx,
	"retriable-status-codes": onStatusCodes,
}

// gRPC status codes understood in retry_on.
var grpcNames = map[string]uint8{
	"cancelled":          1,
	"deadline-exceeded":  4,
	"resource-exhausted": 8,
	"internal":           13,
	"unavailable":        14,
}

// Defaults.
const (
	// DefaultAttempts is the number of retries of the Default policy.
	DefaultAttempts = 2
	// DefaultMaxBody is the largest request body kept for replay: 64 KiB.
	DefaultMaxBody = 64 << 10
)

// Policy is a compiled retry policy. It is immutable and safe for
// concurrent use.
type Policy struct {
	attempts int
	perTry   time.Duration
	on       cond
	codes    [10]uint64 // HTTP statuses 0-639, a bit each
	grpc     uint32     // gRPC status codes, a bit each
	// safe holds the conditions applied to every method; the others only
	// to idempotent methods.
	safe        cond
	safeGRPC    uint32
	safeCodes   bool
	unsupported []string
}

// Default is the policy of a route without one: up to 2 retries, on
// connect-failure and refused-stream only, for every method.
var Default = &Policy{
	attempts: DefaultAttempts,
	on:       onConnectFailure | onRefusedStream,
	safe:     onConnectFailure | onRefusedStream,
}

// None retries nothing.
var None = &Policy{}

// Compile turns the proto's Retry into a Policy: nil gives Default,
// attempts 0 gives None. Unknown retry_on tokens are ignored and listed by
// Unsupported; a status code outside 100-599 or a negative per-try
// timeout is an error wrapping ErrInvalid.
func Compile(r *destinationv1.Retry) (*Policy, error) {
	if r == nil {
		return Default, nil
	}
	perTry := r.GetPerTryTimeout().AsDuration()
	if perTry < 0 {
		return nil, fmt.Errorf("%w: negative per-try timeout %v", ErrInvalid, perTry)
	}
	if r.GetAttempts() == 0 {
		return None, nil
	}
	p := &Policy{attempts: int(min(r.GetAttempts(), 100)), perTry: perTry}
	var tokens []string
	for _, t := range r.GetRetryOn() {
		for tok := range strings.SplitSeq(t, ",") { // "5xx,reset" as Istio writes it
			if tok = strings.ToLower(strings.TrimSpace(tok)); tok != "" {
				tokens = append(tokens, tok)
			}
		}
	}
	if len(tokens) == 0 {
		// Istio's default conditions; those that may follow processing
		// only for idempotent methods.
		p.on = onConnectFailure | onRefusedStream | onStatusCodes
		p.setCode(http.StatusServiceUnavailable)
		p.grpc = 1<<1 | 1<<14 // cancelled, unavailable
		p.safe = onConnectFailure | onRefusedStream
		return p, nil
	}
	codes := false
	for _, tok := range tokens {
		if c, ok := condNames[tok]; ok {
			p.on |= c
			continue
		}
		if g, ok := grpcNames[tok]; ok {
			p.grpc |= 1 << g
			continue
		}
		if n, err := strconv.Atoi(tok); err == nil {
			if n < 100 || n > 599 {
				return nil, fmt.Errorf("%w: status code %d outside 100-599", ErrInvalid, n)
			}
			p.setCode(n)
			p.on |= onStatusCodes
			codes = true
			continue
		}
		p.unsupported = append(p.unsupported, tok)
	}
	if p.on&onStatusCodes != 0 && !codes {
		p.setCode(http.StatusServiceUnavailable)
	}
	p.safe, p.safeGRPC, p.safeCodes = p.on, p.grpc, true
	return p, nil
}

func (p *Policy) setCode(n int) { p.codes[n/64] |= 1 << (n % 64) }

func (p *Policy) hasCode(n int) bool {
	return n >= 0 && n < 640 && p.codes[n/64]&(1<<(n%64)) != 0
}

// Attempts is the largest number of retries after the first attempt.
func (p *Policy) Attempts() int { return p.attempts }

// PerTryTimeout bounds each attempt; 0 means only the route's timeout
// applies.
func (p *Policy) PerTryTimeout() time.Duration { return p.perTry }

// Unsupported lists the retry_on tokens Compile ignored.
func (p *Policy) Unsupported() []string { return slices.Clone(p.unsupported) }

// ShouldRetry reports whether the attempt-th attempt of req (the first is
// 1), which ended with resp or err, should be retried. req is the
// client's request: its method decides idempotency, its context being
// done stops retries. ShouldRetry does not know whether the body can be
// replayed or whether the budget allows another try: the caller checks
// those too. It does not allocate.
func (p *Policy) ShouldRetry(attempt int, req *http.Request, resp *http.Response, err error) bool {
	if p == nil || attempt > p.attempts || req.Context().Err() != nil {
		return false
	}
	idempotent := Idempotent(req.Method)
	if err != nil {
		return p.retryFailure(Classify(err), idempotent)
	}
	if resp == nil {
		return false
	}
	return p.retryStatus(resp, idempotent)
}

func (p *Policy) retryFailure(f Failure, idempotent bool) bool {
	var want cond
	switch f {
	case FailureConnect:
		want = onConnectFailure | onReset | on5xx | onGatewayError
	case FailureRefused:
		want = onRefusedStream | onReset | on5xx | onGatewayError
	case FailureTimeout, FailureReset:
		want = onReset | on5xx | onGatewayError
	default:
		return false
	}
	if idempotent {
		return p.on&want != 0
	}
	return p.safe&want != 0
}

func (p *Policy) retryStatus(resp *http.Response, idempotent bool) bool {
	on, grpc, codes := p.on, p.grpc, true
	if !idempotent {
		on, grpc, codes = p.safe, p.safeGRPC, p.safeCodes
	}
	s := resp.StatusCode
	switch {
	case s >= 500 && s <= 599 && on&on5xx != 0:
		return true
	case (s == 502 || s == 503 || s == 504) && on&onGatewayError != 0:
		return true
	case s == http.StatusConflict && on&onRetriable4xx != 0:
		return true
	case codes && on&onStatusCodes != 0 && p.hasCode(s):
		return true
	}
	if grpc != 0 {
		if g, ok := grpcStatus(resp.Header); ok && g < 32 && grpc&(1<<g) != 0 {
			return true
		}
	}
	return false
}

// grpcStatus reads grpc-status from h (a trailers-only gRPC response
// carries it in its headers) without allocating.
func grpcStatus(h http.Header) (uint32, bool) {
	vv := h["Grpc-Status"]
	if len(vv) == 0 || len(vv[0]) == 0 || len(vv[0]) > 2 {
		return 0, false
	}
	var n uint32
	for i := 0; i < len(vv[0]); i++ {
		c := vv[0][i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint32(c-'0')
	}
	return n, true
}

// Idempotent reports whether method is idempotent by RFC 9110 §9.2.2:
// GET, HEAD, OPTIONS, TRACE, PUT and DELETE.
func Idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}
