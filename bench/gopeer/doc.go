// Package gopeer holds the two in-language peers the bench compares
// meshlite with: a bare io.Copy TCP relay (the L4 floor: the least a
// transparent proxy pair can cost in Go) and a net/http/httputil
// ReverseProxy pair (the obvious Go L7 baseline). Both run as a pair, one
// in the client pod (outbound: forwards to the connection's original
// destination, read with SO_ORIGINAL_DST) and one in the server pod
// (inbound: forwards to the same port on loopback), behind the same
// iptables redirection as meshlite-proxy. Neither encrypts.
//
//	ln, _ := net.Listen("tcp", "127.0.0.1:4140")
//	err := (&gopeer.Relay{Dest: gopeer.OrigDst}).Serve(ctx, ln)
package gopeer
