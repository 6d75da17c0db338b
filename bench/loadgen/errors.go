package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
)

// Sentinel errors. Targets wrap them with %w; Run classifies them into
// Result.ErrorKinds.
var (
	// ErrConfig reports an invalid target configuration or Options.
	ErrConfig = errors.New("loadgen: invalid configuration")
	// ErrMalformed reports a response the HTTP/1.1 client cannot parse.
	ErrMalformed = errors.New("loadgen: malformed response")
	// ErrMismatch reports a TCP echo that differs from what was sent.
	ErrMismatch = errors.New("loadgen: echo mismatch")
	// ErrNotServing reports a gRPC health check answering other than SERVING.
	ErrNotServing = errors.New("loadgen: health check not serving")
)

// StatusError is a complete HTTP response whose status is not 2xx.
type StatusError struct {
	Code int
}

// Error implements error.
func (e *StatusError) Error() string { return fmt.Sprintf("loadgen: status %d", e.Code) }

// Kind names the error in Result.ErrorKinds, e.g. "status 503".
func (e *StatusError) Kind() string { return fmt.Sprintf("status %d", e.Code) }

// kinder is implemented by errors that name their own kind.
type kinder interface{ Kind() string }

// errorKind classifies err for Result.ErrorKinds: a short stable name such as
// "refused", "reset", "eof", "timeout", "status 500" or "grpc Unavailable".
func errorKind(err error) string {
	var k kinder
	if errors.As(err, &k) {
		return k.Kind()
	}
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	case errors.Is(err, ErrMismatch):
		return "mismatch"
	case errors.Is(err, ErrNotServing):
		return "not serving"
	}
	return "other"
}
