// Package authz is the inbound proxy's access control: which peers may
// call which operations of the workload (Istio's AuthorizationPolicy) and
// whether a port requires mutual TLS (PeerAuthentication), compiled once
// from the proto's InboundPolicy and evaluated per request without
// allocating.
//
// # Use
//
//	pol, err := authz.Compile(inbound)          // on every WatchInbound update; keep the last good one on error
//	if pol.MTLSFor(port) == authz.ModeStrict && !tls { reset the connection }
//	path, err := authz.NormalizePath(r.URL.EscapedPath())
//	if err != nil || authz.CheckMethod(r.Method) != nil { answer 400 }
//	rewrite the request to path (r.URL.Path, r.URL.RawPath) — what is authorized is what is forwarded
//	d := pol.Authorize(authz.Request{Principal: clientID, TLS: tls, Method: r.Method, Path: path, Port: port})
//	if !d.Allowed { answer 403 "RBAC: access denied" naming d.Policy in the log }
//
// # Semantics (Istio's)
//
// DENY policies are evaluated first: any that matches denies. Then, if
// the workload has at least one ALLOW policy, a request must match one of
// them, else it is denied; a workload without ALLOW policies allows what
// no DENY denied. AUDIT policies never change the decision; the names of
// those that match are reported in Decision.Audit. CUSTOM (external
// authorization) is not supported; an action the proto does not define
// fails Compile. An unspecified action is ALLOW, as in Istio.
//
// A policy matches when any of its rules does; a policy without rules
// matches nothing — so an ALLOW policy without rules denies everything —
// unless match_all is set (Istio's "rules: [{}]"). A rule matches when
// one of its sources (any source if none) and one of its operations (any
// if none) match; within a source or an operation every field present
// must match and every not_ field must not.
//
//   - principals, namespaces: the peer's SPIFFE ID without "spiffe://"
//     ("cluster.local/ns/default/sa/web"; patterns and requests may carry
//     the scheme, it is ignored) and the namespace in it. They exist only
//     over mutual TLS: a plaintext request has none, so principals: ["*"]
//     requires mutual TLS and not_principals: ["*"] matches exactly the
//     plaintext requests.
//   - paths: the normalized path, query excluded.
//   - methods: exact and case-sensitive; CheckMethod rejects methods that
//     are not uppercase (Istio answers them 400), so that "delete" does not
//     escape a DENY on DELETE.
//   - ports: the workload port.
//
// Strings match exactly, or with one "*" at the start (suffix match) or
// the end (prefix match); "*" alone matches any non-empty value. Istio's
// path templates ({*}, {**}) are not supported: they match literally.
//
// # Path normalization
//
// NormalizePath implements Istio's DECODE_AND_MERGE_SLASHES, the
// strictest of its options and the one its security best practices
// recommend: unreserved characters and %2F/%5C are decoded once, "\"
// becomes "/", "//" merge, "." and ".." are resolved, %00 and malformed
// escapes are rejected (400). We chose it over Istio's default (BASE,
// which keeps %2F and does not merge slashes) because it closes the
// bypasses a DENY on "/admin*" would otherwise suffer — "//admin",
// "/public%2F..%2Fadmin", "/%2e%2e/admin" — and because the proxy
// forwards the normalized path, so an application that gives "%2F" a
// meaning of its own receives "/" instead and should opt out with
// PathOptions.KeepEscapedSlashes. Case is never folded.
//
// # mTLS modes
//
// MTLSFor gives a port's mode: its own (port_mtls), else the workload's,
// else PERMISSIVE. An UNSPECIFIED port mode inherits the workload's.
package authz
