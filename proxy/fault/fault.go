package fault

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	destinationv1 "github.com/meshlite/meshlite/internal/api/destination/v1"
)

// ErrInvalid is wrapped by Compile for a Fault it cannot honour.
var ErrInvalid = errors.New("fault: invalid fault")

// scale is the resolution of percentages: 100 % is 100,000 parts, so
// three decimals of a percent are kept.
const scale = 100_000

// DefaultAbortStatus is the HTTP status of an abort that names only a
// gRPC status, for requests that are not gRPC.
const DefaultAbortStatus = 503

// Fault is a compiled fault-injection policy. The nil *Fault injects
// nothing. It is immutable and safe for concurrent use.
type Fault struct {
	delay      time.Duration
	delayParts uint32 // out of scale
	abort      int
	grpc       int
	abortParts uint32 // out of scale
}

// Compile turns the proto's Fault into a Fault. A nil f gives a nil
// *Fault (no fault) and no error.
func Compile(f *destinationv1.Fault) (*Fault, error) {
	if f == nil || (f.GetDelay() == nil && f.GetAbort() == nil) {
		return nil, nil
	}
	var out Fault
	if d := f.GetDelay(); d != nil {
		parts, err := parts(d.GetPercentage())
		if err != nil {
			return nil, fmt.Errorf("%w: delay: %w", ErrInvalid, err)
		}
		delay := d.GetFixedDelay().AsDuration()
		if delay < 0 {
			return nil, fmt.Errorf("%w: delay: negative fixed delay %v", ErrInvalid, delay)
		}
		if delay > 0 {
			out.delay, out.delayParts = delay, parts
		}
	}
	if a := f.GetAbort(); a != nil {
		parts, err := parts(a.GetPercentage())
		if err != nil {
			return nil, fmt.Errorf("%w: abort: %w", ErrInvalid, err)
		}
		status, grpc := int(a.GetHttpStatus()), int(a.GetGrpcStatus())
		switch {
		case status == 0 && grpc == 0:
			return nil, fmt.Errorf("%w: abort: neither an HTTP nor a gRPC status", ErrInvalid)
		case status == 0:
			status = DefaultAbortStatus
		case status < 200 || status > 599:
			return nil, fmt.Errorf("%w: abort: HTTP status %d outside 200-599", ErrInvalid, status)
		}
		if grpc > 16 {
			return nil, fmt.Errorf("%w: abort: gRPC status %d outside 0-16", ErrInvalid, grpc)
		}
		out.abort, out.grpc, out.abortParts = status, grpc, parts
	}
	if out.delayParts == 0 && out.abortParts == 0 {
		return nil, nil
	}
	return &out, nil
}

// parts converts a percentage to parts of scale, rounding to three
// decimals.
func parts(pct float64) (uint32, error) {
	if math.IsNaN(pct) || pct < 0 || pct > 100 {
		return 0, fmt.Errorf("percentage %v outside [0, 100]", pct)
	}
	return uint32(math.Round(pct * scale / 100)), nil
}

// Decide draws, for one request, whether to delay it and whether to abort
// it. delay is 0 when the request is not delayed; abortStatus is 0 when it
// is not aborted, else the HTTP status to answer; grpcStatus, when not 0,
// is the gRPC status to answer a gRPC request with instead. src is the
// randomness (nil: the runtime's generator).
func (f *Fault) Decide(src rand.Source) (delay time.Duration, abortStatus int, grpcStatus int) {
	if f == nil {
		return 0, 0, 0
	}
	if f.delayParts > 0 && hit(src, f.delayParts) {
		delay = f.delay
	}
	if f.abortParts > 0 && hit(src, f.abortParts) {
		abortStatus, grpcStatus = f.abort, f.grpc
	}
	return delay, abortStatus, grpcStatus
}

// Delay returns the configured delay and its percentage (for logs and
// meshctl).
func (f *Fault) Delay() (time.Duration, float64) {
	if f == nil {
		return 0, 0
	}
	return f.delay, float64(f.delayParts) * 100 / scale
}

// Abort returns the configured abort statuses and percentage.
func (f *Fault) Abort() (status, grpcStatus int, percentage float64) {
	if f == nil {
		return 0, 0, 0
	}
	return f.abort, f.grpc, float64(f.abortParts) * 100 / scale
}

// hit reports whether a uniform draw in [0, scale) falls below p.
func hit(src rand.Source, p uint32) bool {
	if p >= scale {
		return true
	}
	var x uint64
	if src == nil {
		x = rand.Uint64()
	} else {
		x = src.Uint64()
	}
	return uint32((x>>32)*scale>>32) < p
}
