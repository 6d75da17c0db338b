// Package http1 is the proxy's HTTP/1.x server side: it parses requests from
// a connection that protocol detection has identified as HTTP/1, calls an
// http.Handler (the forwarding chain) for each, and writes the responses.
//
//	srv := &http1.Server{Handler: forward, Log: log, OnReject: metrics.Rejected}
//	go srv.ServeConn(ctx, conn) // once per accepted connection
//	...
//	srv.Shutdown() // drain: idle connections close now, busy ones after their response
//
// It replaces net/http.Server because a proxy must agree with the upstream on
// where every message ends. net/http is lenient where a proxy cannot be: it
// accepts Content-Length together with Transfer-Encoding (dropping the
// length) and has no bound on the number of header fields. This package is
// deliberately strict about everything that frames a message and answers a
// refusal itself, closing the connection:
//
//	400 Bad Request    malformed request line or header field (bare CR, CTLs,
//	                   obs-fold, whitespace before the colon, non-token name);
//	                   missing or repeated Host on HTTP/1.1; a target form the
//	                   method may not use (authority-form is CONNECT only,
//	                   "*" is OPTIONS only); Content-Length together with
//	                   Transfer-Encoding; Content-Length that is not plain
//	                   digits or whose values differ; Transfer-Encoding that
//	                   is repeated, is not exactly "chunked", or is on an
//	                   HTTP/1.0 request.
//	408 Request Timeout            the head did not arrive within HeaderTimeout
//	414 URI Too Long               request line over MaxRequestLineBytes
//	417 Expectation Failed         an Expect other than 100-continue
//	431 Request Header Fields Too Large  header bytes or field count over the limits
//	501 Not Implemented            a well-formed coding list ending in chunked
//	                               ("gzip, chunked"): only chunked is decoded
//	505 HTTP Version Not Supported any version but HTTP/1.0 and HTTP/1.1
//
// A refusal is a short text/plain response with "Connection: close"; it is
// logged at debug level and reported to Server.OnReject. Repeated identical
// Content-Length values ("5, 5") are collapsed to one. Bare LF ends a line
// of the head, but chunk-size lines need CRLF, and a malformed chunked body
// fails the handler's body read with ErrMalformedChunk and closes the
// connection after the response.
//
// The handler sees a request much like net/http would give it: Host is
// removed from r.Header and found in r.Host (from an absolute-form target if
// there is one), Transfer-Encoding is moved to r.TransferEncoding, and
// "Expect: 100-continue" is removed and answered by the first body read.
// Responses carry only what the handler set, plus the framing the server
// owns: Content-Length or chunked Transfer-Encoding, and Connection. The
// ResponseWriter implements http.Flusher and http.Hijacker and works with
// http.NewResponseController; a handler may read the request body while it
// writes the response (full duplex), always.
//
// Connections are kept alive as HTTP/1.1 and HTTP/1.0 prescribe and
// pipelined requests are served in order. Responses always say HTTP/1.1
// (RFC 9110 §6.2); HTTP/1.0 clients get no 1xx and no chunked bodies. After
// a handler returns, up to 256 KiB of unread request body is drained to keep
// the connection; more than that, and the connection is closed.
//
// While a handler runs with its request body fully read, the connection is
// watched in the background, as net/http does, and the request's context is
// cancelled when the client goes away. Like net/http, a client that
// half-closes its side after sending counts as gone; a request whose
// successor is already buffered (pipelining) is not watched.
//
// Timeouts: IdleTimeout for the first byte of each request, HeaderTimeout
// for the rest of its head, none while the body streams (a long upload is
// fine), and none on writes.
package http1
