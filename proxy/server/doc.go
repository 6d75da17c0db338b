// Package server accepts the proxy's connections and runs each through the
// layers of its direction, in order:
//
//	accept → original destination → detect → HTTP/1 | HTTP/2 | opaque TCP
//	HTTP:  observe (metrics, access log) → forward (resolve, connect)
//	TCP:   resolve → connect → relay
//
// One Server serves one listener (outbound or inbound); the direction only
// changes the resolver and the metrics' direction label.
package server
