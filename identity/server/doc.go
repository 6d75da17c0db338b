// Package server is the identity service's gRPC face: Certify checks the
// requested identity, the certificate signing request and the caller's
// proof, signs a leaf with the current issuer, and counts and logs every
// issuance and refusal.
//
// Errors map to gRPC codes as the API says:
//
//	INVALID_ARGUMENT   malformed identity (not spiffe://<td>/ns/<ns>/sa/<sa>
//	                   in the service's trust domain) or CSR (see ca.ValidateCSR)
//	UNAUTHENTICATED    no token, or a token that proves nothing (forged,
//	                   tampered, expired, unknown kind)
//	PERMISSION_DENIED  a valid token that proves another identity, or a
//	                   request for a reserved ID (the service's own)
//	UNAVAILABLE        the issuer cannot sign now (expired), or the proof
//	                   cannot be checked now (Kubernetes API unreachable)
//	INTERNAL           anything else
//
// The request identity and CSR are checked before the token, so a garbage
// request costs no TokenReview call.
package server
