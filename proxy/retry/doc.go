// Package retry decides whether and when the proxy sends a failed HTTP
// request again: a route's retry policy compiled from the proto's Retry,
// a retry budget shared by every request to a target, backoff with
// jitter, and a request body that can be replayed.
//
// # Use (by the forwarder)
//
//	pol := route.Retry()                  // *retry.Policy; never nil (Default without a route policy)
//	budget.Deposit()                      // once per request from the client, not per attempt
//	body := retry.NewReplayableBody(r.Body, retry.DefaultMaxBody)
//	for attempt := 1; ; attempt++ {
//		rb, _ := body.Attempt()             // a fresh reader over the same bytes
//		resp, err := send(ctx with pol.PerTryTimeout(), rb)
//		if !pol.ShouldRetry(attempt, r, resp, err) || !body.Replayable() || !budget.Withdraw() {
//			break                            // answer with resp / err
//		}
//		drain and close resp.Body; wait retry.Backoff(attempt, nil) or until ctx ends
//	}
//	body.Close()
//
// # Defaults and the bias
//
// Without a retry policy on the route (Default): up to 2 retries, only
// when the request provably never reached the application — the
// connection to the endpoint could not be established (connect-failure)
// or an HTTP/2 endpoint refused the stream (refused-stream, which
// guarantees the stream was not processed). These are safe for every
// method, POST included. Nothing else is retried by default: a 503 or a
// reset may come after the application acted. (Istio retries 503 and the
// gRPC statuses unavailable and cancelled by default, for every method;
// Linkerd retries nothing unless a route says so. We take the part of
// Istio's default that is always safe.)
//
// A route policy with attempts and no retry_on takes Istio's default
// conditions (connect-failure, refused-stream, unavailable, cancelled,
// retriable-status-codes with 503), but the conditions that may follow
// processing (503, unavailable, cancelled) apply only to idempotent
// methods: GET, HEAD, OPTIONS, TRACE, PUT, DELETE (RFC 9110 §9.2.2).
//
// A route policy that lists retry_on conditions is applied exactly as
// listed, to every method, POST included: the operator asked for it on
// this route (scope it with a method match when that matters), as Istio
// and Linkerd do. attempts 0 disables retries altogether, even
// connect-failure.
//
// A body is retried only while it is replayable: NewReplayableBody keeps
// the bytes read so far, up to DefaultMaxBody (64 KiB, Linkerd's bound);
// a body that grows past the bound is streamed on without a copy and the
// request is no longer retried.
//
// # Conditions (retry_on)
//
// As Envoy reads them:
//   - 5xx: a 5xx response, or no response at all (connect failure,
//     refused stream, reset, per-try timeout);
//   - gateway-error: 502, 503, 504, or no response at all;
//   - reset: no response (disconnect, reset, per-try timeout, connect
//     failure, refused stream);
//   - connect-failure: the connection could not be established;
//   - refused-stream: HTTP/2 REFUSED_STREAM;
//   - retriable-4xx: 409;
//   - retriable-status-codes and numbers ("503", "429"): those statuses;
//     the token alone, without numbers, means 503 (Istio's list);
//   - cancelled, deadline-exceeded, internal, resource-exhausted,
//     unavailable: that grpc-status in the response headers (a
//     trailers-only gRPC response); trailers after a body are too late.
//
// Other tokens (Envoy's retriable-headers, envoy-ratelimited, …) are
// ignored and reported by Policy.Unsupported. A request whose context has
// ended (client gone, route timeout) is never retried, and the first
// attempt counts as attempt 1.
//
// # Budget
//
// A Budget (one per target, shared by all its requests) allows retries up
// to 20 % of the requests of the last 10 seconds, plus 10 retries per
// second whatever the traffic, as Linkerd's default budget and tower's
// Budget do. It keeps ten one-second slots: old deposits and withdrawals
// expire together, so a burst of failures cannot multiply the load on a
// failing service by more than 1.2 for long.
//
// # Backoff
//
// Backoff(attempt) waits a random time in [0, min(250ms, 25ms × (2^attempt − 1))]
// — Envoy's algorithm and defaults: full jitter, so retries of requests
// that failed together spread out.
//
// # Time and randomness
//
// Budget takes an injectable clock and Backoff an injectable
// math/rand/v2 Source (nil: the runtime's generator), so tests are
// deterministic and never sleep.
package retry
