// Package fault injects delays and aborts into requests, as a route's
// policy asks (Istio's HTTPFaultInjection): it is compiled once from the
// proto's Fault and decides per request, without allocating.
//
// # Use
//
//	f, err := fault.Compile(route.GetFault()) // nil Fault: nil, nil (no fault)
//	...
//	delay, status, grpcStatus := f.Decide(nil) // nil: the runtime's random generator
//	if delay > 0 { wait delay, or until the request's context ends }
//	if status != 0 { answer status (or, for a gRPC request with grpcStatus != 0,
//	                 HTTP 200 with grpc-status: grpcStatus) instead of forwarding }
//
// A nil *Fault is valid and never injects anything.
//
// # Semantics
//
// Delay and abort are drawn independently, as Envoy's fault filter does: a
// request may be delayed and then aborted. Percentages are in [0, 100]
// with three decimals of precision (12.3455 counts as 12.346 %); 0 — the
// proto's unset value — never injects, 100 always does. A percentage
// outside [0, 100] or NaN is a compile error, as are a negative delay and
// an abort HTTP status outside 200–599.
//
// An abort with only a gRPC status (http_status 0) answers non-gRPC
// requests with 503; an abort with only an HTTP status answers gRPC
// requests with that HTTP status (gRPC clients map it to a gRPC code).
//
// # Randomness
//
// Decide takes a math/rand/v2 Source so tests inject a deterministic one; a
// nil Source uses the runtime's lock-free generator. An injected Source is
// used as is, without a lock: the caller makes it safe for concurrent use
// if it is shared.
package fault
