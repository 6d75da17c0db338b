// Package mtls is how two meshlite proxies talk: mutual TLS 1.3 with SPIFFE
// X.509 SVIDs, and a small transport header inside the TLS stream.
//
// The client proxy connects straight to the server proxy's inbound port
// with ALPN "meshlite/1", presents its SVID, and accepts the server only if
// its SVID is exactly the identity discovery announced for the endpoint.
// After the handshake it writes a transport header naming the protocol that
// follows (opaque TCP, HTTP/1 or HTTP/2) and the application's port. The
// server proxy recognises meshlite's ALPN in the ClientHello, terminates
// TLS, verifies the client's SVID against the trust bundle, reads the
// header and serves the stream as that protocol toward the application on
// that port. Any other TLS is the application's own and is relayed
// untouched.
//
// Transport header (network byte order):
//
//	magic    "MLT"       3 bytes
//	version  1           1 byte
//	protocol             1 byte: 1 opaque, 2 HTTP/1, 3 HTTP/2
//	port                 2 bytes: the application port on the server side
//	extlen               2 bytes: length of extensions that follow (0 today;
//	                     readers skip what they do not know, up to 1 KiB)
package mtls
