// Package discovery is the proxy's client of the destination service:
// it resolves the targets the proxy's connections and requests go to into
// endpoint sets and policies, and registers the proxy's own workload.
//
// Resolve returns a handle on a shared watch: every connection or
// request to the same target uses one stream to the destination service,
// and the handle's Endpoints is a cheap snapshot read.
//
//	c, err := discovery.New(discovery.Config{Addr: "destination:8086", Source: svids, ServerID: id})
//	defer c.Close()
//	svc, err := c.Resolve(ctx, origDst)
//	defer svc.Release()
//	if svc.NotFound() {
//		// forward to the original destination
//	}
//	eps := svc.Endpoints() // then wait on svc.Changed() for the next set
//
// Availability first: when the destination service cannot be reached the
// client keeps serving the last endpoints it knows, with no expiry, and
// reconnects with capped exponential backoff; a target it has no answer
// for yet is reported NotFound after at most Config.FirstAnswer (500 ms),
// at once when the service is known to be unreachable, so the proxy
// forwards to the original destination instead of stalling. The answer,
// when it comes, fires Changed. A watch nobody holds for
// Config.IdleTimeout (60 s) is closed.
//
// A Registrar registers this proxy's workload when it starts, renews the
// lease at a third of its TTL, and deregisters it on graceful stop within
// a bound.
package discovery
