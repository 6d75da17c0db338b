package retry

import (
	"context"
	"errors"
	"net"
	"os"

	"golang.org/x/net/http2"
)

// Failure classifies the error of an attempt that got no response.
type Failure uint8

// Failures, from the most to the least certain that nothing was
// processed.
const (
	// FailureNone: no error.
	FailureNone Failure = iota
	// FailureCanceled: the client's context was cancelled; never retried.
	FailureCanceled
	// FailureConnect: the connection could not be established; the
	// request was not sent.
	FailureConnect
	// FailureRefused: the endpoint refused the stream before processing.
	FailureRefused
	// FailureTimeout: the attempt timed out after the request was sent.
	FailureTimeout
	// FailureReset: the connection or stream broke after the request was
	// sent.
	FailureReset
)

var failureNames = [...]string{"none", "canceled", "connect-failure", "refused-stream", "timeout", "reset"}

func (f Failure) String() string {
	if int(f) < len(failureNames) {
		return failureNames[f]
	}
	return "unknown"
}

// Classify tells what kind of failure err is. Dial errors (*net.OpError
// with Op "dial") and errors wrapping ErrConnect are connect failures;
// HTTP/2 REFUSED_STREAM and errors wrapping ErrRefused are refusals;
// deadlines are timeouts; context.Canceled is a cancellation; anything
// else is a reset.
func Classify(err error) Failure {
	if err == nil {
		return FailureNone
	}
	var opErr *net.OpError
	var se http2.StreamError
	switch {
	case errors.Is(err, ErrConnect), errors.As(err, &opErr) && opErr.Op == "dial":
		return FailureConnect
	case errors.Is(err, ErrRefused), errors.As(err, &se) && se.Code == http2.ErrCodeRefusedStream:
		return FailureRefused
	case errors.Is(err, context.Canceled):
		return FailureCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return FailureTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return FailureTimeout
	}
	return FailureReset
}
