package http1

import (
	"errors"
	"net/http"
	"strconv"
)

// Sentinel errors. Request-body errors reach the handler through r.Body.Read;
// ErrNoHandler is returned by ServeConn.
var (
	// ErrNoHandler is returned by ServeConn when Server.Handler is nil.
	ErrNoHandler = errors.New("http1: server has no handler")
	// ErrMalformedChunk is the body read error for a chunked request body
	// that breaks the chunked framing (bad size line, missing CRLF after the
	// data, overlong line, too much chunk-extension overhead, bad trailer).
	ErrMalformedChunk = errors.New("http1: malformed chunked request body")
	// ErrResponseDone is returned by writes on a ResponseWriter whose handler
	// has already returned.
	ErrResponseDone = errors.New("http1: response already finished")

	errLineTooLong = errors.New("http1: line too long")
	errBareCR      = errors.New("http1: bare CR")
)

// RejectError describes a request the server refused itself: it answered
// Status with Reason as the body and closed the connection. ServeConn
// returns it (wrapped in nothing) so callers can count or log refusals.
type RejectError struct {
	Status int    // HTTP status code written to the client
	Reason string // one-line reason, also the response body
}

func (e *RejectError) Error() string {
	return "http1: rejected request: " + strconv.Itoa(e.Status) + " " + e.Reason
}

// reject builds the error for a refused request.
func reject(status int, reason string) *RejectError {
	return &RejectError{Status: status, Reason: reason}
}

// Refusals shared by the request-line and header parsers. They are values,
// not built per request, so rejecting does not allocate.
var (
	errRequestLineTooLong = reject(http.StatusRequestURITooLong, "request line too long")
	errHeaderTooLarge     = reject(http.StatusRequestHeaderFieldsTooLarge, "header section too large")
	errTooManyHeaders     = reject(http.StatusRequestHeaderFieldsTooLarge, "too many header fields")
	errHeaderTimeout      = reject(http.StatusRequestTimeout, "request header timeout")
	errBadVersion         = reject(http.StatusHTTPVersionNotSupported, "HTTP version not supported")
)

func badRequest(reason string) *RejectError { return reject(http.StatusBadRequest, reason) }
