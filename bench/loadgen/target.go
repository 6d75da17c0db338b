package loadgen

import "context"

// Target is one protocol's client, with its connections already open so that
// connection setup stays out of the measured latency. Implementations:
// HTTP1, HTTP2 (h2c), GRPC and TCP.
type Target interface {
	// Do sends one request over connection conn (0 <= conn < conns) and
	// waits for the complete response. A nil error is a success. Run calls
	// Do on one connection from at most streams goroutines at once.
	Do(ctx context.Context, conn int) error
	// Capacity reports the number of open connections and how many requests
	// one connection carries at once (1 for HTTP/1.1 and TCP).
	Capacity() (conns, streams int)
	// Close closes the connections. Do must not be called afterwards.
	Close() error
}
