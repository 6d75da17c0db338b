package retry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/protobuf/types/known/durationpb"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

func mustCompile(t testing.TB, r *destinationv1.Retry) *Policy {
	t.Helper()
	p, err := Compile(r)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func retryOn(attempts uint32, on ...string) *destinationv1.Retry {
	return &destinationv1.Retry{Attempts: attempts, RetryOn: on}
}

func TestCompile(t *testing.T) {
	tests := []struct {
		name        string
		in          *destinationv1.Retry
		attempts    int
		unsupported []string
		wantErr     bool
	}{
		{"nil is Default", nil, DefaultAttempts, nil, false},
		{"zero attempts disables", retryOn(0, "5xx"), 0, nil, false},
		{"listed", retryOn(3, "5xx", "reset"), 3, nil, false},
		{"comma list", retryOn(3, "5xx,reset, 429", "connect-failure,unavailable"), 3, nil, false},
		{"only blanks: Istio defaults", retryOn(2, " ", ","), 2, nil, false},
		{"unknown tokens", retryOn(1, "envoy-ratelimited", "5xx", "retriable-headers"), 1, []string{"envoy-ratelimited", "retriable-headers"}, false},
		{"bad code", retryOn(1, "600"), 0, nil, true},
		{"attempts capped", retryOn(1000), 100, nil, false},
		{"negative per try", &destinationv1.Retry{Attempts: 1, PerTryTimeout: durationpb.New(-time.Second)}, 0, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("%v does not wrap ErrInvalid", err)
				}
				return
			}
			if p.Attempts() != tt.attempts {
				t.Errorf("Attempts() = %d, want %d", p.Attempts(), tt.attempts)
			}
			if !slices.Equal(p.Unsupported(), tt.unsupported) {
				t.Errorf("Unsupported() = %v, want %v", p.Unsupported(), tt.unsupported)
			}
		})
	}
}

func TestPerTryTimeout(t *testing.T) {
	p := mustCompile(t, &destinationv1.Retry{Attempts: 2, PerTryTimeout: durationpb.New(300 * time.Millisecond)})
	if p.PerTryTimeout() != 300*time.Millisecond {
		t.Fatalf("PerTryTimeout() = %v", p.PerTryTimeout())
	}
}

var (
	errDial    = &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	errRefused = http2.StreamError{StreamID: 1, Code: http2.ErrCodeRefusedStream}
	errReset   = &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	errTimeout = fmt.Errorf("per try: %w", context.DeadlineExceeded)
	errH2Reset = http2.StreamError{StreamID: 1, Code: http2.ErrCodeInternal}
)

func status(code int, hdr ...string) *http.Response {
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Set(hdr[i], hdr[i+1])
	}
	return &http.Response{StatusCode: code, Header: h}
}

func TestShouldRetry(t *testing.T) {
	def := Default
	istio := mustCompile(t, retryOn(3))
	fivexx := mustCompile(t, retryOn(3, "5xx"))
	gw := mustCompile(t, retryOn(3, "gateway-error"))
	reset := mustCompile(t, retryOn(3, "reset"))
	connect := mustCompile(t, retryOn(3, "connect-failure"))
	codes := mustCompile(t, retryOn(3, "429", "retriable-status-codes"))
	codesOnly := mustCompile(t, retryOn(3, "retriable-status-codes"))
	c4xx := mustCompile(t, retryOn(3, "retriable-4xx"))
	grpc := mustCompile(t, retryOn(3, "unavailable", "resource-exhausted"))

	tests := []struct {
		name    string
		p       *Policy
		method  string
		attempt int
		resp    *http.Response
		err     error
		want    bool
	}{
		{"default: connect failure, POST", def, "POST", 1, nil, errDial, true},
		{"default: connect failure via ErrConnect", def, "GET", 1, nil, fmt.Errorf("%w: tls: bad certificate", ErrConnect), true},
		{"default: refused stream, POST", def, "POST", 2, nil, errRefused, true},
		{"default: third attempt over", def, "GET", 3, nil, errDial, false},
		{"default: 503 GET", def, "GET", 1, status(503), nil, false},
		{"default: reset GET", def, "GET", 1, nil, errReset, false},
		{"default: 200", def, "GET", 1, status(200), nil, false},

		{"istio defaults: 503 GET", istio, "GET", 1, status(503), nil, true},
		{"istio defaults: 503 POST", istio, "POST", 1, status(503), nil, false},
		{"istio defaults: connect POST", istio, "POST", 1, nil, errDial, true},
		{"istio defaults: grpc unavailable GET", istio, "GET", 1, status(200, "Grpc-Status", "14"), nil, true},
		{"istio defaults: grpc unavailable POST", istio, "POST", 1, status(200, "Grpc-Status", "14"), nil, false},
		{"istio defaults: 500", istio, "GET", 1, status(500), nil, false},

		{"5xx: 500 POST (explicit)", fivexx, "POST", 1, status(500), nil, true},
		{"5xx: reset", fivexx, "GET", 1, nil, errReset, true},
		{"5xx: h2 reset", fivexx, "GET", 1, nil, errH2Reset, true},
		{"5xx: timeout", fivexx, "GET", 1, nil, errTimeout, true},
		{"5xx: 404", fivexx, "GET", 1, status(404), nil, false},
		{"5xx: attempt 3 of 3", fivexx, "GET", 3, status(500), nil, true},
		{"5xx: attempt 4 of 3", fivexx, "GET", 4, status(500), nil, false},

		{"gateway-error: 502", gw, "GET", 1, status(502), nil, true},
		{"gateway-error: 504", gw, "GET", 1, status(504), nil, true},
		{"gateway-error: 500", gw, "GET", 1, status(500), nil, false},
		{"gateway-error: connect", gw, "GET", 1, nil, errDial, true},

		{"reset: reset", reset, "PATCH", 1, nil, errReset, true},
		{"reset: connect", reset, "GET", 1, nil, errDial, true},
		{"reset: 503", reset, "GET", 1, status(503), nil, false},

		{"connect-failure: reset", connect, "GET", 1, nil, errReset, false},
		{"connect-failure: dial", connect, "GET", 1, nil, errDial, true},

		{"codes: 429", codes, "GET", 1, status(429), nil, true},
		{"codes: 503 not listed", codes, "GET", 1, status(503), nil, false},
		{"codes alone: 503", codesOnly, "GET", 1, status(503), nil, true},
		{"retriable-4xx: 409", c4xx, "PUT", 1, status(409), nil, true},
		{"retriable-4xx: 400", c4xx, "PUT", 1, status(400), nil, false},

		{"grpc: unavailable", grpc, "POST", 1, status(200, "Grpc-Status", "14"), nil, true},
		{"grpc: resource exhausted", grpc, "POST", 1, status(200, "Grpc-Status", "8"), nil, true},
		{"grpc: internal not listed", grpc, "POST", 1, status(200, "Grpc-Status", "13"), nil, false},
		{"grpc: garbage status", grpc, "POST", 1, status(200, "Grpc-Status", "1x"), nil, false},
		{"grpc: ok", grpc, "POST", 1, status(200, "Grpc-Status", "0"), nil, false},

		{"cancelled by client", fivexx, "GET", 1, nil, context.Canceled, false},
		{"none", None, "GET", 1, nil, errDial, false},
		{"nil policy", nil, "GET", 1, nil, errDial, false},
		{"neither resp nor err", fivexx, "GET", 1, nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "/", nil)
			if got := tt.p.ShouldRetry(tt.attempt, req, tt.resp, tt.err); got != tt.want {
				t.Errorf("ShouldRetry = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestShouldRetryContextDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
	if Default.ShouldRetry(1, req, nil, errDial) {
		t.Fatal("retried a request whose context ended")
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want Failure
	}{
		{nil, FailureNone},
		{errDial, FailureConnect},
		{fmt.Errorf("upstream: %w", errDial), FailureConnect},
		{&net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}, FailureConnect},
		{ErrConnect, FailureConnect},
		{errRefused, FailureRefused},
		{fmt.Errorf("x: %w", ErrRefused), FailureRefused},
		{errH2Reset, FailureReset},
		{errReset, FailureReset},
		{errTimeout, FailureTimeout},
		{os.ErrDeadlineExceeded, FailureTimeout},
		{context.Canceled, FailureCanceled},
		{errors.New("EOF"), FailureReset},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.err), func(t *testing.T) {
			if got := Classify(tt.err); got != tt.want {
				t.Errorf("Classify = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIdempotent(t *testing.T) {
	for _, m := range []string{"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"} {
		if !Idempotent(m) {
			t.Errorf("%s not idempotent", m)
		}
	}
	for _, m := range []string{"POST", "PATCH", "CONNECT", "get", "PROPFIND"} {
		if Idempotent(m) {
			t.Errorf("%s idempotent", m)
		}
	}
}

func FuzzGRPCStatus(f *testing.F) {
	for _, s := range []string{"0", "14", "1x", "", "999", "-1", "+1", " 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := grpcStatus(http.Header{"Grpc-Status": {s}})
		n, err := strconv.ParseUint(s, 10, 32)
		want := err == nil && len(s) <= 2 && s[0] != '+'
		if ok != want || (ok && uint64(got) != n) {
			t.Fatalf("grpcStatus(%q) = %d, %v; strconv says %d, %v", s, got, ok, n, err)
		}
	})
}

func BenchmarkShouldRetry(b *testing.B) {
	p := mustCompile(b, retryOn(2, "5xx", "unavailable"))
	req := httptest.NewRequest("GET", "/", nil)
	resp := status(503, "Grpc-Status", "14")
	b.ReportAllocs()
	for b.Loop() {
		p.ShouldRetry(1, req, resp, nil)
	}
}
