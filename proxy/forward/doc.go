// Package forward is the last HTTP layer of the proxy: it sends a request to
// the chosen endpoint and streams the response back.
//
// It behaves like a transparent reverse proxy: the request keeps its method,
// target, authority and end-to-end headers; hop-by-hop headers (Connection
// and the names it lists, Keep-Alive, Transfer-Encoding, TE other than
// "trailers", Upgrade outside an upgrade, Proxy-Connection) are removed in
// both directions; no X-Forwarded-For, Via or User-Agent is added and
// compression is left alone. Bodies stream both ways with bounded buffers,
// trailers (gRPC's grpc-status among them) are carried, an HTTP/1.1 Upgrade
// (WebSocket) becomes a byte relay after the 101, and an upstream reset
// becomes a reset of the client's stream.
//
// When the proxy itself cannot get a response, it answers 502 (connection
// failed) or 504 (connect timeout) with a "meshlite-proxy-error" header
// giving the reason; a gRPC request gets a gRPC error instead (HTTP 200,
// grpc-status 14 UNAVAILABLE) so gRPC clients see a proper status.
package forward
