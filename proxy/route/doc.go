// Package route chooses, per request, which of a service's routes serves
// it — the first whose conditions match — and what that route does:
// where the request goes (weighted backends: another service, a subset),
// its timeout, retries and faults, header changes and rewrites. The
// policy (the proto's Policy, which the destination service translates
// from Istio VirtualService and DestinationRule or Gateway API HTTPRoute)
// is compiled once into a Table; Match then costs a few comparisons and
// allocates nothing.
//
// # Use
//
//	t, err := route.Compile(policy) // on every policy update; keep the last good Table on error
//	...
//	rt := t.Match(r, port)          // per request; nil: no route, the service itself
//	if rt != nil {
//		b := rt.PickBackend(nil)      // service, port, subset
//		rt.ApplyRequest(r)            // header ops, rewrites, before forwarding
//		... rt.Timeout(), rt.Retry(), rt.Fault()
//		rt.ApplyResponse(w.Header())  // before writing the response head
//	}
//
// # Matching (Istio's HTTPMatchRequest)
//
// Routes are tried in order; the first that matches serves the request. A
// route with no match conditions matches every request. A route matches
// when any of its HTTPMatch entries does (OR); an entry matches when all
// its conditions do (AND):
//   - path: the request's path as sent (escaped, without the query),
//     case-sensitive;
//   - method: the request method, case-sensitive;
//   - authority: the Host header or :authority, as sent (port included);
//   - headers: each named header is present and its value matches; names
//     are case-insensitive, values case-sensitive; a header sent several
//     times is matched as its values joined by ","; "host" and
//     ":authority" name the authority, ":method" the method, ":path" the
//     path. A KeyMatch without a value asks only for presence;
//   - query_params: the first value of each named parameter matches, as
//     sent (not percent-decoded, as Envoy); the query is scanned only by
//     routes that ask for parameters, and never copied;
//   - without_headers: each such header is absent or its value does not
//     match;
//   - port: when not 0, the service port the request was for.
//
// A StringMatch is exact, prefix (of the string, not of path segments:
// "/api" matches "/apis"), or an RE2 regex matched against the whole
// value. A StringMatch with nothing set matches anything.
//
// # Backends
//
// PickBackend chooses among a route's backends by weight: a backend of
// weight 0 among weighted ones gets nothing; when every weight is 0 the
// backends share equally; a single backend is always chosen. A route
// without backends sends to the service itself (the zero Backend).
//
// # Rewrites and headers
//
// ApplyRequest first removes, then sets, then adds request headers
// (Envoy's order), then rewrites the authority and the path. The path
// rewrite replaces the prefix the matching entry's path prefix matched,
// or the whole path when the entry matched the path exactly, by regex, or
// not at all (Istio's HTTPRewrite.uri); the query is kept. Header
// operations on Host and pseudo-headers are ignored (use the authority
// rewrite) and reported by Table.Warnings.
//
// # Defaults
//
// Timeout 0 means none (Istio's default for HTTP routes). A route without
// a retry policy gets retry.Default (see package retry), without a fault
// a nil *fault.Fault (none). Compile fails on what it cannot honour (a
// regex RE2 rejects, a negative timeout, a bad retry or fault, a rewrite
// that is not a path) and lists what it ignores in Table.Warnings.
package route
