// Package detect tells which protocol a client speaks on a fresh connection
// by reading its first bytes once, with a size bound and deadlines.
//
// The result is one of HTTP/2 (the client connection preface), HTTP/1 (a
// request line), TLS (a ClientHello) or opaque TCP. The bias is availability:
// whatever cannot be recognised — garbage, a partial prefix at the deadline,
// or a client that sends nothing at all — is relayed as opaque TCP, never
// dropped.
//
// A client that sends nothing within a short first-byte window (100 ms by
// default) is taken to be waiting for the server to speak first (MySQL, SMTP,
// a banner): the caller connects upstream at once and relays whatever either
// side says, so such protocols work on undeclared ports without waiting for a
// long detection timeout. Likewise a client that sends a few bytes that
// could still start an HTTP request line and then pauses for the window (a
// one-byte ping) is relayed as opaque TCP then. Memo remembers such
// destinations so their later connections skip detection entirely.
package detect
