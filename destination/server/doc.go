// Package server is the destination service's gRPC API
// (meshlite.destination.v1.Destination) over a registry.Source.
//
// Watch streams, per target, the whole endpoint set and policy first (an
// Update with reset), then only what changed: endpoints added or changed
// (by address) in add, endpoints gone in remove, a new policy. A target
// no service has gets an Update with not_found (and reset); the stream
// stays open and the service's endpoints follow if it appears later.
//
// WatchInbound streams a workload's inbound policy (mTLS mode per port,
// authorization policies), selected by its namespace and labels, in full
// at once and again at every change.
//
// Register, Deregister and ReportHealth feed the embedded registry's
// leases and the passive health overlay. With mTLS (Config.Authenticate)
// a workload can only register itself: the workload's identity must be
// the caller's SPIFFE ID, and only that caller can deregister it.
package server
