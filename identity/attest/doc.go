// Package attest decides who a caller of the identity service is, from the
// token it sends with its certificate signing request. An Attestor turns a
// token into the workload SPIFFE ID it proves; FirstOf combines several.
//
// Two attestors exist:
//
//   - JoinTokens: meshlite join tokens, for machines without Kubernetes.
//     A join token is a JWT signed with ES256 by the trust domain's join
//     key (join.key, written by `meshctl identity create`), minted by
//     `meshctl identity token` (MintJoinToken). Header: alg ES256, typ JWT,
//     kid the key's RFC 7638 thumbprint. Claims: sub the SPIFFE ID it
//     proves, aud ["meshlite-identity"], exp, iat, nbf, jti (random).
//     It is checked with go-spiffe's jwtsvid against a jwtbundle of the
//     join public keys (join.pub), so a token signed by another key, or
//     altered, or for another trust domain, is refused. It proves exactly
//     its sub and may be used again until it expires.
//   - Kubernetes: a projected ServiceAccount token with audience
//     identity.meshlite.io, checked with the TokenReview API; the username
//     system:serviceaccount:NS:SA proves spiffe://<td>/ns/NS/sa/SA.
package attest
