// Package pool enforces a destination's connection-pool limits (Istio's
// DestinationRule connectionPool, Envoy's circuit breakers): how many
// connections and requests the proxy keeps in flight to one target (or
// subset), and how many requests may wait. Past a limit a request is
// refused at once rather than queued without bound, so a slow service
// sheds load instead of piling it up in every client.
//
// # Use
//
//	l := pool.New(pool.FromProto(traffic.ConnectionPool)) // one per target/subset, per proxy
//	release, err := l.Acquire(ctx, pool.HTTP1)           // per request (or per TCP connection)
//	var of *pool.OverflowError
//	if errors.As(err, &of) {
//		answer 503 with "Meshlite-Overflow: " + of.Limit, count it
//	}
//	if err != nil { return } // the context ended while waiting
//	defer release()          // exactly once, when the request (connection) ends
//
// # Limits and how they map to the proxy
//
//   - MaxConnections (tcp.maxConnections): concurrent upstream
//     connections. Each opaque TCP connection holds one; each HTTP/1
//     request in flight holds one, since an HTTP/1 connection carries one
//     request at a time. HTTP/2 requests share multiplexed connections
//     (one per endpoint) and hold none.
//   - HTTP1MaxPendingRequests (http.http1MaxPendingRequests): HTTP/1
//     requests waiting for a connection slot when MaxConnections are all
//     busy. Past it a request is refused at once; a waiting request waits
//     until a slot frees (first come, first served) or its context ends.
//     TCP connections never wait: refused at once.
//   - HTTP2MaxRequests (http.http2MaxRequests): concurrent requests, of
//     either HTTP version — Istio documents it as applying to HTTP/1.1
//     too, and Envoy's max_requests counts both.
//   - MaxRequestsPerConnection: not a concurrency limit; the upstream
//     closes a connection after that many requests (ConnCounter helps).
//
// 0 means unlimited for each (Istio's defaults are 2³²−1). Like Envoy's
// circuit breakers the limits are per proxy: with N client proxies a
// service can see N times them. Unlike Envoy they are counted per Limiter
// — the lead decides whether that is per target or per subset.
//
// Acquire never allocates unless it has to wait; a refusal returns one
// of three preallocated errors.
package pool
